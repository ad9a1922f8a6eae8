"""Export: every family's three graphs validate against PyTorch, route from the manifest alone
(a script with no stylert code), at sizes the export never saw; tampering is refused."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import onnx
import pytest
import torch
from click.testing import CliRunner
from conftest import psnr
from stylert.cli import main
from stylert.errors import OutputError
from stylert.export.errors import AtolError, ExportError, ManifestError
from stylert.export.exporter import export_model
from stylert.export.manifest import load_manifest
from stylert.export.specs import get_export_spec, list_export_specs
from stylert.export.validate import validate
from stylert.models import create_model, he_init, list_families
from stylert.models.checkpoints import save_checkpoint

FAMILIES = list_families()


def seeded(family):
    return he_init(create_model(family))


def small_sizes(model):
    """Two validation sizes: non-square, not multiples of 64, one with batch 2."""
    m = model.size_multiple
    return [(4 * m, 6 * m), (72, 120)] if m == 8 else [(4 * m, 6 * m), (80, 112)]


def tiny_size(model):
    return 2 * model.size_multiple, 3 * model.size_multiple


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture(scope="module", params=FAMILIES)
def fp32_export(request, tmp_path_factory):
    family = request.param
    model = seeded(family)
    out = tmp_path_factory.mktemp(f"export-{family}") / "out"
    result = export_model(model, out, sizes=small_sizes(model))
    return model, result


def test_every_family_has_an_export_spec():
    assert set(FAMILIES) <= set(list_export_specs())
    with pytest.raises(ExportError, match="no export spec"):
        class Fake:
            family = "no-such-family"
        get_export_spec(Fake())


def test_export_validates_every_graph_and_end_to_end(fp32_export):
    model, result = fp32_export
    report = result.report
    assert report.status == "passed" and not report.failures
    checked = {(c.graph, c.output) for c in report.checks}
    m = result.manifest
    for graph in ("encoder", "transform", "decoder"):
        for out in m["graphs"][graph]["outputs"]:
            assert (graph, out["name"]) in checked
    ends = [c for c in report.checks if c.graph == "end-to-end"]
    assert len(ends) == 2 and all(c.psnr >= 60 for c in ends)
    assert any(c.inputs.startswith("style") for c in report.checks)  # the encoder also ran on a style image
    assert sorted(p.name for p in result.out_dir.iterdir()) == [
        "decoder.onnx", "decoder.pt2", "encoder.onnx", "encoder.pt2", "manifest.json", "transform.onnx",
        "transform.pt2"]
    assert [p.name for p in result.out_dir.parent.iterdir()] == ["out"]  # no temporary directory left
    assert m["validation"]["status"] == "passed" and m["format_version"] == 1
    assert m["size_multiple"] == model.size_multiple and m["alpha"]["levels"] == list(model.alpha_levels)
    assert set(m["versions"]) >= {"torch", "onnx", "onnxruntime"}


def test_graphs_are_standard_onnx_with_symbolic_axes(fp32_export):
    model, result = fp32_export
    for graph in ("encoder", "transform", "decoder"):
        proto = onnx.load(str(result.out_dir / f"{graph}.onnx"))
        assert proto.ir_version == 8 and [(o.domain, o.version) for o in proto.opset_import] == [("", 18)]
        assert {n.domain for n in proto.graph.node} <= {""} and not proto.functions
        onnx.checker.check_model(proto, full_check=True)
        pads = [n for n in proto.graph.node if n.op_type == "Pad"]
        if graph != "transform" or model.family == "sanet":
            modes = {a.s.decode() for n in pads for a in n.attribute if a.name == "mode"}
            assert modes == {"reflect"}, graph
        first = proto.graph.input[0].type.tensor_type.shape.dim
        assert first[0].dim_param == "N"
        image = proto.graph.output[0] if graph == "decoder" else proto.graph.input[0]
        if graph != "transform":
            assert [d.dim_param or d.dim_value for d in image.type.tensor_type.shape.dim] == ["N", 3, "H", "W"]


ROUTING_SCRIPT = textwrap.dedent("""
    # Routes the three graphs from manifest.json alone: json, numpy and onnxruntime, no stylert.
    import json, sys
    from pathlib import Path
    import numpy as np
    import onnxruntime as ort

    root, work = Path(sys.argv[1]), Path(sys.argv[2])
    manifest = json.loads((root / "manifest.json").read_text())
    sessions = {g: ort.InferenceSession(str(root / info["file"]), providers=["CPUExecutionProvider"])
                for g, info in manifest["graphs"].items()}
    def run(graph, feeds):
        names = [o["name"] for o in manifest["graphs"][graph]["outputs"]]
        return dict(zip(names, sessions[graph].run(names, feeds)))
    images = {"content": np.load(work / "content.npy"), "style": np.load(work / "style.npy")}
    encoded = {kind: run("encoder", {"image": img}) for kind, img in images.items()}
    alpha = np.load(work / "alpha.npy")
    def source(src, produced):
        if "runtime" in src:
            return alpha
        if src["graph"] == "encoder":
            return encoded[src["image"]][src["output"]]
        return produced[src["graph"]][src["output"]]
    produced = {}
    for graph in ("transform", "decoder"):
        feeds = {name: source(src, produced) for name, src in manifest["routing"][graph].items()}
        produced[graph] = run(graph, feeds)
    result = manifest["routing"]["result"]
    np.save(work / "image.npy", produced[result["graph"]][result["output"]])
    assert not any(m.startswith("stylert") for m in sys.modules), "the script imported stylert"
""")


def test_manifest_routes_without_stylert_at_unseen_sizes(fp32_export, tmp_path):
    model, result = fp32_export
    m = model.size_multiple
    rng = np.random.default_rng(7)
    content = rng.random((3, 3, 3 * m, 11 * m), dtype=np.float32)  # batch 3, wide, not seen by the export
    style = rng.random((3, 3, 5 * m + 5, 2 * m + 3), dtype=np.float32)  # tall, not a multiple of 8
    alpha = np.linspace(0.5, 1.0, len(model.alpha_levels)).astype(np.float32)
    for name, value in (("content", content), ("style", style), ("alpha", alpha)):
        np.save(tmp_path / f"{name}.npy", value)
    (tmp_path / "route.py").write_text(ROUTING_SCRIPT)
    done = subprocess.run([sys.executable, str(tmp_path / "route.py"), str(result.out_dir), str(tmp_path)],
                          capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    got = np.load(tmp_path / "image.npy")
    with torch.no_grad():
        c, s = torch.from_numpy(content), torch.from_numpy(style)
        want = model.decode(model.transfer(model.encode(c), model.encode_style(s), tuple(alpha.tolist()))).numpy()
    assert got.shape == want.shape == (3, 3, 3 * m, 11 * m)
    assert np.abs(got - want).max() <= 1e-3 + 1e-4 * np.abs(want).max()


def test_inspect_shows_the_routing(fp32_export):
    model, result = fp32_export
    shown = invoke("inspect", result.out_dir)
    assert shown.exit_code == 0, shown.output
    assert f"stylert ONNX export: {model.family}" in shown.output
    for lvl in model.decoder_inputs:
        assert f"transform.stylized_{lvl}" in shown.output and f"--> decoder.{lvl}" in shown.output
    assert "--> transform.alpha [" in shown.output


def _copy(result, tmp_path):
    target = tmp_path / "copy"
    shutil.copytree(result.out_dir, target)
    return target


def test_tampered_graph_is_refused(fp32_export, tmp_path):
    _, result = fp32_export
    target = _copy(result, tmp_path)
    data = bytearray((target / "decoder.onnx").read_bytes())
    data[-10] ^= 0xFF
    (target / "decoder.onnx").write_bytes(bytes(data))
    with pytest.raises(ManifestError, match=r"decoder\.onnx: does not match its SHA-256"):
        load_manifest(target)
    shown = invoke("inspect", target)
    assert shown.exit_code == 1 and "SHA-256" in shown.output and "re-export" in shown.output
    (target / "encoder.onnx").unlink()
    with pytest.raises(ManifestError, match="encoder graph named by the manifest is missing"):
        load_manifest(target)


def test_manifest_naming_a_missing_tap_is_refused(fp32_export, tmp_path):
    model, result = fp32_export
    target = _copy(result, tmp_path)
    path = target / "manifest.json"
    original = json.loads(path.read_text())
    tap = model.content_taps[0]

    bad = json.loads(json.dumps(original))
    bad["routing"]["transform"][f"content_{tap}"]["output"] = "relu9_1"
    path.write_text(json.dumps(bad))
    with pytest.raises(ManifestError, match="encoder output 'relu9_1', which encoder.onnx does not produce"):
        load_manifest(target)

    # Consistent within the manifest, but the encoder graph has no such output.
    bad = json.loads(json.dumps(original))
    bad["graphs"]["encoder"]["outputs"].append({"name": "relu9_1", "dtype": "float32", "shape": ["N", 512, 1, 1]})
    bad["routing"]["transform"][f"content_{tap}"]["output"] = "relu9_1"
    path.write_text(json.dumps(bad))
    with pytest.raises(ManifestError, match="relu9_1, but the graph has"):
        load_manifest(target)

    bad = json.loads(json.dumps(original))
    bad["format_version"] = 99
    path.write_text(json.dumps(bad))
    with pytest.raises(ManifestError, match="newer than this stylert reads.*upgrade stylert"):
        load_manifest(target)


def test_values_beyond_tolerance_fail_with_a_report(fp32_export, tmp_path):
    model, result = fp32_export
    target = _copy(result, tmp_path)
    proto = onnx.load(str(target / "decoder.onnx"))
    last_conv = [n for n in proto.graph.node if n.op_type == "Conv"][-1]
    weight = next(i for i in proto.graph.initializer if i.name == last_conv.input[1])
    values = onnx.numpy_helper.to_array(weight) * 1.01  # 1 % off: far beyond tolerance, still a plausible image
    weight.CopyFrom(onnx.numpy_helper.from_array(values.astype(np.float32), weight.name))
    onnx.save(proto, str(target / "decoder.onnx"))
    spec = get_export_spec(model)
    graphs = spec.graphs("fp32")
    files = {g: target / f"{g}.onnx" for g in graphs}
    with pytest.raises(AtolError, match="differ from PyTorch beyond tolerance") as err:
        validate(model, graphs, files, result.manifest["routing"], "fp32", [tiny_size(model)],
                 spec.TOLERANCES["fp32"], spec.MIN_PSNR["fp32"])
    text = err.value.report.format()
    assert "FAIL" in text and "decoder" in text


def test_a_graph_onnxruntime_cannot_run_is_reported_not_skipped(fp32_export):
    from stylert.export.validate import make_session

    model, result = fp32_export

    class NotImplemented(Exception):  # the type ONNX Runtime raises for a missing kernel (pybind11 state)
        pass

    def factory(path, providers):
        if path.name == "transform.onnx":
            raise NotImplemented("Could not find an implementation for Softmax(13) node with name 'x'")  # noqa: F901
        return make_session(path, providers)

    spec = get_export_spec(model)
    graphs = spec.graphs("fp32")
    files = {g: result.out_dir / f"{g}.onnx" for g in graphs}
    report = validate(model, graphs, files, result.manifest["routing"], "fp16", [tiny_size(model)],
                      spec.TOLERANCES["fp16"], spec.MIN_PSNR["fp16"], session_factory=factory)
    assert report.status == "not-run"
    assert "NOT RUN transform: Could not find an implementation for Softmax" in report.format()
    assert {c.graph for c in report.checks} == {"encoder", "decoder"}  # no end to end without the transform


@pytest.mark.parametrize("family", FAMILIES)
def test_fp16_export_from_a_stylert_checkpoint(family, tmp_path):
    model = seeded(family)
    checkpoint = save_checkpoint(model, tmp_path / "model.pt")
    out = tmp_path / "fp16"
    size = small_sizes(model)[0]
    done = invoke("export", "--model", family, "--checkpoint", checkpoint, "-o", out, "--precision", "fp16",
                  "--validate-size", f"{size[0]}x{size[1]}")
    assert done.exit_code == 0, done.output
    assert "end-to-end" in done.output and "dB (min 30)" in done.output and f"wrote {out}" in done.output
    manifest = load_manifest(out).data
    # ONNX Runtime's CPU provider runs every fp16 graph here (the not-run path has its own test above).
    assert manifest["precision"] == "fp16" and manifest["validation"]["status"] == "passed", done.output
    for graph in ("encoder", "transform", "decoder"):
        proto = onnx.load(str(out / f"{graph}.onnx"))
        inferred = onnx.shape_inference.infer_shapes(proto)
        types = {v.name: v.type.tensor_type.elem_type for v in
                 list(inferred.graph.value_info) + list(inferred.graph.input) + list(inferred.graph.output)}
        io = list(proto.graph.input) + list(proto.graph.output)
        assert all(v.type.tensor_type.elem_type == onnx.TensorProto.FLOAT for v in io)
        weights = [i for i in proto.graph.initializer if len(i.dims) == 4]
        # every conv weight is float16; AdaIN's transform has no weights at all, attention's has convs
        has_weights = graph != "transform" or any(k.startswith("transform.") for k in model.state_dict())
        assert len(weights) > 0 if has_weights else weights == [], (graph, len(weights))
        assert all(i.data_type == onnx.TensorProto.FLOAT16 for i in weights), graph
        for node in proto.graph.node:
            if node.op_type in ("ReduceMean", "Softmax"):  # statistics and softmax stay float32
                assert types[node.input[0]] == onnx.TensorProto.FLOAT, (graph, node.op_type)


def test_existing_output_is_refused_and_nothing_is_left_on_failure(tmp_path, monkeypatch):
    import stylert.export.exporter as exporter

    model = seeded("adain")
    out = tmp_path / "out"
    out.mkdir()
    (out / "mine.txt").write_text("keep me")
    with pytest.raises(OutputError, match="already exists"):
        export_model(model, out)
    with pytest.raises(OutputError, match="not a stylert export directory"):
        export_model(model, out, overwrite=True)
    assert (out / "mine.txt").read_text() == "keep me"
    with pytest.raises(ExportError, match="multiples of 8"):
        export_model(model, tmp_path / "new", sizes=[(60, 96)])

    def fake_export(graph, example, path, opset, **kwargs):
        path.write_bytes(b"not really onnx")

    def failing_validate(*args, **kwargs):
        raise AtolError("decoder image differs")

    monkeypatch.setattr(exporter, "export_graph", fake_export)
    monkeypatch.setattr(exporter, "validate", failing_validate)
    with pytest.raises(AtolError):
        export_model(model, tmp_path / "new")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_cli_errors_are_one_line(tmp_path, use_shared_weights, monkeypatch):
    from stylert.core import shipped as registry

    monkeypatch.setattr(registry, "SHIPPED_DIR", tmp_path / "no-shipped-weights")
    done = invoke("export", "-o", tmp_path / "x", "--validate-size", "big")
    assert done.exit_code == 2 and "HEIGHTxWIDTH" in done.output
    done = invoke("export", "-o", tmp_path / "x", "--validate-size", "100x100")
    assert done.exit_code == 1 and "Error: validation sizes 100x100 do not fit adain" in done.output
    done = invoke("export", "--model", "sanet", "-o", tmp_path / "x")
    assert done.exit_code == 1 and "sanet has no public or shipped weights" in done.output
    assert not (tmp_path / "x").exists()


def test_help_and_manifest_reader_import_no_torch():
    code = ("import sys\nfrom stylert.cli import main\nimport stylert.export.manifest\n"
            "try:\n    main(['export', '--help'])\nexcept SystemExit:\n    pass\n"
            "assert 'torch' not in sys.modules, 'torch imported'\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "--validate-size" in done.stdout and "--precision" in done.stdout


# --------------------------------------------------------------------------------------
# The public AdaIN weights
# --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def real_export(tmp_path_factory, weights_root):
    out = tmp_path_factory.mktemp("real") / "adain"
    env_runner = CliRunner(env={"STYLERT_WEIGHTS": str(weights_root), "STYLERT_CACHE": "/nonexistent-stylert-cache"})
    done = env_runner.invoke(main, ["export", "-o", str(out), "--validate-size", "128x192",
                                    "--validate-size", "136x200"])
    assert done.exit_code == 0, done.output
    print(done.output)
    return out, done.output


@pytest.mark.real_weights
def test_real_adain_export_matches_pytorch_on_a_shared_image(real_export, adain_model, shared_images):
    import onnxruntime as ort
    from stylert.core.images import crop_to, load_image, pad_to_multiple
    from stylert.export.manifest import chain
    from stylert.models.stylize import ReferenceStylizer

    out, printed = real_export
    assert "end-to-end" in printed and "FAIL" not in printed
    manifest = load_manifest(out)
    sessions = {g: ort.InferenceSession(str(manifest.graph_path(g)), providers=["CPUExecutionProvider"])
                for g in ("encoder", "transform", "decoder")}

    def run(graph, feeds):
        names = [o["name"] for o in manifest.outputs(graph)]
        return dict(zip(names, sessions[graph].run(names, feeds)))

    content = load_image(shared_images / "content" / "sailboat.jpg", size=200)
    style = load_image(shared_images / "style" / "la_muse.jpg", size=160)
    padded, hw = pad_to_multiple(content, manifest.size_multiple)
    to_nchw = lambda a: np.ascontiguousarray(a.transpose(2, 0, 1)[None])  # noqa: E731
    image = chain(run, manifest.routing, to_nchw(padded), to_nchw(style), np.array([0.8], np.float32))
    got = crop_to(image[0].transpose(1, 2, 0), hw)
    want = ReferenceStylizer(adain_model, "cpu").stylize(content, [style], _options(0.8))
    value = psnr(np.clip(got, 0, 1), np.clip(want, 0, 1))
    print(f"real AdaIN, chained ONNX graphs vs PyTorch on sailboat.jpg + la_muse.jpg: PSNR {value:.1f} dB")
    assert got.shape == content.shape and value >= 60


def _options(alpha):
    from stylert.models.stylize import StylizeOptions

    return StylizeOptions(alpha=alpha)


@pytest.mark.parametrize("max_abs, psnr, want", [
    (0.65, 21.5, "PSNR 21.5 dB < 22"),           # only the PSNR failed: the max abs diff is not blamed
    (0.9, 30.0, "max abs diff 0.9 > 0.75"),
    (0.9, 21.5, "max abs diff 0.9 > 0.75 and PSNR 21.5 dB < 22"),
])
def test_a_failed_check_names_only_the_criteria_that_failed(max_abs, psnr, want):
    from stylert.core.checks import Check

    c = Check("end-to-end", "image", "content 1x3x64x64", (1, 3, 64, 64), max_abs, max_abs, 0.75, 0.0, 0.75, psnr,
              22.0, True)
    assert not c.ok and c.why() == want
