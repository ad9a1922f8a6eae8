"""Shipped weights: a training checkpoint -> float16 safetensors (decoder + transform) -> the model again,
verified by SHA-256, used by `stylert stylize/export --model FAMILY` with no --checkpoint.

The checkpoints come from 2-step runs at 64 px on the shared images (made here, in tmp dirs).
"""

from __future__ import annotations

import json
import struct

import pytest
import torch
from click.testing import CliRunner
from stylert.cli import main
from stylert.core import shipped as registry
from stylert.errors import CheckpointError, WeightsError
from stylert.models import trained
from stylert.models.checkpoints import load_model
from stylert.training.run import RunOptions, TrainConfig, train

pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.fixture(scope="module")
def runs(tmp_path_factory, weights_root, shared_images):
    """family -> last.pt of a 2-step --from-pretrained run (batch 1, 64 px crops)."""
    mp = pytest.MonkeyPatch()
    mp.setenv("STYLERT_WEIGHTS", str(weights_root))
    mp.setenv("STYLERT_CACHE", "/nonexistent-stylert-cache")
    out = {}
    try:
        for family in ("adain-multilevel", "sanet-multilevel"):
            folder = tmp_path_factory.mktemp(family)
            config = TrainConfig(family, str(shared_images / "content"), str(shared_images / "style"), iterations=2,
                                 batch_size=1, image_size=64, crop_size=64, from_pretrained=True)
            result = train(config, RunOptions(str(folder), checkpoint_every=2, samples=0, workers=0, device="cpu",
                                              progress=False), log=lambda _: None)
            out[family] = result.last_checkpoint
    finally:
        mp.undo()
    return out


def _stylize(model, content, style):
    with torch.no_grad():
        return model.decode(model.transfer(model.encode(content), model.encode_style(style), 1.0))


@pytest.mark.parametrize("family", ["adain-multilevel", "sanet-multilevel"])
def test_ship_then_load_gives_the_checkpoint_model_in_float16(family, runs, tmp_path, use_shared_weights):
    path, entry = trained.ship_checkpoint(runs[family], root=tmp_path)
    assert path == tmp_path / f"{family}.safetensors" and 1_000_000 < path.stat().st_size < 20_000_000
    assert entry.size == path.stat().st_size and entry.family == family
    assert "2 steps x batch 1" in entry.budget and "64 px crops" in entry.budget and "--from-pretrained" in entry.source
    registry = json.loads((tmp_path / "registry.json").read_text())
    assert registry["models"][family]["sha256"] == entry.sha256

    # A plain safetensors file: 8-byte header length, JSON header, float16 data; no encoder tensors.
    raw = path.read_bytes()
    header = json.loads(raw[8:8 + struct.unpack("<Q", raw[:8])[0]])
    tensors = {k: v for k, v in header.items() if k != "__metadata__"}
    assert {v["dtype"] for v in tensors.values()} == {"F16"}
    assert tensors and not any(k.startswith("encoder.") for k in tensors)
    assert json.loads(header["__metadata__"]["stylert"])["step"] == 2

    original = load_model([runs[family]], family)
    shipped = trained.load_shipped(family, root=tmp_path)
    assert shipped.config == original.config and next(shipped.parameters()).dtype == torch.float32
    rounded = load_model([runs[family]], family)
    with torch.no_grad():
        for name, p in rounded.named_parameters():
            if not name.startswith("encoder."):
                p.copy_(p.half().float())
        for (name, a), b in zip(shipped.state_dict().items(), rounded.state_dict().values()):
            assert torch.equal(a, b), name
    content = torch.rand(1, 3, 64, 80, generator=torch.Generator().manual_seed(0))
    style = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    assert torch.equal(_stylize(shipped, content, style), _stylize(rounded, content, style))
    # float16 weights change the output by little: at most 2% of the 0..1 range here.
    assert (_stylize(shipped, content, style) - _stylize(original, content, style)).abs().max() < 0.02


def test_shipped_files_are_verified(runs, tmp_path, use_shared_weights):
    path, entry = trained.ship_checkpoint(runs["adain-multilevel"], root=tmp_path)
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(WeightsError, match="SHA-256 mismatch"):
        trained.load_shipped("adain-multilevel", root=tmp_path)
    path.write_bytes(bytes(data[:-10]))
    with pytest.raises(WeightsError, match="size mismatch"):
        trained.load_shipped("adain-multilevel", root=tmp_path)
    assert [ok for _, _, ok in registry.status(tmp_path)] == [False]
    path.unlink()
    assert [ok for _, _, ok in registry.status(tmp_path)] == [None]
    with pytest.raises(WeightsError, match="no shipped weights for 'sanet'"):
        trained.load_shipped("sanet", root=tmp_path)


def test_only_training_checkpoints_ship(tmp_path, weights_root):
    with pytest.raises(CheckpointError, match="not a stylert training checkpoint"):
        trained.ship_checkpoint(weights_root / "adain" / "decoder.pth", root=tmp_path)
    assert not (tmp_path / "registry.json").exists()


def test_cli_ships_lists_and_stylizes_without_checkpoint(runs, tmp_path, use_shared_weights, shared_images,
                                                         monkeypatch):
    monkeypatch.setattr(registry, "SHIPPED_DIR", tmp_path / "shipped")
    before = CliRunner().invoke(main, ["stylize", "--model", "adain-multilevel", "-c", shared_images / "content" /
                                       "cornell.jpg", "-s", shared_images / "style" / "sketch.png", "-o",
                                       tmp_path / "none.png", "--content-size", "64", "--style-size", "64"])
    assert before.exit_code != 0 and "no public or shipped weights" in before.output

    shipped = CliRunner().invoke(main, ["weights", "ship", str(runs["adain-multilevel"])])
    assert shipped.exit_code == 0, shipped.output
    assert (tmp_path / "shipped" / "adain-multilevel.safetensors").is_file()
    listed = CliRunner().invoke(main, ["weights", "list"])
    assert listed.exit_code == 0, listed.output
    line = next(ln for ln in listed.output.splitlines() if ln.startswith("shipped/adain-multilevel.safetensors"))
    assert "verified" in line and "source: stylert train --model adain-multilevel --from-pretrained" in line
    assert "budget: 2 steps x batch 1" in line

    out = tmp_path / "out.png"
    result = CliRunner().invoke(main, ["stylize", "--model", "adain-multilevel", "-c", shared_images / "content" /
                                       "cornell.jpg", "-s", shared_images / "style" / "sketch.png", "-o", out,
                                       "--content-size", "64", "--style-size", "64"])
    assert result.exit_code == 0, result.output
    assert out.is_file() and "stylert-shipped" in result.output

    exported = CliRunner().invoke(main, ["export", "--model", "adain-multilevel", "-o", tmp_path / "export",
                                         "--validate-size", "64x64"])
    assert exported.exit_code == 0, exported.output
    manifest = json.loads((tmp_path / "export" / "manifest.json").read_text())
    assert manifest["model"]["checkpoint"]["layout"] == "stylert-shipped"


def test_the_shipped_registry_verifies_and_its_model_stylizes(use_shared_weights):
    """What the package ships: every registered file is present, of its size and SHA-256, and the
    model it holds loads without --checkpoint and stylizes differently from AdaIN (it is trained)."""
    import numpy as np
    from stylert.models.pretrained import load_public_adain, load_reference_model
    from stylert.models.stylize import ReferenceStylizer

    rows = registry.status()
    assert rows and all(ok for _, _, ok in rows), rows
    assert all(entry.size < 20_000_000 and entry.budget for entry, _, _ in rows)
    rng = np.random.default_rng(0)
    content, style = rng.random((48, 64, 3), dtype=np.float32), rng.random((40, 40, 3), dtype=np.float32)
    for entry, _, _ in rows:
        model = load_reference_model(entry.family)
        assert model.checkpoint_info["layout"] == "stylert-shipped"
        ours = ReferenceStylizer(model, "cpu").stylize(content, [style])
        adain = ReferenceStylizer(load_public_adain(), "cpu").stylize(content, [style])
        assert ours.shape == content.shape and np.abs(ours - adain).max() > 1e-3


@pytest.mark.parametrize("family", ["adain-multilevel", "sanet", "sanet-multilevel"])
def test_shipped_model_exports_and_runs_at_fp32_and_fp16(family, tmp_path, use_shared_weights, shared_images):
    """Parity and fp16 accuracy on the trained weights (not synthetic ones): the shipped model exported
    at fp32 and fp16 (each validated at export), then run through the runtime on a real photo and
    painting against the PyTorch reference: fp32 at the fp32 tolerance, fp16 at >= 30 dB."""
    import numpy as np
    from stylert.core.checks import MIN_PSNR_DB, TOLERANCES, check
    from stylert.core.images import load_image
    from stylert.export.exporter import export_model
    from stylert.models.pretrained import load_reference_model
    from stylert.models.stylize import ReferenceStylizer, StylizeOptions
    from stylert.runtime.pipeline import Pipeline
    from stylert.runtime.stylizer import RuntimeStylizer

    if family not in registry.shipped_families():
        pytest.skip(f"{family} has no shipped weights in this checkout")
    model = load_reference_model(family)
    content = load_image(shared_images / "content" / "sailboat.jpg", size=128)
    style = load_image(shared_images / "style" / "la_muse.jpg", size=128)
    want = np.clip(ReferenceStylizer(model, "cpu").stylize(content, [style], StylizeOptions(alpha=1.0)), 0, 1)
    m = model.size_multiple
    for precision in ("fp32", "fp16"):
        out = tmp_path / precision
        result = export_model(model, out, precision=precision, sizes=[(8 * m, 12 * m)])
        assert result.report.status == "passed", result.report.format()
        with Pipeline.open(out, "onnxruntime", "cpu") as pipeline:
            got = RuntimeStylizer(pipeline).stylize(content, [style], StylizeOptions(alpha=1.0))
        c = check("end-to-end", "image", f"{family} {precision}", got, want, TOLERANCES[precision]["end_to_end"],
                  min_psnr=MIN_PSNR_DB[precision], image=True)
        print(f"shipped {family}, {precision} runtime vs PyTorch float32 on sailboat.jpg + la_muse.jpg: "
              f"max abs {c.max_abs:.2e} (allowed {c.allowed:.2e}), PSNR {c.psnr:.1f} dB (min {c.min_psnr:g})")
        assert c.ok, c
