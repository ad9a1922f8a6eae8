"""The light install: the base dependencies run exports; a command that needs a missing extra says which."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_base_install_has_no_torch_and_the_extras_bring_it():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    base = " ".join(project["dependencies"])
    assert "torch" not in base and "onnxruntime" in base and "openvino" in base
    extras = project["optional-dependencies"]
    assert any(d.startswith("torch") for d in extras["export"])
    for name in ("train", "evaluate", "all"):
        assert "stylert[export" in " ".join(extras[name]) or any(d.startswith("torch") for d in extras[name])


@pytest.mark.parametrize("args,extra", [
    (["export", "-o", "{tmp}/x"], "export"),
    (["stylize", "-c", "{img}", "-s", "{img}", "-o", "{tmp}/o.png", "--content-size", "32", "--style-size", "32"],
     "export"),
])
def test_a_command_that_needs_a_missing_extra_says_which(args, extra, tmp_path, shared_images):
    img = shared_images / "content" / "cornell.jpg"
    argv = [a.format(tmp=tmp_path, img=img) for a in args]
    code = ("import sys; sys.modules['torch'] = None\n"  # as if torch were not installed
            "import warnings\n"  # a deprecated click API used by stylert's own code is an error
            "warnings.filterwarnings('error', category=DeprecationWarning, module=r'stylert(\\.|$)')\n"
            "from stylert.cli import main\n"
            f"main({argv!r})\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={"PYTHONPATH": str(ROOT.parent), "PATH": "/usr/bin:/bin"})
    lines = [ln for ln in done.stderr.splitlines() if ln.startswith("Error")]
    assert done.returncode == 1 and len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert f"`stylert {args[0]}` needs torch" in lines[0] and f"pip install 'stylert[{extra}]'" in lines[0]
    assert not (tmp_path / "o.png").exists() and not (tmp_path / "x").exists()
