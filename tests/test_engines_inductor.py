"""The AOTInductor engine, built once per session on the CPU (float32) for the synthetic ``adain`` export
at small sizes, and run through the runtime: accuracy, shape checks, NaN/Inf, staleness, CLI.

Building compiles three graphs with a C++ compiler (a minute or two on a small machine); every
test here shares the one build.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import psnr
from stylert.cli import main
from stylert.core.files import sha256_of
from stylert.errors import EngineOutputError, EngineShapeError, StaleEngineError
from stylert.export.manifest import load_manifest
from stylert.runtime.engine_manifest import load_engine_manifest
from stylert.runtime.pipeline import Pipeline

MAX = "2x3x64x96"


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture(scope="session")
def inductor_export(exports, tmp_path_factory):
    """A copy of the synthetic adain export with an fp32 CPU inductor engine built by `stylert build`."""
    from stylert.engines.build import engines_available

    reason = engines_available()["inductor"]
    if reason:
        pytest.skip(f"AOTInductor cannot build here: {reason}")
    model, out = exports("adain")
    copy = tmp_path_factory.mktemp("inductor") / "adain"
    shutil.copytree(out, copy)
    result = invoke("build", copy, "--backend", "inductor", "--precision", "fp32", "--device", "cpu",
                    "--min", "1x3x16x16", "--opt", "1x3x32x48", "--max", MAX)
    assert result.exit_code == 0, result.output
    return model, copy


def test_engine_manifest_of_a_real_build(inductor_export):
    import torch

    _, out = inductor_export
    export = load_manifest(out)
    engine = load_engine_manifest(out / "engines" / "inductor")
    d = engine.data
    assert (d["backend"], d["precision"], d["machine"]["device"]) == ("inductor", "fp32", "cpu")
    assert d["versions"]["torch"] == torch.__version__ and d["machine"]["cpu_isa"] is not None
    assert [p.max for p in engine.profiles] == [(2, 3, 64, 96)]
    for g in ("encoder", "transform", "decoder"):
        info = d["graphs"][g]
        assert info["source"]["sha256"] == export.data["torch_programs"][g]["sha256"]
        assert info["sha256"] == sha256_of(engine.graph_file(g))
    assert engine.graph_profiles("transform")[0]["content_relu4_1"].max == (2, 512, 8, 12)
    assert d["options"]["max"] == [MAX] and d["options"]["device"] == "cpu"


def test_inductor_matches_the_reference_on_unseen_inputs(inductor_export):
    from stylert.core.stylize import StylizeOptions
    from stylert.models.stylize import ReferenceStylizer
    from stylert.runtime.stylizer import RuntimeStylizer

    model, out = inductor_export
    rng = np.random.default_rng(123)
    content = rng.random((50, 70, 3), dtype=np.float32)  # padded to 56x72 inside the profile, cropped back
    # odd style sides: AOTInductor once sized the ceil-mode pools of such a style from the even size it
    # compiled with, leaving uninitialised memory in the style's statistics (NaN in some runs)
    styles = [rng.random((63, 57, 3), dtype=np.float32), rng.random((45, 39, 3), dtype=np.float32) ** 2]
    options = StylizeOptions(alpha=0.7, weights=(0.4, 0.6))
    reference = np.clip(ReferenceStylizer(model, "cpu").stylize(content, styles, options), 0, 1)
    with Pipeline.open(out, "inductor", "cpu") as pipe:
        ours = RuntimeStylizer(pipe).stylize(content, styles, options)
        batch = pipe.stylize(np.stack([content, content[::-1]]), [pipe.encode_style(s) for s in styles],
                             alpha=0.7, weights=[0.4, 0.6])
    value = psnr(ours, reference)
    print(f"inductor (fp32, CPU) vs PyTorch reference: PSNR {value:.1f} dB, max |diff| "
          f"{np.abs(ours - reference).max():.2e}")
    assert ours.shape == content.shape and value >= 50.0
    np.testing.assert_allclose(batch[0], ours, atol=1e-5)
    with Pipeline.open(out, "inductor", "cpu") as pipe, Pipeline.open(out, "torch", "cpu") as ref:
        want = ref.encode_style(styles[0]).arrays  # the same odd style, again and again: finite, the reference's
        for _ in range(6):
            for name, value in pipe.encode_style(styles[0]).arrays.items():
                assert np.isfinite(value).all(), name
                np.testing.assert_allclose(value, want[name], rtol=1e-4, atol=1e-4 * float(np.abs(want[name]).max()))


def test_each_graph_matches_the_torch_program(inductor_export):
    _, out = inductor_export
    rng = np.random.default_rng(7)
    image = rng.random((2, 3, 48, 64), dtype=np.float32)
    with Pipeline.open(out, "torch", "cpu") as ref, Pipeline.open(out, "inductor", "cpu") as ours:
        feeds = {"image": image}
        for graph in ("encoder", "transform", "decoder"):
            want = ref.runners[graph].infer(feeds)
            got = ours.runners[graph].infer(feeds)
            for name, value in want.items():
                err = float(np.abs(got[name] - value).max())
                assert err <= 1e-4 * max(1.0, float(np.abs(value).max())), (graph, name, err)
            if graph == "encoder":
                feeds = {"content_relu4_1": want["relu4_1"], "style_relu4_1_mean": want["relu4_1_mean"][::-1].copy(),
                         "style_relu4_1_std": want["relu4_1_std"][::-1].copy(), "alpha": np.array([0.6], np.float32)}
            elif graph == "transform":
                feeds = {"relu4_1": want["stylized_relu4_1"]}


def test_shapes_are_checked_before_every_call(inductor_export):
    _, out = inductor_export
    with Pipeline.open(out, "inductor", "cpu") as pipe:
        enc, tr, dec = (pipe.runners[g] for g in ("encoder", "transform", "decoder"))
        with pytest.raises(EngineShapeError, match="image 1x3x72x96") as err:
            enc.infer({"image": np.zeros((1, 3, 72, 96), np.float32)})  # taller than the profile's 64
        assert "--max 2x3x72x96" in str(err.value) and "--force" in str(err.value)
        with pytest.raises(EngineShapeError, match="image 3x3x32x32"):
            enc.infer({"image": np.zeros((3, 3, 32, 32), np.float32)})  # batch 3 > 2
        feeds = {"content_relu4_1": np.ones((2, 512, 4, 6), np.float32),
                 "style_relu4_1_mean": np.ones((1, 512, 1, 1), np.float32),
                 "style_relu4_1_std": np.ones((2, 512, 1, 1), np.float32), "alpha": np.ones(1, np.float32)}
        with pytest.raises(EngineShapeError, match="disagree on N"):
            tr.infer(feeds)
        with pytest.raises(EngineShapeError, match="at axis 1"):
            dec.infer({"relu4_1": np.ones((1, 256, 4, 6), np.float32)})
        assert dec.infer({"relu4_1": np.ones((1, 512, 4, 6), np.float32)})["image"].shape == (1, 3, 32, 48)


def test_nan_from_an_engine_is_an_error_naming_the_graph(inductor_export):
    _, out = inductor_export
    with Pipeline.open(out, "inductor", "cpu") as pipe:
        bad = np.ones((1, 512, 4, 6), np.float32)
        bad[0, 0, 0, 0] = np.nan
        with pytest.raises(EngineOutputError, match="inductor decoder engine .* NaN or Inf in its output image"):
            pipe.runners["decoder"].infer({"relu4_1": bad})


def test_altered_engines_are_refused_with_the_rebuild_command(inductor_export, tmp_path):
    _, out = inductor_export
    copy = tmp_path / "adain"
    shutil.copytree(out, copy)
    engines = copy / "engines" / "inductor"
    manifest = json.loads((engines / "engine.json").read_text())

    def refused(**edits) -> str:
        data = json.loads(json.dumps(manifest))
        for path, value in edits.items():
            node = data
            *parents, leaf = path.split("__")
            for p in parents:
                node = node[p]
            node[leaf] = value
        (engines / "engine.json").write_text(json.dumps(data))
        with pytest.raises(StaleEngineError) as err:
            Pipeline.open(copy, "inductor", "cpu")
        return str(err.value)

    assert "built on CPU Imaginary 9000" in refused(machine__name="Imaginary 9000")
    assert "compiled by torch 1.0" in refused(versions__torch="1.0")
    assert "the decoder graph changed" in refused(graphs__decoder__source__sha256="ab" * 32)
    (engines / "engine.json").write_text(json.dumps(manifest))
    with open(engines / "transform.pt2", "ab") as f:
        f.write(b"\0")
    from PIL import Image

    Image.fromarray(np.full((32, 32, 3), 128, np.uint8)).save(tmp_path / "c.png")
    result = invoke("stylize", "--engine", copy, "--backend", "inductor", "--device", "cpu", "-c", tmp_path / "c.png",
                    "-s", tmp_path / "c.png", "-o", tmp_path / "o.png")
    assert result.exit_code == 1 and "Traceback" not in result.output and not (tmp_path / "o.png").exists()
    (line,) = [ln for ln in result.output.splitlines() if ln.startswith("Error:")]
    assert "transform.pt2 does not match its SHA-256" in line
    assert f"stylert build {copy} --backend inductor --precision fp32 --device cpu" in line and "--force" in line


def test_build_keeps_an_up_to_date_engine_and_stylize_uses_it(inductor_export, tmp_path):
    from PIL import Image

    _, out = inductor_export
    before = sha256_of(out / "engines" / "inductor" / "decoder.pt2")
    result = invoke("build", out, "--backend", "inductor", "--precision", "fp32", "--device", "cpu",
                    "--min", "1x3x16x16", "--opt", "1x3x32x48", "--max", MAX)
    assert result.exit_code == 0 and "up to date" in result.output, result.output
    assert sha256_of(out / "engines" / "inductor" / "decoder.pt2") == before
    rng = np.random.default_rng(3)
    for name, size in (("c.png", (40, 60)), ("s.png", (48, 48))):
        Image.fromarray((rng.random(size + (3,)) * 255).astype(np.uint8)).save(tmp_path / name)
    result = invoke("stylize", "--engine", out, "--backend", "inductor", "--device", "cpu", "-c", tmp_path / "c.png",
                    "-s", tmp_path / "s.png", "--content-size", 0, "--style-size", 0, "-o", tmp_path / "o.png")
    assert result.exit_code == 0, result.output
    assert Image.open(tmp_path / "o.png").size == (60, 40)
    too_big = invoke("stylize", "--engine", out, "--backend", "inductor", "--device", "cpu", "-c", tmp_path / "c.png",
                     "-s", tmp_path / "s.png", "--content-size", 200, "-o", tmp_path / "big.png")
    assert too_big.exit_code == 1 and "no optimization profile" in too_big.output and "Traceback" not in too_big.output
    assert not (tmp_path / "big.png").exists()
