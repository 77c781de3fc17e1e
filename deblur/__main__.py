"""``python -m deblur``: the same command line as ``deblur``."""

from .cli import main

if __name__ == "__main__":
    main(prog_name="deblur")
