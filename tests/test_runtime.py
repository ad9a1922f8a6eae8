"""The runtime: exported graphs routed by the manifest alone, against the PyTorch reference."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import psnr
from PIL import Image
from stylert.cli import main
from stylert.core.images import load_image
from stylert.core.stylize import StylizeOptions
from stylert.errors import ImageError, ModelError, OutputError
from stylert.export.errors import ManifestError
from stylert.models import list_families
from stylert.models.stylize import ReferenceStylizer
from stylert.runtime.codes import StyleCode, StyleCodeError
from stylert.runtime.pipeline import Pipeline
from stylert.runtime.stylizer import RuntimeStylizer


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.mark.real_weights
def test_onnxruntime_reproduces_the_reference_at_512(adain_export, adain_model, shared_images):
    reference = ReferenceStylizer(adain_model, "cpu")
    with Pipeline.open(adain_export, "onnxruntime", "cpu") as pipeline:
        runtime = RuntimeStylizer(pipeline)
        for content, style, alpha in (("cornell.jpg", "la_muse.jpg", 1.0), ("sailboat.jpg", "sketch.png", 0.7)):
            c = load_image(shared_images / "content" / content, size=512)
            s = load_image(shared_images / "style" / style, size=512)
            options = StylizeOptions(alpha=alpha)
            ours = runtime.stylize(c, [s], options)
            ref = np.clip(reference.stylize(c, [s], options), 0, 1)
            value = psnr(ours, ref)
            print(f"onnxruntime vs PyTorch, {content} x {style} at {c.shape[1]}x{c.shape[0]}, alpha {alpha}: "
                  f"PSNR {value:.1f} dB, max |diff| {np.abs(ours - ref).max():.2e} (asked: >= 110 dB, as docs/runtime.md says)")
            assert ours.shape == c.shape and value >= 110.0


@pytest.mark.parametrize("family", list_families())
def test_every_family_matches_its_reference(family, exports):
    model, out = exports(family)
    rng = np.random.default_rng(0)
    content = rng.random((50, 70, 3), dtype=np.float32)  # not a multiple of anything: padded and cropped
    styles = [rng.random((64, 48, 3), dtype=np.float32), rng.random((40, 56, 3), dtype=np.float32) ** 2]
    alpha = tuple(np.linspace(0.5, 1.0, len(model.alpha_levels)))
    options = StylizeOptions(alpha=alpha, weights=(0.3, 0.7))
    reference = np.clip(ReferenceStylizer(model, "cpu").stylize(content, styles, options), 0, 1)
    with Pipeline.open(out, "onnxruntime", "cpu") as pipeline:
        ours = RuntimeStylizer(pipeline).stylize(content, styles, options)
        batch = pipeline.stylize(np.stack([content, content[::-1]]), [pipeline.encode_style(s) for s in styles],
                                 alpha=alpha, weights=[0.3, 0.7])
    value = psnr(ours, reference)
    print(f"{family}: runtime vs reference, 2 styles interpolated, alpha {alpha}: PSNR {value:.1f} dB (asked >= 90)")
    assert ours.shape == content.shape and value >= 90.0
    np.testing.assert_allclose(batch[0], ours, atol=1e-5)  # a batch computes what single images do


def test_style_codes_round_trip_and_refuse_other_models(exports, tmp_path):
    _, adain_out = exports("adain")
    _, other_out = exports("adain-multilevel")
    style = np.random.default_rng(1).random((64, 64, 3), dtype=np.float32)
    with Pipeline.open(adain_out, device="cpu") as pipeline:
        code = pipeline.encode_style(style, source="s.png")
        assert set(code.arrays) == {"relu4_1_mean", "relu4_1_std"} and code.nbytes == 4096
        path = code.save(tmp_path / "s.npz")
        loaded = StyleCode.load(path)
        assert all(np.array_equal(loaded.arrays[k], code.arrays[k]) for k in code.arrays)
        content = np.random.default_rng(2).random((32, 40, 3), dtype=np.float32)
        np.testing.assert_array_equal(pipeline.stylize(content, [loaded]), pipeline.stylize(content, [code]))
        with pytest.raises(OutputError, match="already exists"):
            code.save(path)
    with Pipeline.open(other_out, device="cpu") as other:
        with pytest.raises(StyleCodeError, match="another model"):
            other.stylize(content, [loaded])
    (tmp_path / "junk.npz").write_bytes(b"junk")
    with pytest.raises(StyleCodeError, match="junk.npz"):
        StyleCode.load(tmp_path / "junk.npz")


def test_blending_statistics_equals_blending_adain_outputs(exports):
    """AdaIN is linear in (mean, std): one transform on blended codes == blended transform outputs."""
    _, out = exports("adain-multilevel")
    rng = np.random.default_rng(3)
    content = rng.random((48, 64, 3), dtype=np.float32)
    with Pipeline.open(out, device="cpu") as pipeline:
        codes = [pipeline.encode_style(rng.random((64, 64, 3), dtype=np.float32)) for _ in range(3)]
        weights = [0.2, 0.5, 0.3]
        via_codes = pipeline.stylize(content, codes, weights=weights)
        pipeline.manifest.data["style"]["representation"] = "taps"  # force blending transform outputs
        via_outputs = pipeline.stylize(content, codes, weights=weights)
    print(f"blend codes vs blend outputs: max |diff| {np.abs(via_codes - via_outputs).max():.2e}")
    np.testing.assert_allclose(via_codes, via_outputs, atol=1e-4)


def test_mask_assigns_styles_and_checks_its_size(exports):
    _, out = exports("adain")
    rng = np.random.default_rng(4)
    content = rng.random((48, 64, 3), dtype=np.float32)
    with Pipeline.open(out, device="cpu") as pipeline:
        a, b = (pipeline.encode_style(rng.random((64, 64, 3), dtype=np.float32) ** p) for p in (1, 3))
        ones = pipeline.stylize(content, [a, b], mask=np.ones((48, 64), np.float32))
        np.testing.assert_allclose(ones, pipeline.stylize(content, [a]), atol=1e-6)
        with pytest.raises(ImageError, match="mask is 32x32, the content is 64x48"):
            pipeline.stylize(content, [a, b], mask=np.ones((32, 32), np.float32))


@pytest.mark.parametrize("backend", ["onnxruntime", "auto"])  # auto: openvino where the CPU has bf16
def test_onnxruntime_path_never_imports_torch(exports, tmp_path, backend):
    _, out = exports("adain")
    Image.fromarray(np.full((40, 56, 3), 120, np.uint8)).save(tmp_path / "c.png")
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(tmp_path / "s.png")
    code = f"""
import sys
from stylert.cli import main
try:
    main(["stylize", "-c", r"{tmp_path / 'c.png'}", "-s", r"{tmp_path / 's.png'}", "-o", r"{tmp_path / 'o.png'}",
          "--engine", r"{out}", "--device", "cpu", "--backend", "{backend}"])
except SystemExit as e:
    assert e.code in (0, None), e.code
assert "torch" not in sys.modules, "the {backend} path imported torch"
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "o.png").exists()


def test_cli_engine_codes_and_bad_inputs(exports, tmp_path):
    _, out = exports("adain")
    _, other = exports("sanet")
    Image.fromarray(np.full((40, 56, 3), 120, np.uint8)).save(tmp_path / "c.png")
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(tmp_path / "s.png")
    made = invoke("style", "encode", tmp_path / "s.png", "--engine", out, "-o", tmp_path / "s.npz")
    assert made.exit_code == 0, made.output
    assert f"({(tmp_path / 's.npz').stat().st_size / 1024:.1f} KB: " in made.output, made.output  # the file's size
    ok = invoke("stylize", "-c", tmp_path / "c.png", "-s", tmp_path / "s.npz", "-o", tmp_path / "o.png",
                "--engine", out, "--content-size", 0)
    assert ok.exit_code == 0, ok.output
    assert Image.open(tmp_path / "o.png").size == (56, 40)

    def fails(args, expected):
        result = invoke("stylize", "-c", tmp_path / "c.png", "-o", tmp_path / "x" / "o.png", *args)
        assert result.exit_code != 0 and expected in result.output, result.output
        assert "Traceback" not in result.output and not (tmp_path / "x").exists()

    fails(["-s", tmp_path / "s.npz", "--engine", other], "another model")
    fails(["-s", tmp_path / "s.npz"], "pass --engine DIR")
    fails(["-s", tmp_path / "s.png", "--engine", tmp_path], "not a stylert export directory")
    bad = tmp_path / "newer"
    shutil.copytree(out, bad)
    manifest = json.loads((bad / "manifest.json").read_text())
    manifest["format_version"] = 99
    (bad / "manifest.json").write_text(json.dumps(manifest))
    fails(["-s", tmp_path / "s.png", "--engine", bad], "newer")
    tampered = tmp_path / "tampered"
    shutil.copytree(out, tampered)
    with open(tampered / "decoder.onnx", "ab") as f:
        f.write(b"\0")
    fails(["-s", tmp_path / "s.png", "--engine", tampered], "SHA-256")
    with pytest.raises(ManifestError):
        Pipeline.open(tampered)


def test_compare_passes_and_catches_a_wrong_graph(exports, tmp_path):
    import onnx
    from onnx import numpy_helper
    from stylert.core.files import sha256_of

    _, out = exports("adain")
    ok = invoke("compare", out, "--backend", "onnxruntime:cpu", "--size", 48)
    assert ok.exit_code == 0, ok.output
    assert "end-to-end" in ok.output and "checks passed" in ok.output
    # A decoder whose weights differ by 1% (the manifest updated to match): compare must fail.
    bad = tmp_path / "bad"
    shutil.copytree(out, bad)
    proto = onnx.load(str(bad / "decoder.onnx"))
    init = max(proto.graph.initializer, key=lambda t: np.prod(t.dims))
    init.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(init) * 1.01, init.name))
    onnx.save(proto, str(bad / "decoder.onnx"))
    manifest = json.loads((bad / "manifest.json").read_text())
    manifest["graphs"]["decoder"]["sha256"] = sha256_of(bad / "decoder.onnx")
    (bad / "manifest.json").write_text(json.dumps(manifest))
    failed = invoke("compare", bad, "--backend", "onnxruntime:cpu", "--size", 48)
    assert failed.exit_code != 0 and "FAIL" in failed.output and "checks failed" in failed.output


def test_compare_records_a_backend_that_raises_and_goes_on(exports, monkeypatch):
    """A graph that raises (a shape outside an engine's profile...) is a failed row, not a crash:
    the other graphs and backends are still compared, and the exit status is non-zero."""
    from stylert.runtime.backends.onnxrt import OnnxrtRunner

    _, out = exports("adain")
    original = OnnxrtRunner.infer_impl

    def decoder_refuses(self, feed, keep_on_device):
        if self.name == "decoder":
            raise RuntimeError("input relu4_1 6x6 is outside the engine's profile\nsecond line")
        return original(self, feed, keep_on_device)

    monkeypatch.setattr(OnnxrtRunner, "infer_impl", decoder_refuses)
    result = invoke("compare", out, "--backend", "onnxruntime:cpu", "--backend", "torch:cpu", "--size", 48)
    assert result.exit_code != 0, result.output
    assert "FAIL: RuntimeError: input relu4_1 6x6 is outside the engine's profile" in result.output
    assert "second line" not in result.output
    lines = [line for line in result.output.splitlines() if line.startswith("onnxruntime")]
    assert any("encoder" in line and "pass" in line for line in lines)  # the encoder was still checked
    assert any(line.startswith("torch") and "end-to-end" in line and "pass" in line
               for line in result.output.splitlines())  # and the next backend ran


@pytest.mark.parametrize("options, message", [
    (dict(weights=(1.0, 3.0), mask=np.ones((48, 64), np.float32)), "no interpolation weights"),
    (dict(weights=(1.0, float("nan"))), "interpolation weights must be finite"),
    (dict(weights=(1.0,)), "2 style"),
    (dict(alpha=float("inf")), "alpha must be in"),
    (dict(alpha=(0.5, 0.5)), r"takes 1 alpha value \(relu4_1\), got 2"),
])
def test_the_stylize_contract_is_the_same_on_both_paths(exports, options, message):
    """One contract (``stylert.core.stylize.check_options``): the reference and the runtime refuse the
    same options with the same words, before encoding anything."""
    model, out = exports("adain")
    rng = np.random.default_rng(5)
    content = rng.random((48, 64, 3), dtype=np.float32)
    styles = [rng.random((40, 40, 3), dtype=np.float32) for _ in range(2)]

    class Counting(ReferenceStylizer):
        encoded = 0

        def encode(self, style):
            Counting.encoded += 1
            return super().encode(style)

    with Pipeline.open(out, "onnxruntime", "cpu") as pipeline:
        for stylizer in (Counting(model, "cpu"), RuntimeStylizer(pipeline)):
            with pytest.raises(ModelError, match=message):
                stylizer.stylize(content, styles, StylizeOptions(**options))
    assert Counting.encoded == 0  # refused before any compute


def test_cli_refuses_weights_with_a_mask_and_non_numbers(exports, tmp_path, use_shared_weights):
    _, out = exports("adain")
    for name, shape in (("c.png", (40, 56)), ("a.png", (32, 32)), ("b.png", (32, 32)), ("m.png", (40, 56))):
        Image.fromarray(np.random.default_rng(0).integers(0, 255, (*shape, 3), dtype=np.uint8)).save(tmp_path / name)
    common = ["-c", tmp_path / "c.png", "-s", tmp_path / "a.png", "-s", tmp_path / "b.png"]
    for engine in ([], ["--engine", out]):
        masked = invoke("stylize", *common, "--mask", tmp_path / "m.png", "--weights", "1,3", "-o", tmp_path / "o.png",
                        *engine)
        assert masked.exit_code != 0 and "no interpolation weights" in masked.output, masked.output
        nan = invoke("stylize", *common, "--weights", "1,nan", "-o", tmp_path / "o.png", *engine)
        assert nan.exit_code != 0 and "--weights" in nan.output and "finite" in nan.output, nan.output
        assert not (tmp_path / "o.png").exists()


def test_compare_without_cuda_says_so_once_and_blames_no_option(exports, monkeypatch):
    """``stylert compare DIR`` on a machine without CUDA: one line for every CUDA backend, never a
    ``--device cuda asked for`` the user did not type (compare has no --device); sizes printed HxW."""
    from stylert.commands import compare as compare_mod

    monkeypatch.setattr(compare_mod, "_has_cuda", lambda: False)
    _, out = exports("adain")
    result = invoke("compare", out, "--size", 48)
    assert result.exit_code == 0, result.output
    assert "--device" not in result.output and "(cuda)" not in result.output
    assert result.output.count("no CUDA GPU on this machine") == 1
    assert "content 48x64, style 48x48 (HxW)" in result.output  # the demo scene is 4:3 landscape
