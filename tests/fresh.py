"""Run code in a fresh interpreter and see which modules it loaded (start-up tests)."""

import ast
import subprocess
import sys


def run_fresh(code, prefixes):
    """Run ``code`` in a new Python process; return ``(its output, sorted loaded modules starting with prefixes)``.

    Fails the test, with the process's stderr, when the code raises.
    """
    script = f"{code}\nimport sys as _sys\nprint('loaded:', sorted(m for m in _sys.modules if m.startswith({tuple(prefixes)!r})))\n"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    text, _, loaded = out.stdout.rpartition("loaded: ")
    return text, ast.literal_eval(loaded.strip())
