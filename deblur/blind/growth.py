"""The automatic support: grown while the kernel touches it, checked on a larger one when it does not.

See :func:`estimate_growing`; the estimation itself is
:func:`~deblur.blind.coarse_to_fine.estimate_kernel`.
"""

from ..weights import estimate_noise
from .coarse_to_fine import estimate_kernel, spread_over_support
from .confidence import kernel_plausible
from .spectrum import evidence
from .support import extent, odd

__all__ = ["estimate_growing"]


def estimate_growing(y, size, opts, mask):
    """:func:`estimate_kernel`, and with an automatic size, the support grown while it is too small.

    A kernel that reaches the edge of its support was cut there (a long shake on
    a small automatic support) or is noise spread over the whole support; a
    support ``grow_factor`` times larger tells which: a cut path completes and
    stops touching, noise keeps filling it (then the estimate is not used).

    A shake longer than its support is not always cut, though: the descent can
    fold it into a shorter kernel that stays clear of the edge (a 75 px path
    estimated as a 31-53 px one on a 53-69 px support). So a kernel that does not
    touch is checked too (``probe_support``): estimated again on the larger
    support, it should come out no larger than the first support, and then the
    first is kept. When it does not fit there, the first support was too small,
    and the larger one is kept -- if its kernel settles: it does not touch the
    larger support either, or, grown once more, it fits that support. A kernel
    that keeps growing with its support, or breaks into strokes there, is the
    scene's texture, not a path: the first estimate is kept but marked
    (``record.texture``), and :func:`deblur.blind.estimate` does not use it. An implausible
    first estimate (:func:`kernel_plausible`) is not probed (it falls back),
    nor one that spans less than half its support (:func:`_fills_half`). A
    touching kernel whose taps cover much of the support's border
    (:func:`~deblur.blind.coarse_to_fine.spread_over_support`) is spread over the
    support, not cut by it: it is not grown (``record.spread``; it falls back).
    """
    kernel, record = estimate_kernel(y, size, opts, weights=mask)
    growths = [{"support": record.start_support, "touches": bool(record.touches), "size": int(kernel.shape[0])}]
    cap = min(opts.max_grown, odd(min(y.shape) // 3))

    def grow(record):
        support = min(cap, odd(opts.grow_factor * record.start_support))
        if support <= record.start_support:
            return None
        k, r = estimate_kernel(y, None, opts, weights=mask, start_support=support)
        r.elapsed += record.elapsed
        growths.append({"support": support, "touches": bool(r.touches), "size": int(k.shape[0])})
        return k, r

    note = ""
    adopted = False  # a larger support's kernel returned
    if size is None and record.touches:
        for _ in range(opts.grow_steps):
            if spread_over_support(kernel, opts.max_border_cover):
                record.spread = True  # not a cut path: a larger support would only be filled too
                break
            grown = grow(record)
            if grown is None:
                break
            kernel, record = grown
            adopted = True
            if not record.touches:
                break
    elif size is None and opts.probe_support and opts.grow_steps > 0 and _fills_half(kernel, record) and kernel_plausible(kernel)[0]:
        first, first_record = kernel, record
        probe = grow(record)
        if probe is None:
            pass
        elif _span(probe[0]) <= first_record.start_support:
            first_record.elapsed = probe[1].elapsed
            note = f"; checked on a {growths[1]['support']} px support: the kernel fits the first"
        else:
            kernel, record = probe
            if record.touches and opts.grow_steps > 1:
                again = grow(record)
                if again is not None and not again[1].touches and _span(again[0]) <= record.start_support:
                    kernel, record = again
            refusal, texture = _refusal(y, kernel, record, first, mask)
            if refusal:
                first_record.elapsed = record.elapsed
                kernel, record, note = first, first_record, refusal
                record.texture = texture
            else:
                adopted = True
                note = f"; the kernel found on a {growths[1]['support']} px support did not fit the first {growths[0]['support']} px"
    record.growths = growths
    record.message += note
    if adopted:
        record.message += f"; support grown {' -> '.join(str(g['support']) for g in growths)} px"
    return kernel, record


def _refusal(y, larger, record, first, mask):
    """Why the larger support's kernel is not taken over ``first``: ``(note for the message, texture)``; ``("", False)`` when it is.

    ``texture``: the kernel keeps growing with its support, or breaks into strokes
    there. Its size is then set by the support, not by the photo: the scene's
    texture fitted as blur, and the first estimate, from the same texture on a
    smaller support, is not trusted either (:func:`deblur.blind.estimate` falls
    back). Measured on ``benchmarks/blind_scenes.py`` run from each start alone:
    of 14 such outcomes, 3 restored far worse than the photo (grass/levin1 -6.2,
    gravel/levin2 -8.6 and -1.4 dB: 37-61 px kernels for 17-19 px blurs), the
    others gained 0.1-2.1 dB, 4-9 dB short of the true kernel; on the 122 real
    photos of ``blind_sheet.py`` it never happened.
    """
    if record.touches or not kernel_plausible(larger)[0]:
        return "; on larger supports the kernel grew with the support or broke up (texture)", True
    if not _explains_as_well(y, larger, first, mask):
        return "; the kernel found on a larger support explains the photo's power spectrum far worse, the first kept", False
    return "", False


def _explains_as_well(y, larger, first, mask, share=0.5):
    """Whether ``larger`` explains the photo's power spectrum at least ``share`` as well as ``first`` does.

    The gain of each over no blur (:func:`~deblur.blind.spectrum.evidence`). A
    shake folded into the first support explains the fall-off of the spectrum
    worse than the whole path, or about as well (measured: the larger kernel's
    gain 0.95-1.7x the first's on Lai's 75 px shake on 0.4-0.6 MP frames); a path
    with spurious taps added round a right kernel, far worse (0.08x: a 73 px
    kernel for a 31 px shake, 4 dB worse restored). Only a large drop counts:
    the spectrum ranks close kernels poorly (:mod:`deblur.blind.spectrum`).
    """
    if min(y.shape) < 64:
        return True
    gain_larger, gain_first = evidence(y, [larger, first], estimate_noise(y), mask)
    return gain_larger >= share * gain_first if gain_first > 0 else gain_larger > gain_first


def _fills_half(kernel, record):
    """Whether the kernel spans at least half its starting support: room it did not use says the support did not limit it.

    A long shake folded into a too-small support fills most of it (31-53 px
    kernels on 53-69 px supports); a 15 px kernel on a 61 px support had room
    to grow. Checked on a larger support anyway, such a kernel turned into a
    straight 83 px streak on a real night photo (Lai's car5) and rang.
    """
    return 2 * _span(kernel) >= record.start_support


def _span(kernel):
    """Side of the square, centred on the kernel's centre tap, that holds all its taps."""
    return 2 * extent(kernel) + 1
