"""The option schema of a restore: every solver option's name, default, validation and flag, once.

:class:`SolveOptions` is the one place an option is declared. The library's
keyword arguments (:func:`deblur.solve`), the command line's flags (generated
by :mod:`deblur.cli.options`), the file pipeline (:class:`deblur.pipeline.RestoreOptions`
holds one as it is) and the settings record of a result all read it. To add an
option: declare it here, and use it where it acts (:mod:`deblur.api` or the
solver).

The names users may pass for each choice live here too. This module imports
nothing of deblur but its errors, so the command line can show defaults
without loading the engine.
"""

import math
import numbers
from dataclasses import dataclass, field, fields, replace

from .errors import ArgumentError, ArgumentTypeError

__all__ = [
    "SolveOptions",
    "REGULARIZERS",
    "BOUNDARIES",
    "SCHEDULES",
    "MOMENTA",
    "VARIANTS",
    "PRECISIONS",
    "PRECONDITIONERS",
    "COLOR_SPACES",
    "CLIPPED",
    "DEFAULTS",
    "check_choice",
    "positive_number",
]

REGULARIZERS = ("none", "tikhonov", "tv", "hyper-laplacian")
BOUNDARIES = ("valid", "reflect", "periodic")
SCHEDULES = ("auto", "constant", "exponential", "step", "inverse-time", "cosine", "armijo", "bb")
MOMENTA = ("none", "heavy-ball", "nesterov")
VARIANTS = ("full", "minibatch", "stochastic")
PRECISIONS = ("float32", "float64")
PRECONDITIONERS = ("fourier", "none")
COLOR_SPACES = ("opponent", "rgb", "luma")
CLIPPED = ("auto", "ignore", "keep")


def check_choice(name, value, choices):
    """Return ``value`` if it is one of ``choices``, else raise an ArgumentError listing them."""
    if not isinstance(value, str) or value not in choices:
        raise ArgumentError(f"unknown {name} {value!r}; choose one of: {', '.join(choices)}")
    return value


def positive_number(name, value, allow_none=True, allow_zero=False):
    """``value`` as a float > 0 (or >= 0), or None where allowed; else an ArgumentError."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ArgumentError(f"{name} must be a finite number, got {value!r}")
    if value < 0 or (value == 0 and not allow_zero):
        raise ArgumentError(f"{name} must be {'>= 0' if allow_zero else '> 0'}, got {value!r}")
    return float(value)


def _count(name, value, allow_none):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ArgumentError(f"{name} must be a non-negative integer{' or None' if allow_none else ''}, got {value!r}")
    return int(value)


def _option(default, *, check=None, flag=None, kind=None, help="", **cli):
    """A schema field. ``check(name, value)`` validates and normalises; ``flag`` is its command-line
    name (None: library only); ``kind`` and ``cli`` (choices, min, max, min_open, metavar, flag_value)
    say what the command line accepts."""
    metadata = {"check": check, "flag": flag, "kind": kind, "help": help, **cli}
    return field(default=default, metadata=metadata)


def _choice(choices):
    return lambda name, value: check_choice(name, value, choices)


def _weight(name, value):
    if isinstance(value, str) and value == "auto":
        return value
    return positive_number(name, value, allow_none=False, allow_zero=True)


def _lr(name, value):
    return positive_number("lr (step size)", value)


def _max_num_iter(name, value):
    return _count(name, SolveOptions.max_num_iter if value is None else value, allow_none=False)


def _batch_fraction(name, value):
    value = positive_number(name, value, allow_none=False)
    if value > 1:
        raise ArgumentError(f"{name} must be in (0, 1], got {value!r}")
    return value


def _at_least_zero(name, value):
    return positive_number(name, value, allow_zero=True)


def _seed(name, value):
    if value is not None and (isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0):
        raise ArgumentError(f"seed must be a non-negative integer or None, got {value!r}")
    return value


@dataclass(frozen=True)
class SolveOptions:
    """How to restore an image: the options of :func:`deblur.solve`, validated when made.

    Each field's default is the library's; ``dataclasses.fields`` gives, per
    field, its command-line flag and help (``metadata``). See
    :func:`deblur.solve` for what each option does.

    Examples
    --------
    >>> from deblur.options import SolveOptions
    >>> SolveOptions(max_num_iter=50).tol
    0.001
    >>> SolveOptions(boundary="mirror")
    Traceback (most recent call last):
    ...
    deblur.errors.ArgumentError: unknown boundary 'mirror'; choose one of: valid, reflect, periodic
    """

    regularizer: str = _option("hyper-laplacian", flag="--regularizer", kind="choice", choices=REGULARIZERS,
                               help="Penalty on image gradients.")
    weight: object = _option("auto", check=_weight, flag="--weight", kind="weight", record=False,
                             help="Regularisation weight lambda; 'auto' sets it from the estimated noise.")
    boundary: str = _option("valid", check=_choice(BOUNDARIES), flag="--boundary", kind="choice", choices=BOUNDARIES,
                            help="How the blur treats the image border.")
    schedule: str = _option("auto", check=_choice(SCHEDULES), flag="--schedule", kind="choice", choices=SCHEDULES,
                            help="Step-size schedule. 'armijo' and 'bb' choose steps themselves; see docs/cli.md.")
    lr: object = _option(None, check=_lr, flag="--lr", kind="float", min=0, min_open=True,
                         help="Step size (learning rate) [default: 1/L]. Above 2/L plain descent diverges.")
    momentum: str = _option("nesterov", check=_choice(MOMENTA), flag="--momentum", kind="choice", choices=MOMENTA)
    preconditioner: str = _option("fourier", check=_choice(PRECONDITIONERS), flag="--preconditioner", kind="choice",
                                  choices=PRECONDITIONERS, help="Precondition the gradient.")
    variant: str = _option("full", check=_choice(VARIANTS), flag="--variant", kind="choice", choices=VARIANTS,
                           help="full: the exact gradient each step; minibatch/stochastic: cheaper, noisier gradients "
                                "from random parts of the image (--seed repeats a run).")
    max_num_iter: int = _option(30, check=_max_num_iter, flag="--iterations", kind="int", min=1, metavar="N",
                                help="Iteration limit.")
    tol: object = _option(1e-3, check=_at_least_zero, flag="--tol", kind="float", min=0,
                          help="Stop when the relative change of the cost falls below this.")
    gtol: object = _option(None, check=_at_least_zero, flag="--gtol", kind="float", min=0,
                           help="Also stop when the gradient norm falls below this fraction of its first value.")
    time_limit: object = _option(None, check=positive_number, flag="--time-limit", kind="float", min=0,
                                 min_open=True, metavar="SECONDS", help="Stop after this many seconds.")
    clip: bool = _option(True)
    precision: str = _option("float32", check=_choice(PRECISIONS), flag="--float64", kind="flag",
                             flag_value="float64", help="Compute in double precision (slower; default float32).")
    seed: object = _option(None, check=_seed, flag="--seed", kind="int", min=0,
                           help="Random seed (minibatch/stochastic variants).")
    batch_fraction: float = _option(0.25, check=_batch_fraction, flag="--batch-fraction", kind="float", min=0,
                                    max=1, min_open=True, help="Share of the image per step for minibatch/stochastic.")
    decay: object = _option(None, flag="--decay", kind="float", min=0, min_open=True,
                            help="Parameter of the decaying schedules (exponential, step, inverse-time, cosine).")
    eps: object = _option(None)
    p: float = _option(0.8)
    clipped: str = _option("auto", check=_choice(CLIPPED), flag="--clipped", kind="choice", choices=CLIPPED,
                           help="Pixels at the white level: 'ignore' fits them one-sided (a light may be brighter "
                                "than white: lamps, stars), 'keep' as observed (a scene at white: paper); 'auto': keep "
                                "them unless the restore then does not explain the photo round them.", record=False)
    color_space: str = _option("opponent", check=_choice(COLOR_SPACES))

    def __post_init__(self):
        for f in fields(self):
            check = f.metadata["check"]
            if check is not None:
                object.__setattr__(self, f.name, check(f.name, getattr(self, f.name)))

    @classmethod
    def from_kwargs(cls, **kwargs):
        """The options of a :func:`deblur.solve` call; an unknown keyword is a TypeError, as in a signature."""
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(kwargs) - names)
        if unknown:
            raise ArgumentTypeError(
                f"solve() got an unexpected keyword argument {unknown[0]!r}; the options are: {', '.join(sorted(names))}"
            )
        return cls(**kwargs)

    def chosen(self):
        """``{name: value}`` of the options that differ from their defaults."""
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) != f.default}

    def replace(self, **changes):
        """A copy with ``changes``, validated again."""
        return replace(self, **changes)

    def settings(self, *, color_space, eps, p, decay):
        """The settings record of a result: the options as the solve used them, in schema order.

        ``schedule`` is 'constant' where ``lr`` was given with 'auto'; the
        other arguments are what only the solve knows (the colour basis used,
        the regulariser's smoothing, the schedule's decay). Fields marked
        ``record=False`` (the weight, recorded apart as ``result.weight``) are
        left out.
        """
        known = {"schedule": self.resolved_schedule, "eps": eps, "p": p, "decay": decay, "color_space": color_space}
        return {f.name: known.get(f.name, getattr(self, f.name)) for f in fields(self) if f.metadata.get("record", True)}

    @property
    def resolved_schedule(self):
        """The schedule run: an explicit ``lr`` with 'auto' means 'constant' (it replaces eta = 1/L)."""
        return "constant" if self.lr is not None and self.schedule == "auto" else self.schedule


# Defaults of deblur.solve by name, read from the schema (the command line's --help shows them).
DEFAULTS = {f.name: f.default for f in fields(SolveOptions)}
