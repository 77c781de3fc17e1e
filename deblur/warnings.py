"""Warning classes of deblur (defined in :mod:`deblur.errors`)."""

from .errors import DeblurWarning, StepSizeWarning

__all__ = ["DeblurWarning", "StepSizeWarning"]
