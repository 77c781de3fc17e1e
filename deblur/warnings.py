"""Warning classes of deblur."""


class StepSizeWarning(UserWarning):
    """An explicit step size is above the stability limit 2/L of gradient descent."""
