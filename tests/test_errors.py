"""One error base, exit codes by class, and the names importable from where they always were."""

import pytest

from deblur import batch, distributed, errors, io, pipeline, tiled
from deblur.errors import DeblurError, UsageError

# (class, where it was importable before errors.py, the built-in it still is, command-line exit code)
CLASSES = [
    (io.ImageFileError, io, ValueError, 1),
    (io.OutputExistsError, io, FileExistsError, 2),
    (batch.InputError, batch, ValueError, 2),
    (batch.Interrupted, batch, Exception, 1),
    (tiled.DaskMissing, tiled, ImportError, 2),
    (tiled.MemoryBudgetError, tiled, ValueError, 2),
    (distributed.ClusterError, distributed, RuntimeError, 1),
    (errors.ArgumentError, errors, ValueError, 2),
    (errors.ArgumentTypeError, errors, TypeError, 2),
]


@pytest.mark.parametrize("cls, module, builtin, code", CLASSES, ids=[c[0].__name__ for c in CLASSES])
def test_every_error_derives_from_the_base_and_keeps_its_old_base(cls, module, builtin, code):
    assert issubclass(cls, DeblurError) and issubclass(cls, builtin)
    assert getattr(module, cls.__name__) is cls
    exc = cls("x.png") if cls is io.OutputExistsError else cls("message")
    assert errors.exit_code(exc) == code


def test_interruptions_are_not_errors():
    """A Ctrl-C must never be swallowed by ``except Exception``."""
    assert issubclass(batch.BatchInterrupted, KeyboardInterrupt) and not issubclass(batch.BatchInterrupted, Exception)


def test_an_unknown_exception_has_no_exit_code():
    assert errors.exit_code(ValueError("a numpy shape mismatch, say")) is None
    assert errors.exit_code(ZeroDivisionError()) is None


def test_warnings_share_a_base():
    import deblur

    assert issubclass(deblur.StepSizeWarning, errors.DeblurWarning)
    assert deblur.StepSizeWarning is errors.StepSizeWarning


def test_library_validation_raises_usage_errors():
    """Bad arguments are the caller's mistake (exit 2 on the command line), and still ValueError/TypeError."""
    import numpy as np

    import deblur

    image = np.zeros((16, 16))
    for kwargs in ({"boundary": "mirror"}, {"max_num_iter": -1}, {"eps": -1.0, "regularizer": "tv"},
                   {"schedule": "exponential", "decay": 2.0}, {"iterations": 3}):
        with pytest.raises(UsageError):
            deblur.solve(image, "box:size=3", **kwargs)
    with pytest.raises(UsageError):
        deblur.solve(image, np.ones((20, 20)))  # PSF larger than the image
    with pytest.raises(UsageError):
        deblur.solve(image.astype(complex), "box:size=3")


def test_a_bad_file_in_a_batch_row_names_a_bug_as_one():
    assert pipeline.error_text(errors.InputError("sizes differ")) == "sizes differ"
    assert "a bug in deblur" in pipeline.error_text(ZeroDivisionError("division by zero"))
