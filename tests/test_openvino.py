"""The backend registry, the openvino backend (bf16 / f32 / int8 exports, model cache) and ``--backend auto``.

Accuracy is checked with the one ``Check`` of ``stylert.core.checks`` through ``stylert compare``'s
code (``runtime.compare.compare``): every graph fed the reference's inputs, and the whole chain, against
the float32 torch programs, on real weights (public AdaIN, shipped weights of the other families).
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

openvino = pytest.importorskip("openvino")

from stylert.errors import ModelError  # noqa: E402
from stylert.runtime.backends import auto, registry  # noqa: E402
from stylert.runtime.backends import openvino as ovb  # noqa: E402

pytestmark = pytest.mark.usefixtures("torch_one_thread")


def test_registry_describes_every_backend_once():
    from stylert.runtime.backends import BACKENDS, RUNNERS
    from stylert.runtime.engine_manifest import ENGINE_BACKENDS, ENGINE_SUFFIX, SOURCE_KIND
    from stylert.serving.repository import RepositoryOptions, graph_config  # noqa: F401

    assert BACKENDS == ("onnxruntime", "torch", "tensorrt", "inductor", "openvino")
    assert set(RUNNERS) == set(BACKENDS)
    assert ENGINE_BACKENDS == ("tensorrt", "inductor")
    assert ENGINE_SUFFIX == {"tensorrt": ".plan", "inductor": ".pt2"}
    assert SOURCE_KIND == {"tensorrt": "onnx", "inductor": "torch_program"}
    assert registry.PYTHON_FLAVOUR == ("onnxruntime", "openvino")
    with pytest.raises(ModelError, match="unknown backend 'nope'.*openvino"):
        registry.get("nope")
    for spec in registry.REGISTRY.values():
        assert spec.status()  # a line for doctor, installed or not


def test_device_rules_come_from_the_registry():
    from stylert.runtime.pipeline import resolve_device

    assert resolve_device("openvino", "auto") == "cpu"
    with pytest.raises(ModelError, match="openvino backend cannot run on CUDA"):
        resolve_device("openvino", "cuda")


def test_precision_is_chosen_from_the_cpu_plugin(monkeypatch):
    monkeypatch.delenv(ovb.PRECISION_ENV, raising=False)
    monkeypatch.setattr(ovb, "capabilities", lambda: ["FP32", "INT8"])
    assert ovb.resolve_precision(None) == "f32"
    with pytest.raises(ModelError, match="no bf16 support"):
        ovb.resolve_precision("bf16")
    monkeypatch.setattr(ovb, "capabilities", lambda: ["BF16", "FP32", "INT8"])
    assert ovb.resolve_precision("auto") == "bf16" and ovb.resolve_precision("fp32") == "f32"
    monkeypatch.setenv(ovb.PRECISION_ENV, "f32")
    assert ovb.resolve_precision(None) == "f32"
    with pytest.raises(ModelError, match="unknown OpenVINO precision 'int4'"):
        ovb.resolve_precision("int4")


@pytest.mark.parametrize("caps,flags,export,want", [
    (["BF16", "FP32", "INT8"], {"avx512_bf16", "avx512_vnni"}, "fp32", ("openvino", "bf16", "AVX-512 BF16")),
    (["BF16", "FP32", "INT8"], {"amx_bf16", "amx_int8", "avx512_bf16"}, "fp32", ("openvino", "bf16", "AMX")),
    (["FP32", "INT8"], {"avx2"}, "fp32", ("onnxruntime", None, "gains nothing")),
    (["FP32", "INT8"], {"avx2"}, "int8", ("onnxruntime", None, "no VNNI")),
    (["FP32", "INT8"], {"avx2", "avx_vnni"}, "int8", ("openvino", "f32", "VNNI")),
    (None, {"amx_bf16"}, "fp32", ("onnxruntime", None, "not installed")),
    (["BF16", "FP32"], {"amx_bf16"}, "fp16", ("onnxruntime", None, "float16")),
])
def test_auto_picks_by_rule(monkeypatch, caps, flags, export, want):
    monkeypatch.setattr(auto, "cpu_flags", lambda: frozenset(flags))
    monkeypatch.setattr(auto, "_openvino_caps", lambda: (caps, "openvino not installed: pip install openvino"))
    choice = auto.choose(SimpleNamespace(precision=export), "cpu")
    assert (choice.backend, choice.precision) == want[:2] and want[2] in choice.line, choice
    assert choice.device == "cpu" and "\n" not in choice.line


def _compare(export_dir, content_name, style_name, shared_images, size):
    from stylert.core.images import load_image, pad_to_multiple
    from stylert.export.manifest import load_manifest
    from stylert.runtime.compare import compare, format_checks

    m = load_manifest(export_dir).size_multiple
    content = pad_to_multiple(load_image(shared_images / "content" / content_name, size=size), m)[0]
    style = load_image(shared_images / "style" / style_name, size=size)
    checks = compare(export_dir, [("openvino", "cpu")], content, style, alpha=0.8)
    print(format_checks(checks))
    return checks


def test_openvino_public_adain_within_the_floors(adain_export, shared_images, tmp_path, monkeypatch):
    """Public AdaIN weights: bf16 where the CPU has it (else f32), every graph and end to end within
    the floors of its precision; the precision reported is the compiled model's."""
    monkeypatch.setenv(ovb.CACHE_ENV, str(tmp_path / "cache"))
    checks = _compare(adain_export, "golden_gate.jpg", "la_muse.jpg", shared_images, 256)
    assert checks and all(c.ok for c in checks), [c for c in checks if not c.ok]
    expected = ovb.resolve_precision("auto")
    if expected == "bf16":
        end = checks[-1]
        assert end.min_psnr == 35.0 and end.psnr < 80, end  # really bf16: not float32's 100+ dB
    from stylert.runtime.pipeline import Pipeline

    with Pipeline.open(adain_export, "openvino", "cpu") as pipe:
        assert pipe.precision == {"bf16": "bf16", "f32": "fp32"}[expected]
        assert all(r.inference_precision == expected for r in pipe.runners.values())
        convs = pipe.runners["encoder"].runtime_precisions()["Convolution"]
        assert convs == expected
    assert list((tmp_path / "cache").iterdir()), "OpenVINO's model cache stayed empty"


@pytest.mark.parametrize("family", ["adain-multilevel", "sanet", "sanet-multilevel"])
def test_openvino_shipped_weights_within_the_floors(family, shared_images, tmp_path, use_shared_weights):
    """Shipped weights of the other families, the attention families' softmax over all style positions
    included: in bf16 (where the CPU has it) every graph and the chain pass the bf16 floors."""
    from stylert.core import shipped
    from stylert.export.exporter import export_model
    from stylert.models.pretrained import load_reference_model

    if family not in shipped.shipped_families():
        pytest.skip(f"{family} has no shipped weights in this checkout")
    model = load_reference_model(family)
    m = model.size_multiple
    out = tmp_path / family
    assert export_model(model, out, sizes=[(8 * m, 12 * m)]).report.status == "passed"
    checks = _compare(out, "sailboat.jpg", "la_muse.jpg", shared_images, 192)
    assert checks and all(c.ok for c in checks), [c for c in checks if not c.ok]
    if family.startswith("sanet") and ovb.resolve_precision("auto") == "bf16":
        from stylert.export.manifest import load_manifest

        runner = ovb.OpenvinoRunner(load_manifest(out).graph_path("transform"), "transform", "bf16").activate()
        assert runner.runtime_precisions()["Softmax"] == "bf16"  # what was checked is the bf16 softmax


def test_openvino_second_process_loads_from_the_cache(adain_export, tmp_path, monkeypatch):
    """The second compile of the same graph imports OpenVINO's cached blob (same outputs)."""
    monkeypatch.setenv(ovb.CACHE_ENV, str(tmp_path / "ov"))
    path = adain_export / "decoder.onnx"
    first = ovb.OpenvinoRunner(path, "decoder").activate()
    blobs = sorted(p.name for p in (tmp_path / "ov").iterdir())
    assert blobs
    second = ovb.OpenvinoRunner(path, "decoder").activate()
    assert sorted(p.name for p in (tmp_path / "ov").iterdir()) == blobs  # nothing new compiled
    x = np.random.default_rng(0).random((1, 512, 16, 24), dtype=np.float32)
    a, b = first.infer({"relu4_1": x}), second.infer({"relu4_1": x})
    np.testing.assert_array_equal(a["image"], b["image"])
    print(f"decoder compile {first.compile_seconds:.2f} s, from the cache {second.compile_seconds:.2f} s")


def test_cli_stylize_engine_says_what_auto_chose(adain_export, shared_images, tmp_path):
    from click.testing import CliRunner

    from stylert.cli import main

    out = tmp_path / "out.png"
    args = ["stylize", "-c", str(shared_images / "content" / "cornell.jpg"), "-s",
            str(shared_images / "style" / "la_muse.jpg"), "-o", str(out), "--engine", str(adain_export),
            "--content-size", "96", "--style-size", "96"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    line = next(ln for ln in result.output.splitlines() if ln.startswith("export adain"))
    assert line.endswith("[--backend auto]") and auto.choose(SimpleNamespace(precision="fp32"), "cpu").line in line
    named = CliRunner().invoke(main, [*args, "--overwrite", "--backend", "openvino", "--precision", "f32"])
    assert named.exit_code == 0 and "on openvino cpu" in named.output, named.output
    wrong = CliRunner().invoke(main, [*args, "--overwrite", "--backend", "onnxruntime", "--precision", "bf16"])
    assert wrong.exit_code != 0 and "ONNX Runtime runs the export's own precision" in wrong.output


def test_triton_python_flavour_takes_openvino(adain_export, tmp_path):
    pytest.importorskip("tritonclient")
    from stylert.errors import StylertError
    from stylert.export.manifest import load_manifest
    from stylert.serving.repository import RepositoryOptions, graph_config, write_repository

    opts = RepositoryOptions(backend="python", runtime="openvino", precision="f32")
    cfg = graph_config(load_manifest(adain_export), "encoder", "adain_encoder", opts)
    assert cfg["parameters"]["runtime"]["string_value"] == "openvino"
    assert cfg["parameters"]["precision"]["string_value"] == "f32"
    with pytest.raises(StylertError, match="python flavour.*--backend python"):
        write_repository(adain_export, tmp_path / "r", RepositoryOptions(backend="onnxruntime", runtime="openvino"))
    with pytest.raises(StylertError, match="'torch' does not run inside python-backend models"):
        write_repository(adain_export, tmp_path / "r", RepositoryOptions(backend="python", runtime="torch"))


def test_evaluate_engine_entry_takes_auto_and_a_pinned_precision(adain_export):
    from stylert.evaluation.report import engine_entry

    pinned = engine_entry("ov", adain_export, "openvino@f32", "cpu")
    assert pinned.info["backend"] == "openvino" and pinned.info["runs_in"] == "fp32" and pinned.info["auto"] is None
    chosen = engine_entry("auto", adain_export, "auto", "cpu")
    line = auto.choose(SimpleNamespace(precision="fp32"), "cpu").line
    assert chosen.info["auto"] == line and chosen.info["backend"] == line.split()[0]
