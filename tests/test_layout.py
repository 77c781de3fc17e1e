"""The layout by concern, and the direction of imports between the layers, checked from the source.

Each module of deblur belongs to one layer; a module may import its own
layer and the layers below it, never one above (imports inside functions
count too). Only the command line speaks click, and nothing imports it.
"""

import ast
import pathlib

import pytest

import deblur

PACKAGE = pathlib.Path(deblur.__file__).parent

# Lowest first. A module's layer is that of its longest matching name (blind.* is imaging).
LAYERS = {
    "base": ["errors", "options", "result", "warnings", "_config", "atomic"],
    "core": ["_kernels", "_kernels_jit", "_kernels_blur", "_kernels_penalty", "_kernels_step", "_fastpow",
             "_blind_kernels", "operators", "spectral", "preconditioners", "regularizers", "schedules", "solver",
             "_solver_problem", "_solver_search", "_solver_stop", "coarse"],
    "imaging": ["images", "color", "psf", "simulate", "weights", "clipped", "blind"],
    "library": ["api", "channels"],
    "tiling": ["memory", "tiles", "tiled"],
    "application": ["io", "_image_write", "_png16", "pipeline", "summary", "plot", "report", "_report_html"],
    "scale-out": ["batch", "distributed"],
    "cli": ["cli", "__main__"],
}
RANK = {layer: i for i, layer in enumerate(LAYERS)}
# The package's front (deblur/__init__.py) re-exports from every layer, lazily.
FACADE = "__init__"
MAX_LINES = 400


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        yield (".".join(parts) or FACADE), path


def _layer(name):
    head = name.split(".")[0]
    for layer, names in LAYERS.items():
        if head in names:
            return layer
    raise AssertionError(f"deblur/{name} belongs to no layer: add it to LAYERS in tests/test_layout.py")


def _imports(name, path):
    """The deblur modules ``name`` imports (absolute names below deblur), and every other top-level import."""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)] if node.level > 1 else package
                target = ".".join(base + ([node.module] if node.module else []))
                if node.module is None:  # from . import a, b: each is a module
                    found += [f"deblur.{target}.{a.name}".replace("deblur..", "deblur.").strip(".") for a in node.names]
                    continue
                found.append(f"deblur.{target}" if target else "deblur")
            else:
                found.append(node.module)
    return found


MODULES = [(n, p) for n, p in _modules() if n != FACADE]


def test_every_module_has_a_layer():
    for name, _ in MODULES:
        _layer(name)


@pytest.mark.parametrize("name, path", MODULES, ids=[n for n, _ in MODULES])
def test_imports_point_down(name, path):
    mine = RANK[_layer(name)]
    for target in _imports(name, path):
        if not target.startswith("deblur.") or target == "deblur":
            continue
        other = target[len("deblur."):]
        if other.split(".")[0] in ("__version__",):
            continue
        layer = _layer(other)
        assert RANK[layer] <= mine, f"deblur/{name} ({_layer(name)}) imports deblur.{other} ({layer}), a layer above"


@pytest.mark.parametrize("name, path", MODULES, ids=[n for n, _ in MODULES])
def test_only_the_command_line_speaks_click(name, path):
    if _layer(name) == "cli":
        return
    for target in _imports(name, path):
        assert not (target == "click" or target.startswith("click.")), f"deblur/{name} imports {target}"
        assert not (target == "deblur.cli" or target.startswith("deblur.cli.")), f"deblur/{name} imports the command line"


@pytest.mark.parametrize("name, path", MODULES, ids=[n for n, _ in MODULES])
def test_modules_stay_short(name, path):
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"deblur/{name} has {lines} lines; split it by concern (at most about {MAX_LINES})"


def test_the_layering_test_can_fail(tmp_path, monkeypatch):
    """A core module importing the command line is caught (the checker is not vacuous)."""
    bad = tmp_path / "solver.py"
    bad.write_text("def f():\n    from .cli import main\n    from . import pipeline\n")
    targets = _imports("solver", bad)
    assert "deblur.cli" in targets and "deblur.pipeline" in targets
    assert RANK[_layer("pipeline")] > RANK[_layer("solver")]


def test_console_entry_point_is_the_cli_package():
    from deblur.cli import main

    assert main.name == "main" and set(main.commands) == {"restore", "batch", "psf", "blur"}
