"""Inputs people really send: tiny and extreme images, values that are not numbers, checkpoints saved
by other code, devices that are not there, odd pixel formats, sizes that cannot fit.

Every case either gives a correct output or one line naming the file (or option), the cause and the
fix, with a non-zero exit and nothing written.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import psnr
from PIL import Image
from stylert.cli import main
from stylert.core.stylize import StylizeOptions
from stylert.models.stylize import ReferenceStylizer
from stylert.runtime.pipeline import Pipeline
from stylert.runtime.stylizer import RuntimeStylizer


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def one_line_error(result) -> str:
    """The error a user sees: non-zero exit, no traceback, one line."""
    assert result.exit_code != 0, result.output
    assert "Traceback" not in result.output, result.output
    errors = [line for line in result.output.splitlines() if "Error" in line]
    assert len(errors) == 1, result.output
    return result.output


# --------------------------------------------------------------------------- 1. tiny and extreme sizes

TINY = [(1, 1), (5, 5), (3, 40), (40, 3), (7, 7), (1, 300), (17, 2)]


@pytest.mark.parametrize("family", ["adain", "sanet"])
@pytest.mark.parametrize("backend", ["onnxruntime", "torch"])
def test_tiny_and_extreme_images_stylize_at_their_own_size_on_both_paths(family, backend, exports):
    """Contents and styles from 1x1 up, and 1:300 aspect ratios, are padded to the family's minimum
    (``min_size``) and cropped back: both paths give an image of the content's size, and the same one."""
    model, out = exports(family)
    rng = np.random.default_rng(1)
    reference = ReferenceStylizer(model, "cpu")
    with Pipeline.open(out, backend, "cpu") as pipeline:
        runtime = RuntimeStylizer(pipeline)
        for (ch, cw), (sh, sw) in zip(TINY, TINY[::-1]):
            content = rng.random((ch, cw, 3), dtype=np.float32)
            style = rng.random((sh, sw, 3), dtype=np.float32)
            ours = runtime.stylize(content, [style], StylizeOptions(alpha=0.8))
            ref = np.clip(reference.stylize(content, [style], StylizeOptions(alpha=0.8)), 0, 1)
            assert ours.shape == ref.shape == (ch, cw, 3)
            assert np.isfinite(ours).all()
            assert psnr(ours, ref) >= 60.0, (family, backend, (ch, cw), (sh, sw))


@pytest.mark.parametrize("size", [(1, 1), (5, 5), (3, 40), (7, 7)])
def test_tiny_images_on_the_command_line(size, exports, tmp_path):
    """``stylert stylize --engine`` with a tiny content and a tiny style writes an image of the content's size."""
    _, out = exports("adain")
    h, w = size
    rng = np.random.default_rng(2)
    content, style = tmp_path / "c.png", tmp_path / "s.png"
    Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(content)
    Image.fromarray(rng.integers(0, 255, (w, h, 3), dtype=np.uint8)).save(style)
    result = invoke("stylize", "-c", content, "-s", style, "-o", tmp_path / "o.png", "--engine", out,
                    "--content-size", 0, "--style-size", 0)
    assert result.exit_code == 0, result.output
    assert Image.open(tmp_path / "o.png").size == (w, h)


# --------------------------------------------------------------------------- 5. values that are not numbers


@pytest.mark.parametrize("args, option", [
    (["--alpha", "nan"], "--alpha"),
    (["--alpha", "inf"], "--alpha"),
    (["--alpha", "0.5,-inf"], "--alpha"),
    (["--alpha", "-0.1"], "--alpha"),
    (["--alpha", "1.5"], "--alpha"),
    (["--weights", "1,nan"], "--weights"),
    (["--weights", "inf,1"], "--weights"),
    (["--weights", "-1,2"], "--weights"),
    (["--weights", "0,0"], "--weights"),
    (["--content-size", "-1"], "--content-size"),
    (["--max-pixels", "0"], "--max-pixels"),
])
def test_stylize_numbers_are_checked_when_parsed(args, option, tmp_path):
    """Refused before any image is read or model loaded: the inputs do not even exist."""
    result = invoke("stylize", "-c", tmp_path / "missing.png", "-s", tmp_path / "a.png", "-s", tmp_path / "b.png",
                    "-o", tmp_path / "out", *args)
    assert option in one_line_error(result)
    assert "missing.png" not in result.output
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("command, args, option", [
    ("train", ["--lr", "nan"], "--lr"),
    ("train", ["--lr", "inf"], "--lr"),
    ("train", ["--content-weight", "nan"], "--content-weight"),
    ("train", ["--style-weight", "-inf"], "--style-weight"),
    ("train", ["--grad-clip", "nan"], "--grad-clip"),
    ("train", ["--level-weights", "1,nan,1"], "--level-weights"),
    ("train", ["--level-weights", "1,-1,1"], "--level-weights"),
    ("bench", ["--seconds", "nan"], "--seconds"),
    ("bench", ["--warmup", "inf"], "--warmup"),
    ("compare", ["--alpha", "nan"], "--alpha"),
])
def test_every_numeric_option_refuses_non_finite_values(command, args, option, tmp_path):
    """click's FLOAT and FloatRange take ``nan`` (it passes every range check) and ``inf``: ours do not."""
    export = tmp_path / "export"
    export.mkdir()
    positional = {"train": ["--model", "adain", "--out", tmp_path / "run"], "bench": [export],
                  "compare": [export]}[command]
    result = invoke(command, *positional, *args)
    assert result.exit_code == 2, result.output
    assert option in result.output and "Traceback" not in result.output
    assert not (tmp_path / "run").exists()


# --------------------------------------------------------------------------- 3. checkpoints saved by other code


def _saved_by_other_code(state: dict, wrapper: str | None, prefix: str) -> dict:
    state = {prefix + k: v for k, v in state.items()}
    return {wrapper: state, "epoch": 7} if wrapper else state


@pytest.mark.parametrize("wrapper, prefix", [
    (None, "module."), (None, "_orig_mod."), (None, "features."), (None, "model."), (None, "module._orig_mod."),
    ("state_dict", ""), ("state_dict", "module."), ("model", "net."), ("net", "features."), ("model", "_orig_mod."),
])
def test_wrapped_and_prefixed_decoders_load(wrapper, prefix, adain_files, adain_model, tmp_path):
    """pytorch-AdaIN's decoder saved from nn.DataParallel, torch.compile, a training dict or a
    ``features.`` container loads with the same weights as the original file."""
    import torch
    from stylert.models.checkpoints import load_model

    encoder, decoder = adain_files
    path = tmp_path / "decoder.pth"
    torch.save(_saved_by_other_code(torch.load(decoder, weights_only=True), wrapper, prefix), path)
    model = load_model([path], "adain", public_encoder=encoder)
    assert model.checkpoint_info["layout"] == "pytorch-adain"
    for key, value in adain_model.state_dict().items():
        assert torch.equal(model.state_dict()[key], value), key


@pytest.mark.parametrize("prefix", ["module.", "features.", "model."])
def test_a_prefixed_encoder_file_loads(prefix, adain_files, adain_model, tmp_path):
    import torch
    from stylert.models.checkpoints import load_model

    encoder, decoder = adain_files
    path = tmp_path / "vgg.pth"
    torch.save(_saved_by_other_code(torch.load(encoder, weights_only=True), None, prefix), path)
    model = load_model([path, decoder], "adain")
    assert torch.equal(model.state_dict()["encoder.net.0.weight"], adain_model.state_dict()["encoder.net.0.weight"])


@pytest.mark.parametrize("prefix", ["features.", "module.", ""])
@pytest.mark.parametrize("damage", ["missing", "mis-shaped"])
def test_a_broken_prefixed_decoder_is_blamed_not_the_healthy_encoder(prefix, damage, adain_files, tmp_path):
    """A decoder missing a layer (or with one of the wrong shape) is reported against the decoder
    file; the healthy vgg_normalised.pth is never named, nor called a torchvision file."""
    import torch
    from stylert.errors import CheckpointError
    from stylert.models.checkpoints import load_model

    encoder, decoder = adain_files
    state = torch.load(decoder, weights_only=True)
    if damage == "missing":
        del state["28.bias"]
    else:
        state["14.weight"] = state["14.weight"][:, :-1]
    path = tmp_path / "my_decoder.pth"
    torch.save(_saved_by_other_code(state, None, prefix), path)
    with pytest.raises(CheckpointError) as err:
        load_model([path], "adain", public_encoder=encoder)
    message = str(err.value)
    assert message.startswith(str(path))
    assert ("28.bias" if damage == "missing" else "14.weight") in message
    assert "vgg_normalised" not in message.split("(fix:")[0] and "torchvision" not in message


@pytest.mark.parametrize("prefix", ["decoder.", "generator.dec.", "ema."])
def test_an_unknown_prefix_is_named_with_the_file(prefix, adain_files, tmp_path):
    import torch
    from stylert.errors import CheckpointError
    from stylert.models.checkpoints import load_model

    encoder, decoder = adain_files
    path = tmp_path / "odd.pth"
    torch.save(_saved_by_other_code(torch.load(decoder, weights_only=True), None, prefix), path)
    with pytest.raises(CheckpointError) as err:
        load_model([path], "adain", public_encoder=encoder)
    message = str(err.value)
    assert message.startswith(str(path)) and f"every key starts with {prefix!r}" in message
    image = tmp_path / "c.png"
    Image.new("RGB", (16, 16), (10, 120, 200)).save(image)
    result = invoke("stylize", "-c", image, "-s", image, "-o", tmp_path / "o.png", "--checkpoint", path)
    assert f"{path}: unrecognised key layout" in one_line_error(result)
    assert not (tmp_path / "o.png").exists()


# --------------------------------------------------------------------------- 4. --device cuda without CUDA


@pytest.fixture
def no_cuda(monkeypatch):
    """This machine as one without CUDA, whatever it has: torch sees no GPU, ONNX Runtime's provider does not load."""
    import torch
    from stylert.core import providers

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(providers, "cuda_provider_loads", lambda: False)


@pytest.mark.parametrize("backend", [None, "onnxruntime", "torch", "inductor"])
@pytest.mark.parametrize("quiet", [False, True])
def test_an_explicit_cuda_that_cannot_be_honoured_is_an_error(backend, quiet, no_cuda, exports, tmp_path,
                                                             use_shared_weights):
    _, export = exports("adain")
    image = tmp_path / "c.png"
    Image.new("RGB", (24, 24), (200, 40, 90)).save(image)
    engine = ["--engine", export, "--backend", backend] if backend else []
    result = invoke(*(["-q"] if quiet else []), "stylize", "-c", image, "-s", image, "-o", tmp_path / "o.png",
                    "--device", "cuda", *engine)
    assert "--device cuda asked for" in one_line_error(result) and "--device cpu" in result.output
    assert not (tmp_path / "o.png").exists()


@pytest.mark.parametrize("backend", ["onnxruntime", "torch"])
def test_auto_falls_back_to_the_cpu_and_says_so(backend, no_cuda, exports):
    from stylert.models.stylize import resolve_device as reference_device
    from stylert.runtime.pipeline import resolve_device

    said = []
    assert resolve_device(backend, "auto", said.append) == "cpu"
    assert str(reference_device("auto", said.append)) == "cpu"
    assert len(said) == 2 and all("runs on the CPU" in s for s in said)
    _, export = exports("adain")
    with Pipeline.open(export, backend, "auto") as pipeline:
        assert pipeline.device == "cpu"
        assert RuntimeStylizer(pipeline).stylize(np.full((9, 9, 3), 0.5, np.float32), [np.ones((9, 9, 3), np.float32)]
                                                 ).shape == (9, 9, 3)


# --------------------------------------------------------------------------- 6. pixel formats and value ranges


def _gradient() -> Image.Image:
    """An 8-bit RGB image with every grey level and strong colours: a flat output cannot pass for it."""
    yy, xx = np.mgrid[0:16, 0:256]
    rgb = np.stack([xx, (xx * 3 + yy * 16) % 256, 255 - xx], -1).astype(np.uint8)
    return Image.fromarray(rgb)


def _grey(img: Image.Image) -> np.ndarray:
    return np.asarray(img.convert("L"), np.float32) / 255.0


#: mode -> (how to make it from the 8-bit gradient, file name, the grey or RGB 0..1 it must load as, tolerance)
PIXEL_FORMATS = {
    "1": (lambda g: g.convert("1"), "x.png", lambda g: np.asarray(g.convert("1"), np.float32), 0),
    "L": (lambda g: g.convert("L"), "x.png", _grey, 0),
    "P": (lambda g: g.convert("P"), "x.png", lambda g: np.asarray(g.convert("P").convert("RGB")) / 255.0, 0),
    "LA": (lambda g: g.convert("LA"), "x.png", _grey, 0),
    "PA": (lambda g: g.convert("PA"), None, lambda g: np.asarray(g.convert("PA").convert("RGB")) / 255.0, 0),
    "CMYK": (lambda g: g.convert("CMYK"), "x.tif", lambda g: np.asarray(g) / 255.0, 0),
    # Pillow's own colour conversions back to RGB (LAB clamps a and b to 8 bits, HSV rounds hue)
    "YCbCr": (lambda g: g.convert("YCbCr"), "x.tif", lambda g: np.asarray(g.convert("YCbCr").convert("RGB")) / 255.0, 0),
    "LAB": (lambda g: g.convert("LAB"), "x.tif", lambda g: np.asarray(g.convert("LAB").convert("RGB")) / 255.0, 0),
    "HSV": (lambda g: g.convert("HSV"), None, lambda g: np.asarray(g.convert("HSV").convert("RGB")) / 255.0, 0),
    "I;16 png": (lambda g: Image.fromarray(np.asarray(g.convert("L"), np.uint16) * 257), "x.png", _grey, 1e-6),
    "I;16 tif": (lambda g: Image.fromarray(np.asarray(g.convert("L"), np.uint16) * 257), "x.tif", _grey, 1e-6),
    "I 0..255": (lambda g: g.convert("L").convert("I"), "x.tif", _grey, 1e-6),
    "I 0..65535": (lambda g: Image.fromarray(np.asarray(g.convert("L"), np.int32) * 257), "x.tif", _grey, 1e-6),
    "F 0..1": (lambda g: Image.fromarray(np.asarray(g.convert("L"), np.float32) / 255), "x.tif", _grey, 1e-6),
    "F 0..255 (Pillow's convert)": (lambda g: g.convert("F"), "x.tif",
                                    lambda g: np.asarray(g.convert("F")) / 255.0, 1e-6),
    "F 0..65535": (lambda g: Image.fromarray(np.asarray(g.convert("L"), np.float32) * 257), "x.tif", _grey, 1e-6),
}


@pytest.mark.parametrize("name", sorted(PIXEL_FORMATS))
def test_every_pixel_format_is_read_by_its_real_value_range(name, tmp_path):
    from stylert.core import images
    from stylert.core.images import load_image

    make, file_name, expected, tolerance = PIXEL_FORMATS[name]
    gradient = _gradient()
    img = make(gradient)
    if file_name is None:  # a mode no file format stores: Pillow hands it over as is
        rgb = images._to_rgb(img)
        out = np.asarray(rgb, np.float32) / 255.0
    else:
        path = tmp_path / file_name
        img.save(path)
        assert Image.open(path).mode == img.mode, name
        out = load_image(path)
    want = expected(gradient).astype(np.float32)
    if want.ndim == 2:
        want = np.repeat(want[..., None], 3, axis=2)
    assert out.shape == want.shape
    assert np.abs(out - want).max() <= tolerance + 1e-6, (name, np.abs(out - want).max())
    assert out.std() > 0.1  # not one flat colour


@pytest.mark.parametrize("values, found", [
    (np.array([[0.0, np.nan, 0.5]], np.float32), "NaN or Inf"),
    (np.array([[0.0, np.inf, 0.5]], np.float32), "NaN or Inf"),
    (np.array([[-0.5, 0.2, 0.5]], np.float32), "from -0.5 to 0.5"),
    (np.array([[0.0, 0.7, 1.5]], np.float32), "from 0 to 1.5"),
    (np.array([[0.0, 10.0, 1e6]], np.float32), "to 1e+06"),
    (np.array([[-3, 0, 200]], np.int32), "from -3 to 200"),
    (np.array([[0, 70000, 2]], np.int32), "to 70000"),
])
def test_value_ranges_that_cannot_be_mapped_are_refused(values, found, tmp_path):
    """Refused with one line naming the file and the range found; nothing is written."""
    path = tmp_path / "odd.tif"
    Image.fromarray(values).save(path)
    result = invoke("stylize", "-c", path, "-s", path, "-o", tmp_path / "o.png", "--content-size", 0)
    message = one_line_error(result)
    assert f"{path}:" in message and found in message, message
    assert not (tmp_path / "o.png").exists()


# --------------------------------------------------------------------------- 2. work that cannot fit


@pytest.mark.parametrize("size, flag", [((2, 1200), "--content-size"), ((1, 300), "--content-size"),
                                        ((3, 20000), "--style-size")])
def test_the_size_after_resizing_is_checked(size, flag, tmp_path):
    """A thin image passes the pixel limit, but resized to a short side of 512 it would not:
    refused when read, before any model loads."""
    h, w = size
    thin, ok = tmp_path / "thin.png", tmp_path / "ok.png"
    Image.new("RGB", (w, h), (90, 30, 200)).save(thin)
    Image.new("RGB", (16, 16), (90, 30, 200)).save(ok)
    content, style = (thin, ok) if flag == "--content-size" else (ok, thin)
    result = invoke("stylize", "-c", content, "-s", style, "-o", tmp_path / "o.png")
    message = one_line_error(result)
    assert f"{thin}: image is {w}x{h}; resized to a short side of 512 it would be" in message
    assert not (tmp_path / "o.png").exists()


@pytest.mark.parametrize("family, content, style, budget", [
    ("sanet", (1600, 1600), (1600, 1600), 8e9),
    ("sanet", (1080, 1920), (512, 512), 4e9),
    ("adain", (3000, 4000), (512, 512), 2e9),
    ("adain-multilevel", (4000, 3000), (300, 300), 1e9),
])
def test_work_that_cannot_fit_is_refused_with_the_largest_size_that_does(family, content, style, budget, exports,
                                                                         tmp_path, monkeypatch):
    """The estimate (activations, and the attention matrices for the attention families) against
    what is free: one line with the size, the estimate, the budget and the largest size that fits,
    within seconds and with nothing written; that size fits and one pixel more does not."""
    from stylert.core import budget as budget_mod
    from stylert.core.budget import PROPOSAL_SHARE, check_fits

    _, export = exports(family)
    monkeypatch.setenv("STYLERT_MEMORY_BYTES", str(int(budget)))
    # The budget is the smaller of what is free and STYLERT_MEMORY_BYTES: with the free memory as
    # large as the machine has, the test does not depend on what other processes hold right now.
    monkeypatch.setattr(budget_mod, "_meminfo_available", lambda: 1 << 50)
    c, s = tmp_path / "c.png", tmp_path / "s.png"
    Image.new("RGB", content[::-1], (10, 90, 200)).save(c)
    Image.new("RGB", style[::-1], (200, 90, 10)).save(s)
    result = invoke("stylize", "-c", c, "-s", s, "-o", tmp_path / "o.png", "--engine", export,
                    "--content-size", 0, "--style-size", 0)
    message = one_line_error(result)
    assert f"{c}: {content[0]}x{content[1]} (HxW) with a {style[0]}x{style[1]} style needs about" in message
    assert ("attention matrices" in message) == family.startswith("sanet")
    assert "STYLERT_MEMORY_BYTES" in message and "--no-memory-check" in message
    assert not (tmp_path / "o.png").exists()

    with Pipeline.open(export, "onnxruntime", "cpu") as pipeline:
        footprint = RuntimeStylizer(pipeline).footprint
    short, c_hw, s_hw = footprint.largest_fitting(content, style, int(budget * PROPOSAL_SHARE))
    assert f"--content-size {short}" in message
    assert footprint.estimate(c_hw, s_hw).total <= budget
    bigger = footprint.largest_fitting(content, style, int(footprint.estimate(c_hw, s_hw).total * 1.05))
    assert bigger[0] >= short
    check_fits(footprint, c_hw, s_hw)  # what it proposes passes the same check
    assert footprint == ReferenceStylizer(exports(family)[0], "cpu").footprint  # one estimate, both paths


def test_a_memory_cap_ends_within_seconds(exports, tmp_path):
    """Under ``ulimit -v`` a run that cannot fit stops in seconds with one line, not an allocator traceback."""
    import os
    import subprocess
    import sys
    import time

    _, export = exports("sanet")
    c = tmp_path / "c.png"
    Image.new("RGB", (1600, 1600), (10, 90, 200)).save(c)
    code = ("import sys; from stylert.cli import main; "
            "sys.exit(main(sys.argv[1:], prog_name='stylert'))")
    args = [sys.executable, "-c", code, "stylize", "-c", str(c), "-s", str(c), "-o", str(tmp_path / "o.png"),
            "--engine", str(export), "--content-size", "0", "--style-size", "0"]
    start = time.perf_counter()
    done = subprocess.run(["bash", "-c", 'ulimit -v 4000000; exec "$@"', "bash", *args], capture_output=True,
                          text=True, env={**os.environ, "PYTHONPATH": os.environ.get("PYTHONPATH", "")}, timeout=300,
                          check=False)
    assert done.returncode != 0 and "Traceback" not in done.stderr, done.stderr
    assert "address-space limit" in done.stderr and "--content-size" in done.stderr, done.stderr
    assert time.perf_counter() - start < 120
    assert not (tmp_path / "o.png").exists()


# --------------------------------------------------------------------------- 7. videos from phones and for browsers


@pytest.mark.parametrize("rotation", [0, 90, 180, 270])
@pytest.mark.parametrize("size, ext", [((48, 32), ".mp4"), ((33, 25), ".mov"), ((32, 48), ".mkv")])
def test_phone_videos_come_out_upright_yuv420p_with_rate_audio_and_duration(rotation, size, ext, tmp_path):
    """A display rotation is applied (the output needs none), the output is yuv420p at an even size,
    and the frame rate, frame count, audio and duration (within a frame) are kept."""
    av = pytest.importorskip("av")
    from stylert.runtime.video import probe, read_frames, transform_video
    from test_video import make_video

    width, height = size
    src = make_video(tmp_path / "phone.mp4", width=width, height=height, frames=9, fps=15, rotation=rotation)
    info = probe(src)
    turned = rotation in (90, 270)
    assert (info.width, info.height) == ((height, width) if turned else (width, height))
    with av.open(str(src)) as c:
        stored = next(c.decode(video=0)).to_ndarray(format="rgb24")
    upright = np.rot90(stored, rotation // 90)
    assert np.array_equal(next(read_frames(src))[0], upright)

    dst = tmp_path / f"out{ext}"
    said = []
    assert transform_video(src, dst, lambda b: b, notice=said.append) == 9
    with av.open(str(dst)) as c, av.open(str(src)) as s:
        stream = c.streams.video[0]
        assert stream.codec_context.pix_fmt == "yuv420p"
        frame = next(c.decode(video=0))
        assert frame.rotation == 0 and frame.width % 2 == 0 and frame.height % 2 == 0
        out_pixels = frame.to_ndarray(format="rgb24")
        duration = float(c.duration or 0) / 1e6
        src_duration = float(s.duration or 0) / 1e6
    h, w = upright.shape[:2]
    assert out_pixels.shape[:2] == (h + h % 2, w + w % 2)
    assert np.abs(out_pixels[:h, :w].astype(int) - upright).mean() < 6  # lossy codec, same orientation
    out = probe(dst)
    assert (out.fps, out.has_audio, out.rotation) == (Fraction(15), True, 0)
    assert abs(duration - src_duration) <= 1 / 15 + 1e-3, (duration, src_duration)
    assert sum(1 for _ in read_frames(dst, 1)) == 9
    assert (len(said) == 1 + (w % 2 or h % 2)) if rotation else (len(said) == bool(w % 2 or h % 2))


@pytest.mark.parametrize("error", [
    MemoryError(),
    RuntimeError("[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: can't allocate memory: you tried to "
                 "allocate 9663676416 bytes"),
    RuntimeError("[ONNXRuntimeError] : 1 : FAIL : bfc_arena.cc:360 Failed to allocate memory for requested buffer"),
    RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB"),
])
@pytest.mark.parametrize("path", ["reference", "runtime"])
def test_an_allocator_that_fails_all_the_same_is_one_line(error, path, exports, monkeypatch):
    """Where the estimate was wrong, the allocator's error (any backend) still becomes one line."""
    from stylert.errors import ModelError

    model, export = exports("adain")
    stylizer_class = ReferenceStylizer if path == "reference" else RuntimeStylizer

    def fail(self, *args, **kwargs):
        raise error

    monkeypatch.setattr(stylizer_class, "apply", fail)
    content = np.zeros((20, 30, 3), np.float32)
    with Pipeline.open(export, "onnxruntime", "cpu") as pipeline:
        stylizer = ReferenceStylizer(model, "cpu") if path == "reference" else RuntimeStylizer(pipeline)
        with pytest.raises(ModelError, match=r"ran out of memory stylizing a 20x30 \(HxW\) content"):
            stylizer.stylize(content, [content])
        monkeypatch.setattr(stylizer_class, "apply", lambda *a, **k: (_ for _ in ()).throw(ValueError("other")))
        with pytest.raises(ValueError, match="other"):  # anything else is not hidden
            stylizer.stylize(content, [content])
