"""Errors that name the true cause and a fix that exists on the command that printed them.

Each case is one line, a non-zero exit, and nothing written.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from conftest import invoke, one_line_error
from PIL import Image
from stylert.errors import StylertError



def colour(path, h=24, w=32, seed=0):
    Image.fromarray(np.random.default_rng(seed).integers(0, 255, (h, w, 3), dtype=np.uint8)).save(path)
    return path


# --------------------------------------------------------------------------- damaged image files


def _jpeg_bytes() -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(buf, "JPEG")
    return buf.getvalue()


@pytest.mark.parametrize("keep", [2, 10, 100, 300, 0.5])
def test_a_truncated_file_is_blamed_on_its_data_not_permissions(keep, tmp_path, exports):
    """A JPEG cut anywhere (in its header or its data) is "truncated or corrupt", with the fix to re-export
    it; never a permissions problem."""
    data = _jpeg_bytes()
    n = int(len(data) * keep) if isinstance(keep, float) else keep
    (tmp_path / "cut.jpg").write_bytes(data[:n])
    colour(tmp_path / "s.png")
    _, export_dir = exports("adain")
    line = one_line_error(invoke("stylize", "-c", tmp_path / "cut.jpg", "-s", tmp_path / "s.png", "-o",
                                 tmp_path / "o.png", "--engine", export_dir))
    assert "cut.jpg" in line and ("truncated or corrupt" in line or "not an image" in line), line
    assert "permission" not in line
    assert not (tmp_path / "o.png").exists()


# --------------------------------------------------------------------------- the pixel limit's fix


def test_the_pixel_limit_fix_names_only_options_the_command_has(tmp_path, exports):
    """stylize names its --max-pixels; export --calibration (which has none) names STYLERT_MAX_PIXELS only;
    triton's --max-pixels lifts the limit of its --style images too."""
    _, export_dir = exports("adain")
    for i in range(3):
        colour(tmp_path / f"{i}.png", 40, 40, seed=i)
    env = {"STYLERT_MAX_PIXELS": "1000"}
    line = one_line_error(invoke("stylize", "-c", tmp_path / "0.png", "-s", tmp_path / "1.png", "-o",
                                 tmp_path / "o.png", "--engine", export_dir, "--content-size", 0, env=env))
    assert "--max-pixels N" in line, line
    line = one_line_error(invoke("export", "--precision", "int8", "--calibration", tmp_path, "-o",
                                 tmp_path / "x", env=env))
    assert "STYLERT_MAX_PIXELS=N" in line and "--max-pixels" not in line, line
    args = ["triton", export_dir, "-o", tmp_path / "repo", "--backend", "python", "--style",
            f"a={tmp_path / '1.png'}", "--style-size", 0]
    line = one_line_error(invoke(*args, "--max-pixels", 1000, env=env))
    assert "--max-pixels N" in line, line
    done = invoke(*args, "--max-pixels", 2000, env=env)
    assert done.exit_code == 0, done.output


# --------------------------------------------------------------------------- memory


@pytest.mark.parametrize("value, expected", [("4G", 4 << 30), ("512MiB", 512 << 20), ("1.5GB", 3 << 29),
                                             ("123456", 123456), ("2k", 2048)])
def test_memory_budgets_are_read_with_units(value, expected, monkeypatch):
    from stylert.core.budget import available_bytes, memory_override

    monkeypatch.setenv("STYLERT_MEMORY_BYTES", value)
    assert memory_override() == expected
    assert available_bytes()[0] <= expected


@pytest.mark.parametrize("value", ["abc", "-5", "0", "4 GB of RAM", "1e9"])
def test_a_memory_budget_that_is_not_bytes_is_one_line(value, tmp_path, exports):
    _, export_dir = exports("adain")
    colour(tmp_path / "c.png")
    line = one_line_error(invoke("stylize", "-c", tmp_path / "c.png", "-s", tmp_path / "c.png", "-o",
                                 tmp_path / "o.png", "--engine", export_dir, env={"STYLERT_MEMORY_BYTES": value}))
    assert "STYLERT_MEMORY_BYTES" in line and repr(value) in line, line
    assert not (tmp_path / "o.png").exists()


@pytest.mark.parametrize("batch", [64, 1000])
def test_a_batch_that_cannot_fit_is_fixed_with_a_batch_that_does(batch, exports):
    """Video frames at their own size, too many per pass: the fix is the largest --batch-size that fits
    (which, run, fits), not a --content-size that video frames do not take."""
    from stylert.core.budget import PROPOSAL_SHARE, check_fits
    from stylert.errors import ImageError
    from stylert.runtime.pipeline import Pipeline
    from stylert.runtime.stylizer import RuntimeStylizer

    _, export_dir = exports("adain")
    with Pipeline.open(export_dir, "onnxruntime", "cpu") as pipeline:
        footprint = RuntimeStylizer(pipeline).footprint
    hw, style = (360, 640), (512, 512)
    budget = footprint.estimate(hw, style, 8).total / PROPOSAL_SHARE + 1
    import os

    os.environ["STYLERT_MEMORY_BYTES"] = str(int(budget))
    try:
        with pytest.raises(ImageError) as err:
            check_fits(footprint, hw, style, batch=batch, size_option=None)
        text = str(err.value)
        assert "--batch-size 8 fits" in text and "--content-size" not in text, text
        check_fits(footprint, hw, style, batch=8, size_option=None)
    finally:
        del os.environ["STYLERT_MEMORY_BYTES"]


# --------------------------------------------------------------------------- serving


@pytest.mark.parametrize("ports, named", [
    ((8100, 8100, 8102), "--http-port and --grpc-port"),
    ((8100, 8101, 8101), "--grpc-port and --metrics-port"),
    ((8100, 8101, 8100), "--http-port and --metrics-port"),
    ((8100, 8100, 8100), "--http-port and --grpc-port and --metrics-port"),
])
def test_serve_with_one_port_for_two_endpoints_is_one_line(ports, named, tmp_path, exports):
    _, export_dir = exports("adain")
    assert invoke("triton", export_dir, "-o", tmp_path / "repo", "--backend", "python").exit_code == 0
    http, grpc, metrics = ports
    line = one_line_error(invoke("serve", tmp_path / "repo", "--http-port", http, "--grpc-port", grpc,
                                 "--metrics-port", metrics))
    assert named in line and "Usage" not in line, line


@pytest.mark.parametrize("missing", ["encoder", "transform", "decoder"])
def test_serve_refuses_a_repository_missing_a_model(missing, tmp_path, exports):
    """The stylize model calls the three graph models: one gone is named before the server starts, never "ready"."""
    import shutil

    _, export_dir = exports("adain")
    assert invoke("triton", export_dir, "-o", tmp_path / "repo", "--backend", "python").exit_code == 0
    shutil.rmtree(tmp_path / "repo" / f"adain_{missing}")
    line = one_line_error(invoke("serve", tmp_path / "repo", "--timeout", 5))
    assert f"adain_{missing}" in line and "ready" not in line, line


# --------------------------------------------------------------------------- int8 calibration


@pytest.mark.parametrize("mode", ["L", "I;16", "RGB-grey", "LA", "1"])
def test_int8_calibration_on_images_without_colour_says_why(mode, tmp_path):
    from stylert.export.quantize import calibration_set

    for i in range(3):
        colour(tmp_path / f"{i}.png", seed=i)
    grey = np.random.default_rng(9).integers(0, 255, (24, 32), dtype=np.uint8)
    if mode == "RGB-grey":
        Image.fromarray(np.repeat(grey[..., None], 3, axis=2)).save(tmp_path / "1.png")
    elif mode == "I;16":
        Image.fromarray(grey.astype(np.uint16) * 257).save(tmp_path / "1.png")
    elif mode == "LA":
        Image.fromarray(grey).convert("LA").save(tmp_path / "1.png")
    else:
        Image.fromarray(grey).convert(mode).save(tmp_path / "1.png")
    with pytest.raises(StylertError, match="1.png: a calibration image without colour") as err:
        calibration_set(tmp_path, 3)
    assert "8-bit colour" in str(err.value)
    (tmp_path / "1.png").unlink()
    assert len(calibration_set(tmp_path, 2).content) == 2  # colour images pass


# --------------------------------------------------------------------------- files trusted without a check

MANIFEST_DAMAGE = {
    "size_multiple 0": (lambda d: d.update(size_multiple=0), "size_multiple"),
    "size_multiple negative": (lambda d: d.update(size_multiple=-8), "size_multiple"),
    "size_multiple a string": (lambda d: d.update(size_multiple="8"), "size_multiple"),
    "size_multiple fractional": (lambda d: d.update(size_multiple=8.5), "size_multiple"),
    "min_size 0": (lambda d: d.update(min_size=0), "min_size"),
    "min_size null": (lambda d: d.update(min_size=None), "min_size"),
    "min_size not a multiple": (lambda d: d.update(min_size=12), "min_size"),
    "precision unknown": (lambda d: d.update(precision="fp64"), "precision"),
    "no alpha levels": (lambda d: d["alpha"].update(levels=[]), "alpha.levels"),
    "a shape of 0": (lambda d: d["graphs"]["decoder"]["outputs"][0].update(shape=[1, 3, 0, "W"]), "graphs.decoder"),
    "sha256 not hex": (lambda d: d["graphs"]["encoder"].update(sha256="not-a-digest"), "graphs.encoder.sha256"),
}


@pytest.mark.parametrize("damage", list(MANIFEST_DAMAGE))
def test_a_manifest_is_checked_against_its_schema_on_load(damage, tmp_path, exports):
    """A hand-edited manifest: one line naming manifest.json and the field, on every command that reads it."""
    import json
    import shutil

    _, export_dir = exports("adain")
    bad = tmp_path / "export"
    shutil.copytree(export_dir, bad)
    data = json.loads((bad / "manifest.json").read_text())
    change, field = MANIFEST_DAMAGE[damage]
    change(data)
    (bad / "manifest.json").write_text(json.dumps(data))
    colour(tmp_path / "c.png")
    for args in (["stylize", "-c", tmp_path / "c.png", "-s", tmp_path / "c.png", "-o", tmp_path / "o.png",
                  "--engine", bad], ["style", "encode", tmp_path / "c.png", "--engine", bad, "-o", tmp_path / "c.npz"],
                 ["triton", bad, "-o", tmp_path / "repo", "--backend", "python"]):
        line = one_line_error(invoke(*args))
        assert "manifest.json" in line and field in line, (args[0], line)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.png", "export"]


@pytest.fixture(scope="module")
def saved_checkpoint(tmp_path_factory):
    """A stylert checkpoint with Adam's state (one step on the decoder), as training writes it."""
    import torch
    from stylert.models import create_model, he_init
    from stylert.models.checkpoints import save_checkpoint

    torch.manual_seed(0)
    model = he_init(create_model("adain"))
    opt = torch.optim.Adam(model.decoder.parameters(), lr=1e-3)
    model.decode(model.encode(torch.rand(1, 3, 32, 32))).mean().backward()
    opt.step()
    path = tmp_path_factory.mktemp("ckpt") / "step_000001.pt"
    save_checkpoint(model, path, step=1, optimizer=opt.state_dict(), rng={"torch": torch.get_rng_state()})
    return path


def _entries(path):
    """(offset of its data in the file, size) of every tensor storage in a torch zip checkpoint."""
    import zipfile

    found = {}
    with zipfile.ZipFile(path) as z, open(path, "rb") as f:
        for info in z.infolist():
            if "/data/" in info.filename and info.file_size >= 64:
                f.seek(info.header_offset + 26)
                name_len, extra_len = int.from_bytes(f.read(2), "little"), int.from_bytes(f.read(2), "little")
                found[info.filename] = (info.header_offset + 30 + name_len + extra_len, info.file_size)
    return found


@pytest.mark.parametrize("which", ["largest", "second", "small", "middle", "last"])
def test_a_damaged_checkpoint_is_refused_not_resumed(which, saved_checkpoint, tmp_path):
    """4 KB zeroed in a tensor's storage (weights or Adam's moments), as a bad disk does: torch.load reads it
    without a word; the recorded SHA-256 refuses it with one line naming the file and the way back."""
    import shutil

    from stylert.models.checkpoints import read_state

    data = bytearray(saved_checkpoint.read_bytes())
    entries = sorted(_entries(saved_checkpoint).values(), key=lambda e: e[1])

    def middle_block(offset, size):  # 4 KB (or the whole storage) around its middle
        start = offset + max(0, size // 2 - 2048)
        return slice(start, min(start + 4096, offset + size))

    nonzero = [(o, n) for o, n in entries if any(data[middle_block(o, n)])]
    offset, size = {"largest": entries[-1], "second": entries[-2], "small": nonzero[0],
                    "middle": entries[len(entries) // 2], "last": entries[-3]}[which]
    bad = tmp_path / "last.pt"
    block = middle_block(offset, size)
    if not any(data[block]):
        pytest.skip("that block is zeros already")
    data[block] = bytes(block.stop - block.start)
    bad.write_bytes(bytes(data))
    shutil.copystat(saved_checkpoint, bad)
    assert read_state(saved_checkpoint)["step"] == 1  # the intact file loads
    with pytest.raises(StylertError, match="do not match the SHA-256 recorded") as err:
        read_state(bad)
    assert "last.pt" in str(err.value) and "step_*.pt" in str(err.value)


# --------------------------------------------------------------------------- tiny images off the main path

TINY = [(1, 1), (2, 2), (5, 5), (3, 40), (40, 3), (16, 16), (17, 2), (8, 8)]


@pytest.mark.parametrize("size", TINY)
def test_evaluate_scores_every_size_stylize_takes(size, tmp_path, exports, use_shared_weights):
    """evaluate score and run on contents and styles from 1x1 up: finite metrics, no padding error."""
    import json

    h, w = size
    colour(tmp_path / "c.png", h, w, seed=1)
    colour(tmp_path / "s.png", w, h, seed=2)
    result = invoke("evaluate", "score", "-c", tmp_path / "c.png", "-s", tmp_path / "s.png", "--stylized",
                    tmp_path / "c.png", "--json", tmp_path / "m.json")
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "m.json").read_text())["metrics"]
    assert metrics["ssim"] == pytest.approx(1.0) and metrics["content_loss"]["relu4_1"] == 0.0
    assert np.isfinite(metrics["style_loss"]) and np.isfinite(metrics["gram_loss"])
    if size not in ((1, 1), (3, 40), (17, 2)):  # evaluate run on a few: it loads the VGG and an export each time
        return
    _, export_dir = exports("adain")
    result = invoke("evaluate", "run", "-c", tmp_path / "c.png", "-s", tmp_path / "s.png", "-o", tmp_path / "r",
                    "--engine", export_dir)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "r" / "report.json").is_file()


def _served_model_module(monkeypatch):
    """serving/models/stylize_model.py, imported here with a stand-in for Triton's python backend utils."""
    import importlib.util
    import sys
    import types

    monkeypatch.setitem(sys.modules, "triton_python_backend_utils", types.ModuleType("triton_python_backend_utils"))
    path = Path(__file__).resolve().parents[1] / "serving" / "models" / "stylize_model.py"
    spec = importlib.util.spec_from_file_location("stylize_model_under_test", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("family", ["adain", "sanet"])
@pytest.mark.parametrize("size", TINY + [(9, 30), (31, 33)])
def test_the_served_model_pads_contents_as_the_runtime_does(family, size, monkeypatch, exports):
    """The stylize model pads a content to the size the runtime does (multiples, and at least min_size), with
    the same pixels: contents of 8x8 and below reach the encoder at a size its reflection pads take."""
    from stylert.core.images import pad_to_multiple
    from stylert.export.manifest import load_manifest

    module = _served_model_module(monkeypatch)
    manifest = load_manifest(exports(family)[1])
    image = np.random.default_rng(0).random((*size, 3), dtype=np.float32)
    served = module.pad_to_multiple(image, manifest.size_multiple, manifest.min_size)
    runtime, _ = pad_to_multiple(image, manifest.size_multiple, manifest.min_size)
    assert served.shape == runtime.shape and min(served.shape[:2]) >= manifest.min_size
    np.testing.assert_array_equal(served, runtime)


@pytest.mark.parametrize("precision, says, never", [
    ("fp16", "--precision fp32", "does not overflow"),
    ("fp32", "does not overflow", "--precision fp32"),
    ("int8", "does not overflow", "--precision fp32"),
])
def test_a_nan_message_is_true_to_the_precision(precision, says, never):
    """NaN out of a float16 engine is overflow (fix: an fp32 build); out of a float32 one it is not, and the
    message never advises the build it already is."""
    from stylert.errors import nan_fix

    text = nan_fix(precision)
    assert says in text and never not in text


def test_nan_from_a_float32_export_is_not_blamed_on_float16(exports, monkeypatch):
    from stylert.core.stylize import StylizeOptions
    from stylert.runtime.pipeline import Pipeline
    from stylert.runtime.stylizer import RuntimeStylizer

    _, export_dir = exports("adain")
    real = Pipeline._host

    def poisoned(self, graph, value):
        out = np.array(real(self, graph, value), dtype=np.float32, copy=True)
        if graph == "decoder":
            out.flat[0] = np.nan
        return out

    monkeypatch.setattr(Pipeline, "_host", poisoned)
    with Pipeline.open(export_dir, "onnxruntime", "cpu") as pipeline:
        image = np.random.default_rng(0).random((32, 48, 3), dtype=np.float32)
        with pytest.raises(StylertError, match="NaN") as err:
            RuntimeStylizer(pipeline).stylize(image, [image], StylizeOptions())
    assert "does not overflow" in str(err.value) and "fp16" not in str(err.value), str(err.value)
