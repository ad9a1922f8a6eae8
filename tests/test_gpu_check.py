"""The GPU check's dry run (CPU, tiny sizes): the same code path CI can run without a GPU."""

from __future__ import annotations

import json

import pytest

from stylert.benchmarks import gpu_check, gpu_tree


@pytest.fixture(scope="module")
def compact_weights(tmp_path_factory, weights_root):
    out = tmp_path_factory.mktemp("gpu-weights")
    files = (weights_root / "adain" / "vgg_normalised.pth", weights_root / "adain" / "decoder.pth")
    gpu_tree.write_compact_public(out, files, say=lambda _: None)
    return out


def test_dry_run_writes_results_with_parity_for_every_variant(compact_weights, tmp_path, capsys):
    out = tmp_path / "out"
    rc = gpu_check.main(["-o", str(out), "--dry-run", "--weights", str(compact_weights), "--families", "adain"])
    report = json.loads((out / "gpu_check.json").read_text())
    assert rc == 0, report["errors"]
    ran = {(r["variant"], r["size"]) for r in report["rows"]}
    for variant in ("pytorch-eager-fp32", "inductor-fp32", "onnxruntime-cpu"):
        assert {(variant, "32x48"), (variant, "48x32")} <= ran
    for r in report["rows"]:
        assert r["timing"]["count"] >= 2 and r["timing"]["median_ms"] > 0
        assert r["parity"]["ok"] and r["parity"]["min_psnr_db"] == 60.0
        if r["variant"] != "pytorch-eager-fp32":  # a real comparison, not the reference with itself
            assert r["parity"]["psnr_db"] is not None and r["parity"]["max_abs_diff"] > 0
    skipped = {s["variant"]: s["reason"] for s in report["skipped"]}
    assert skipped["tensorrt-fp16"] == "TensorRT plans run on CUDA GPUs" and "inductor-fp16" in skipped
    assert report["settings"]["dry_run"] and report["versions"]["torch"]
    md = (out / "gpu_check.md").read_text()
    assert "| adain | inductor-fp32 | 32x48" in md and "tensorrt-int8: skipped" in md
    assert (out / "latency.png").read_bytes()[:4] == b"\x89PNG"
    # an earlier result is not overwritten
    assert gpu_check.main(["-o", str(out), "--dry-run"]) == 2
    assert "already exists" in capsys.readouterr().err


def test_shipped_family_loads_from_the_compact_encoder(compact_weights):
    torch = pytest.importorskip("torch")
    files = gpu_check.weight_files(compact_weights)
    model = gpu_check.load_family("adain-multilevel", files)
    assert model.family == "adain-multilevel"
    assert next(model.encoder.parameters()).dtype == torch.float32


def test_bad_options_are_one_line(tmp_path, capsys):
    assert gpu_check.main(["-o", str(tmp_path / "o"), "--dry-run", "--sizes", "12xx"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("gpu_check: ") and "\n" not in err
    with pytest.raises(Exception, match="no compact weights"):
        gpu_check.weight_files(tmp_path)


def test_parity_verdicts():
    import numpy as np

    a = np.full((1, 3, 4, 4), 0.5, np.float32)
    assert gpu_check.parity(a, a, "fp32")["psnr_db"] is None and gpu_check.parity(a, a, "fp32")["ok"]
    worse = gpu_check.parity(a + 0.01, a, "fp32")
    assert worse["psnr_db"] == 40.0 and not worse["ok"] and gpu_check.parity(a + 0.01, a, "fp16")["ok"]
    bad = gpu_check.parity(a * np.nan, a, "fp16")
    assert not bad["ok"] and not bad["finite"]
