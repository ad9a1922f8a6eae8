"""The prepared GPU training command (``stylert.benchmarks.gpu_train``), dry-run on the CPU: a small subset
of the shared images and the float16 public weights prepared, then `run` for a few seconds."""

from __future__ import annotations

import json

import pytest
from stylert.benchmarks import gpu_train
from stylert.models.trained import read_shipped

pytestmark = pytest.mark.usefixtures("torch_one_thread")


def test_prepare_and_run_on_the_cpu(use_shared_weights, shared_images, tmp_path):
    data = tmp_path / "data"
    manifest = gpu_train.prepare(data, shared_images, content_count=3, style_count=3, size=40, say=lambda _: None)
    assert manifest["files"]["content"]["count"] == 3 and manifest["files"]["style"]["count"] == 3
    assert sorted(manifest["weights"]) == ["decoder.safetensors", "vgg_normalised.safetensors"]
    assert manifest["weights"]["vgg_normalised.safetensors"] < 30e6  # float16, through relu5_1
    assert all(p.suffix == ".jpg" for p in (data / "content").iterdir())

    args = gpu_train.train_args(data, tmp_path / "x", "sanet", 10, 8, 256, "auto", 500, 4)
    assert "--amp" in args and "--from-pretrained" in args and args[args.index("--max-minutes") + 1] == "10"
    assert args[args.index("--transform-lr-scale") + 1] == "0.01" and args[args.index("--lr") + 1] == "1e-05"

    out = tmp_path / "out"
    report = gpu_train.run(data, out, "sanet", minutes=0.001, batch_size=1, size=32, device="cpu",
                           checkpoint_every=1, workers=0, warmup=0, say=lambda _: None)
    assert report["steps"] >= 1 and report["iterations_per_s"] > 0 and report["device"] == "cpu"
    saved = json.loads((out / "speed.json").read_text())
    assert saved["steps"] == report["steps"] and saved["shipped"]["size"] < 20e6
    assert [p.name for p in (out / "run" / "checkpoints").iterdir()] == ["last.pt"]
    meta, tensors = read_shipped(out / "shipped" / "sanet.safetensors")
    assert meta["family"] == "sanet" and meta["training"]["amp"] in (True, False)
    assert "steps x batch 1" in saved["shipped"]["budget"]


def test_run_refuses_an_unprepared_folder(tmp_path):
    with pytest.raises(SystemExit, match="prepare"):
        gpu_train.run(tmp_path, tmp_path / "out", "sanet", 1, 1, 32, "cpu", 1, 0, 0, say=lambda _: None)
