"""Inputs people really send: tiny and extreme images, values that are not numbers, checkpoints saved
by other code, devices that are not there, odd pixel formats, sizes that cannot fit.

Every case either gives a correct output or one line naming the file (or option), the cause and the
fix, with a non-zero exit and nothing written.
"""

from __future__ import annotations

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
