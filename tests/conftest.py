"""Shared fixtures: the public AdaIN weights and images in ../shared (CI has them beside the clone).

Tests that need them skip where ../shared is absent, unless STYLERT_REQUIRE_SHARED=1 (set by
.ci/run), where a missing ../shared fails the run instead of skipping silently.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
sys.path.insert(0, str(Path(__file__).resolve().parent))  # reference_impls


def _need(path: Path, what: str) -> Path:
    if not path.exists():
        message = f"{what} not found at {path}"
        if os.environ.get("STYLERT_REQUIRE_SHARED"):
            pytest.fail(message + " (STYLERT_REQUIRE_SHARED is set)")
        pytest.skip(message)
    return path


@pytest.fixture
def torch_one_thread():
    """torch on one thread for the test (restored after it). Small CPU training steps run faster so: with
    OpenMP's busy-waiting, two threads on a machine whose cores are shared with other work are up to 10x
    slower than one (the results are the same either way). Use with
    ``pytestmark = pytest.mark.usefixtures("torch_one_thread")``."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def weights_root() -> Path:
    root = Path(os.environ.get("STYLERT_WEIGHTS") or SHARED / "weights")
    _need(root / "adain" / "decoder.pth", "the public AdaIN weights")
    return root


@pytest.fixture(scope="session")
def adain_files(weights_root) -> tuple[Path, Path]:
    return weights_root / "adain" / "vgg_normalised.pth", weights_root / "adain" / "decoder.pth"


@pytest.fixture(scope="session")
def adain_model(adain_files):
    from stylert.models.checkpoints import load_model

    return load_model(adain_files, "adain")


@pytest.fixture(scope="session")
def shared_images() -> Path:
    return _need(SHARED / "images", "the shared test images")


@pytest.fixture
def use_shared_weights(monkeypatch, weights_root):
    """Point the weights lookup at ../shared/weights (and away from any user cache)."""
    monkeypatch.setenv("STYLERT_WEIGHTS", str(weights_root))
    monkeypatch.setenv("STYLERT_CACHE", "/nonexistent-stylert-cache")
    return weights_root


from stylert.core.checks import psnr  # noqa: E402,F401  (the one PSNR; tests import it from here)


def white_runs(band) -> list[int]:
    """Widths of the runs of all-white pixel columns of ``band`` between its first and last non-white column
    (``band``: uint8 [H, W, 3]; a grid's row, e.g.)."""
    import numpy as np

    white = (band == 255).all(axis=(0, 2))
    inked = np.flatnonzero(~white)
    inside = white[inked[0] : inked[-1] + 1].astype(np.int8)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], inside, [0]])))
    return [int(w) for w in edges[1::2] - edges[::2]]


@pytest.fixture(scope="session")
def exports(tmp_path_factory):
    """family -> (model, export dir): one fp32 export per family with synthetic weights, made once
    per test session and shared by every test file (exports take seconds each)."""
    made = {}

    def get(family: str):
        if family not in made:
            from stylert.export import export_model
            from stylert.models import create_model, he_init

            model = he_init(create_model(family))
            m = model.size_multiple
            out = tmp_path_factory.mktemp(f"shared-export-{family}") / "out"
            export_model(model, out, sizes=[(4 * m, 6 * m)])
            made[family] = (model, out)
        return made[family]

    return get


@pytest.fixture(scope="session")
def adain_export(tmp_path_factory, adain_model):
    """The public AdaIN weights exported (fp32) once per session."""
    from stylert.export import export_model

    out = tmp_path_factory.mktemp("adain-export") / "adain"
    export_model(adain_model, out, sizes=[(128, 192)])
    return out


def invoke(*args, env=None):
    """The ``stylert`` command line in-process (arguments made strings)."""
    from click.testing import CliRunner
    from stylert.cli import main

    return CliRunner().invoke(main, [str(a) for a in args], env=env)


def one_line_error(result) -> str:
    """The error a user sees: non-zero exit, no traceback, exactly one line with "Error"; returns it."""
    assert result.exit_code != 0, result.output
    assert "Traceback" not in result.output, result.output
    errors = [line for line in result.output.splitlines() if "Error" in line]
    assert len(errors) == 1, result.output
    return errors[0]
