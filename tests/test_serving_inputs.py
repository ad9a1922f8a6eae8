"""Serving any repository path a user can type, contents of any size stylize takes, and never leaving
the python backend's shared memory behind (a real tritonserver, as tests/test_serving.py)."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import psnr
from PIL import Image
from stylert.cli import main

from test_serving import ENV, serving_ready  # noqa: F401  (the fixture that skips without a server)


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def _start(repo):
    from stylert.serving.server import TritonServer, free_port

    server = TritonServer(repo, python_env=ENV, http_port=free_port(), grpc_port=free_port(), metrics_port=free_port())
    return server.start(timeout=120)


def _shm_gone(names) -> bool:
    return not any(os.path.exists(f"/dev/shm/{n}") for n in names)


@pytest.mark.parametrize("folder", ["repo sp", "two  spaces/and more", "tab\there", "it's (a) repo", "ünï cødé"])
def test_any_repository_path_is_served_and_leaves_no_shared_memory(folder, serving_ready, exports, tmp_path):
    """A repository under a path with spaces, tabs, quotes or non-ASCII letters serves (the python
    backend's stub could not parse such paths); contents of 8x8 and below come back at their size,
    equal to the runtime's; after stop, none of the server's shared-memory regions is left."""
    _, export_dir = exports("adain")
    repo = tmp_path / folder
    assert invoke("triton", export_dir, "-o", repo, "--backend", "python").exit_code == 0
    server = _start(repo)
    try:
        regions = set(server._shm)
        for h, w in [(1, 1), (5, 7), (8, 8), (3, 40)]:
            rng = np.random.default_rng(h * 100 + w)
            Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(tmp_path / "c.png")
            Image.fromarray(rng.integers(0, 255, (w, h, 3), dtype=np.uint8)).save(tmp_path / "s.png")
            common = ["-c", tmp_path / "c.png", "-s", tmp_path / "s.png", "--content-size", 0, "--style-size", 0]
            served = invoke("stylize", *common, "-o", tmp_path / "served.png", "--server", server.http_url,
                            "--overwrite")
            assert served.exit_code == 0, served.output
            local = invoke("stylize", *common, "-o", tmp_path / "local.png", "--engine", export_dir, "--overwrite")
            assert local.exit_code == 0, local.output
            a = np.asarray(Image.open(tmp_path / "served.png"), np.float32) / 255
            b = np.asarray(Image.open(tmp_path / "local.png"), np.float32) / 255
            assert a.shape == b.shape == (h, w, 3)
            assert psnr(a, b) >= 40.0, (h, w)
    finally:
        server.stop()
    assert regions and _shm_gone(regions | server._shm)


def test_a_failed_start_leaves_no_shared_memory(serving_ready, exports, tmp_path):
    """A model that fails to load: one error naming the repository, and the regions its stubs made removed."""
    from stylert.errors import StylertError
    from stylert.serving.server import TritonServer, free_port

    _, export_dir = exports("adain")
    repo = tmp_path / "broken repo"
    assert invoke("triton", export_dir, "-o", repo, "--backend", "python").exit_code == 0
    with open(repo / "stylize" / "1" / "model.py", "a", encoding="utf-8") as f:
        f.write("\nraise RuntimeError('broken on purpose')\n")
    server = TritonServer(repo, python_env=ENV, http_port=free_port(), grpc_port=free_port(), metrics_port=free_port())
    with pytest.raises(StylertError, match="broken repo"):
        server.start(timeout=60)
    assert _shm_gone(server._shm)
    shutil.rmtree(repo)
