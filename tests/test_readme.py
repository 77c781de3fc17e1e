"""README.md's library example runs as written and does what it says."""

import pathlib
import re

import numpy as np

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"


def test_library_example_runs(tmp_path, monkeypatch):
    code = re.search(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S).group(1)
    monkeypatch.chdir(tmp_path)
    namespace = {}
    exec(compile(code, str(README), "exec"), namespace)  # noqa: S102 - our own documentation
    assert namespace["sharp"].shape == namespace["blurry"].shape
    assert namespace["out"].dtype == np.uint8 and namespace["out"].shape == namespace["rgb"].shape
    assert (tmp_path / "history.csv").read_text().startswith("iteration,cost,")
    # the restored image is closer to the scene than the blurred one
    kh, kw = namespace["kernel"].shape
    top, left = kh - 1 - kh // 2, kw - 1 - kw // 2
    h, w = namespace["blurry"].shape
    scene = namespace["scene"][top : top + h, left : left + w]
    assert np.mean((namespace["sharp"] - scene) ** 2) < 0.5 * np.mean((namespace["blurry"] - scene) ** 2)


def test_quick_start_commands_name_files_that_exist():
    text = README.read_text(encoding="utf-8")
    root = README.parent
    for path in re.findall(r"sample_images/[\w.]+\.png", text):
        assert (root / path).is_file(), path
