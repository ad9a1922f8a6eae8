"""INT8 exports: the uint8 pad rewrite, calibration sets, an int8 export of the public AdaIN
(calibrated, sensitivity pass, validated against float32), the runtime and compare on it, and
the int8 build requests that must be refused."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from stylert.export.quantize import TENSORRT_SUFFIX, calibration_set, fold_uint8_pads, tensorrt_qdq_problems

DATASET = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "train-v1"


def _qdq_pad_model(path: Path, mode: str = "reflect", scales=(0.05, 0.05), zero_points=(7, 7)) -> None:
    """x -> Q -> DQ -> Pad(mode) -> Q -> DQ -> y, as onnxruntime.quantization writes it."""
    from onnx import TensorProto, helper, numpy_helper

    inits = [numpy_helper.from_array(np.array(scales[0], np.float32), "s0"),
             numpy_helper.from_array(np.array(zero_points[0], np.uint8), "z0"),
             numpy_helper.from_array(np.array(scales[1], np.float32), "s1"),
             numpy_helper.from_array(np.array(zero_points[1], np.uint8), "z1"),
             numpy_helper.from_array(np.array([0, 0, 2, 1, 0, 0, 2, 1], np.int64), "pads")]
    nodes = [helper.make_node("QuantizeLinear", ["x", "s0", "z0"], ["xq"], name="q0"),
             helper.make_node("DequantizeLinear", ["xq", "s0", "z0"], ["xd"], name="dq0"),
             helper.make_node("Pad", ["xd", "pads"], ["p"], name="pad", mode=mode),
             helper.make_node("QuantizeLinear", ["p", "s1", "z1"], ["pq"], name="q1"),
             helper.make_node("DequantizeLinear", ["pq", "s1", "z1"], ["y"], name="dq1")]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 5, 6])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2, 9, 8])], inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], ir_version=8), str(path))


def _run(path: Path, x: np.ndarray) -> np.ndarray:
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]


def test_uint8_pad_rewrite_is_exact(tmp_path):
    path = tmp_path / "m.onnx"
    _qdq_pad_model(path)
    x = np.random.default_rng(0).uniform(-0.3, 12, (1, 2, 5, 6)).astype(np.float32)
    before = _run(path, x)
    assert fold_uint8_pads(path) == 1
    ops = [n.op_type for n in onnx.load(str(path)).graph.node]
    assert ops == ["QuantizeLinear", "Pad", "DequantizeLinear"]
    np.testing.assert_array_equal(_run(path, x), before)
    assert before.shape == (1, 2, 9, 8)


@pytest.mark.parametrize("kwargs", [{"scales": (0.05, 0.06)}, {"zero_points": (7, 8)}, {"mode": "constant"}])
def test_uint8_pad_rewrite_leaves_other_pads(tmp_path, kwargs):
    """Different scales or zero points, or a constant pad (its value would change): not rewritten."""
    path = tmp_path / "m.onnx"
    _qdq_pad_model(path, **kwargs)
    assert fold_uint8_pads(path) == 0
    assert [n.op_type for n in onnx.load(str(path)).graph.node].count("QuantizeLinear") == 2


def _conv_model(path: Path) -> None:
    """x -> Conv (with a bias) -> Relu -> Conv (with a bias) -> y: float32, for quantization tests."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(3)
    inits = [numpy_helper.from_array(rng.normal(0, 0.3, (4, 3, 3, 3)).astype(np.float32), "w0"),
             numpy_helper.from_array(rng.normal(0, 0.3, (4,)).astype(np.float32), "b0"),
             numpy_helper.from_array(rng.normal(0, 0.3, (2, 4, 3, 3)).astype(np.float32), "w1"),
             numpy_helper.from_array(rng.normal(0, 0.3, (2,)).astype(np.float32), "b1")]
    nodes = [helper.make_node("Conv", ["x", "w0", "b0"], ["c0"], name="conv0", pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c0"], ["r0"], name="relu0"),
             helper.make_node("Conv", ["r0", "w1", "b1"], ["y"], name="conv1", pads=[1, 1, 1, 1])]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2, 8, 8])], inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), str(path))


def test_tensorrt_qdq_graph_has_float_biases_and_int8_zero_points(tmp_path):
    """The TensorRT variant: every DequantizeLinear reads INT8 (TensorRT's ONNX parser takes INT8/FP8/INT4
    only), zero points int8 0, conv biases float32 initializers; ONNX Runtime's default (INT32 biases
    behind a DequantizeLinear) is what the check reports."""
    from onnx import TensorProto
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from stylert.export.quantize import _Reader, quantize_graph

    src = tmp_path / "f.onnx"
    _conv_model(src)
    feeds = [{"x": np.random.default_rng(i).random((1, 3, 8, 8), np.float32)} for i in range(3)]
    trt = tmp_path / "trt.onnx"
    quantize_graph(src, trt, feeds, "encoder", target="tensorrt")
    model = onnx.load(str(trt))
    assert tensorrt_qdq_problems(model) == []
    inits = {i.name: i for i in model.graph.initializer}
    convs = [n for n in model.graph.node if n.op_type == "Conv"]
    assert len(convs) == 2 and all(inits[n.input[2]].data_type == TensorProto.FLOAT for n in convs)
    dq = [n for n in model.graph.node if n.op_type == "DequantizeLinear"]
    assert dq and not any(inits[n.input[0]].data_type == TensorProto.INT32 for n in dq if n.input[0] in inits)
    # ONNX Runtime's default QuantizeBias=True: INT32 biases, which the check names
    default = tmp_path / "default.onnx"
    quantize_static(str(src), str(default), _Reader(list(feeds)), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QInt8, weight_type=QuantType.QInt8,
                    calibrate_method=CalibrationMethod.MinMax,
                    extra_options={"ActivationSymmetric": True, "WeightSymmetric": True})
    problems = tensorrt_qdq_problems(default)
    int32 = [p for p in problems if "dequantizes INT32" in p]
    assert [p.split()[1].rstrip(":") for p in int32] == ["b0_DequantizeLinear", "b1_DequantizeLinear"], problems
    # an int8 export made before biases were kept float is refused before any TensorRT build
    from stylert.engines.tensorrt_build import check_source
    from stylert.errors import EngineBuildError

    with pytest.raises(EngineBuildError, match="dequantizes INT32.*TensorRT's ONNX parser would refuse it"):
        check_source(default, "encoder", "int8")
    check_source(trt, "encoder", "int8")
    # the CPU variant (uint8 activations) is not one for TensorRT either
    cpu = tmp_path / "cpu.onnx"
    quantize_graph(src, cpu, feeds, "encoder", target="cpu")
    assert any("zero point UINT8" in p for p in tensorrt_qdq_problems(cpu))


def _image_dir(root: Path, names: list[str], seed: int) -> None:
    from PIL import Image

    root.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for name in names:
        Image.fromarray(rng.integers(0, 255, (40, 52, 3), dtype=np.uint8)).save(root / name)


def _skip_concat_decoder(path: Path) -> None:
    """A decoder with a skip connection, as the multi-level ones: ``x`` -> Conv -> Relu, concatenated
    with ``skip`` upsampled (Resize), -> reflection Pad -> Conv -> ``image``."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(rng.normal(0, 0.2, (4, 4, 3, 3)).astype(np.float32), "w1"),
             numpy_helper.from_array(rng.normal(0, 0.2, (3, 8, 3, 3)).astype(np.float32), "w2"),
             numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "scales"),
             numpy_helper.from_array(np.array([0, 0, 1, 1, 0, 0, 1, 1], np.int64), "pads")]
    nodes = [helper.make_node("Conv", ["x", "w1"], ["c1"], name="conv1", pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
             helper.make_node("Resize", ["skip", "", "scales"], ["up"], name="upsample", mode="nearest"),
             helper.make_node("Concat", ["r1", "up"], ["cat"], name="cat", axis=1),
             helper.make_node("Pad", ["cat", "pads"], ["padded"], name="pad", mode="reflect"),
             helper.make_node("Conv", ["padded", "w2"], ["image"], name="conv2")]
    value = lambda name, shape: helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)
    graph = helper.make_graph(nodes, "decoder", [value("x", [1, 4, 8, 8]), value("skip", [1, 4, 4, 4])],
                              [value("image", [1, 3, 8, 8])], inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], ir_version=8), str(path))


@pytest.mark.parametrize("skip_scale, float_nodes", [(60.0, ["upsample", "pad", "conv2"]), (1.0, None)],
                         ids=["unlike-ranges", "like-ranges"])
def test_concat_of_unlike_ranges_keeps_its_conv_float(tmp_path, skip_scale, float_nodes):
    """A Concat's inputs share one uint8 scale: when the skip input's calibrated range is far wider
    than the decoder's own features (the trained adain-multilevel: relu2_1 to 104 against relu_3's
    14), the Conv after it, the Pad between and the Resize of the skip stay float; alike ranges
    are quantized as before."""
    from stylert.export.quantize import concat_float_nodes, quantize_graph

    src, cache = tmp_path / "decoder.onnx", tmp_path / "cache.json"
    _skip_concat_decoder(src)
    rng = np.random.default_rng(1)
    feeds = [{"x": rng.random((1, 4, 8, 8), dtype=np.float32),
              "skip": (rng.random((1, 4, 4, 4), dtype=np.float32) * skip_scale)} for _ in range(4)]
    quantize_graph(src, tmp_path / "q.onnx", feeds, "decoder", (), cache)
    found = concat_float_nodes(src, cache)
    if float_nodes is None:
        assert found == []
        return
    assert [f["concat"] for f in found] == ["cat"] and found[0]["nodes"] == float_nodes
    assert found[0]["ratio"] > 4
    # quantized with those nodes excluded, conv2 reads float weights (no DequantizeLinear before it)
    quantize_graph(src, tmp_path / "q2.onnx", feeds, "decoder", found[0]["nodes"], cache)
    model = onnx.load(str(tmp_path / "q2.onnx"))
    producers = {o: n.op_type for n in model.graph.node for o in n.output}
    conv2 = next(n for n in model.graph.node if n.name == "conv2")
    conv1 = next(n for n in model.graph.node if n.name == "conv1")
    assert producers.get(conv2.input[1]) != "DequantizeLinear"
    assert producers.get(conv1.input[1]) == "DequantizeLinear"


def test_calibration_set_layouts(tmp_path):
    _image_dir(tmp_path / "pair" / "content", ["c1.png", "c2.png", "c3.png"], 0)
    _image_dir(tmp_path / "pair" / "style", ["s1.png", "s2.png"], 1)
    cal = calibration_set(tmp_path / "pair", 3, pixels=32)
    assert [p.name for p in cal.content] == ["c1.png", "c2.png", "c3.png"]
    assert [p.name for p in cal.style] == ["s1.png", "s2.png", "s1.png"]
    record = cal.to_json()
    assert record["count"] == 3 and record["content"][0]["file"] == "content/c1.png"
    from stylert.core.files import sha256_of

    assert record["style"][1]["sha256"] == sha256_of(tmp_path / "pair" / "style" / "s2.png")
    assert all(c.shape == (1, 3, 32, 32) and s.shape == (1, 3, 32, 32) for c, s in cal.pairs())

    _image_dir(tmp_path / "flat", ["a.png", "b.png", "c.png"], 2)
    flat = calibration_set(tmp_path / "flat", 2)
    assert [(c.name, s.name) for c, s in zip(flat.content, flat.style)] == [("a.png", "b.png"), ("b.png", "c.png")]


def test_calibration_errors_are_one_line(tmp_path):
    from stylert.errors import StylertError

    with pytest.raises(StylertError, match="not found") as err:
        calibration_set(tmp_path / "missing")
    assert "\n" not in str(err.value) and "--calibration" in str(err.value)
    _image_dir(tmp_path / "one", ["a.png"], 0)
    with pytest.raises(StylertError, match="2 or more"):
        calibration_set(tmp_path / "one")


def test_cli_refuses_int8_without_calibration(tmp_path):
    from click.testing import CliRunner
    from stylert.cli import main

    result = CliRunner().invoke(main, ["export", "-o", str(tmp_path / "x"), "--precision", "int8"])
    assert result.exit_code == 2 and "--precision int8 needs --calibration DIR" in result.output
    result = CliRunner().invoke(main, ["export", "-o", str(tmp_path / "x"), "--calibration", str(tmp_path)])
    assert result.exit_code == 2 and "--calibration DIR goes with --precision int8 only" in result.output
    assert not (tmp_path / "x").exists()


def test_int8_inductor_build_is_refused():
    from stylert.engines.build import resolve
    from stylert.errors import StylertError
    from stylert.runtime.engine_manifest import BuildOptions

    with pytest.raises(StylertError, match="TensorRT plans of an int8 export"):
        resolve(BuildOptions(backend="inductor", precision="int8", device="cpu"))


@pytest.fixture(scope="module")
def int8_export(tmp_path_factory, adain_model):
    """The public AdaIN exported at int8, calibrated on 3 train-v1 pairs at 64x64 (small and quick)."""
    from stylert.export import export_model

    if not (DATASET / "content").is_dir():
        pytest.skip(f"calibration images not found at {DATASET}")
    root = tmp_path_factory.mktemp("int8")
    cal_dir = root / "calibration"
    for kind in ("content", "style"):
        (cal_dir / kind).mkdir(parents=True)
        for p in sorted((DATASET / kind).iterdir())[:3]:
            shutil.copy(p, cal_dir / kind / p.name)
    cal = calibration_set(cal_dir, 3, pixels=64)
    result = export_model(adain_model, root / "out", precision="int8", sizes=[(64, 96)], calibration=cal)
    return result, cal


def test_int8_export_manifest(int8_export):
    from stylert.core.checks import MIN_PSNR_DB
    from stylert.core.files import sha256_of

    result, cal = int8_export
    m = json.loads((result.out_dir / "manifest.json").read_text())
    assert m["precision"] == "int8"
    q = m["quantization"]
    assert q["calibration"]["count"] == 3
    assert q["calibration"]["method"]["encoder"]["method"] == "Percentile"
    # the decoder: the 99.9999th percentile (worst pair and style loss), on the pairs' transform outputs
    assert q["calibration"]["method"]["decoder"] == {"method": "Percentile", "CalibPercentile": 99.9999}
    assert q["calibration"]["feeds"]["decoder"] == "the transform's output for each pair"
    assert [e["sha256"] for e in q["calibration"]["content"]] == [sha256_of(p) for p in cal.content]
    # the sensitivity pass tried every conv of the encoder (10) and the decoder (9)
    assert len(q["sensitivity"]) == 19
    ranked = [s["layer"] for s in q["sensitivity"]]
    assert set(q["float_layers"]) <= set(ranked) and len(q["float_layers"]) <= q["selection"]["max_float_layers"]
    assert q["uint8_pads"]["encoder"] > 0 and q["uint8_pads"]["decoder"] > 0
    # validated against float32: every output, end to end with the int8 floor
    v = m["validation"]
    assert v["status"] == "passed"
    e2e = [c for c in v["checks"] if c["graph"] == "end-to-end"]
    assert e2e and all(c["min_psnr"] == MIN_PSNR_DB["int8"] and c["psnr"] >= MIN_PSNR_DB["int8"] for c in e2e)
    assert {c["graph"] for c in v["checks"]} == {"encoder", "transform", "decoder", "end-to-end"}


def test_int8_graphs_are_quantized(int8_export):
    from onnx import numpy_helper

    result, _ = int8_export
    m = json.loads((result.out_dir / "manifest.json").read_text())
    for g in ("encoder", "decoder"):
        model = onnx.load(str(result.out_dir / f"{g}.onnx"))
        ops = [n.op_type for n in model.graph.node]
        assert ops.count("QuantizeLinear") >= 5
        assert [i.type.tensor_type.elem_type for i in model.graph.input] == [onnx.TensorProto.FLOAT]
        # the TensorRT variant: int8 activations with zero point 0 everywhere
        trt = result.out_dir / f"{g}{TENSORRT_SUFFIX}"
        assert m["quantization"]["tensorrt"]["graphs"][g]["file"] == trt.name
        tm = onnx.load(str(trt))
        inits = {i.name: numpy_helper.to_array(i) for i in tm.graph.initializer}
        zps = [inits[n.input[2]] for n in tm.graph.node if n.op_type in ("QuantizeLinear", "DequantizeLinear")]
        assert zps and all(z.dtype == np.int8 and not z.any() for z in zps)
        # what TensorRT's ONNX parser takes: DequantizeLinear from INT8 only (no INT32 biases)
        assert tensorrt_qdq_problems(tm) == []
        dq_inputs = [inits[n.input[0]].dtype for n in tm.graph.node
                     if n.op_type == "DequantizeLinear" and n.input[0] in inits]
        assert dq_inputs and all(d == np.int8 for d in dq_inputs)
        assert m["quantization"]["tensorrt"]["biases"] == "float32"
    transform = onnx.load(str(result.out_dir / "transform.onnx"))
    assert not any(n.op_type in ("QuantizeLinear", "DequantizeLinear") for n in transform.graph.node)


def test_int8_runs_in_the_runtime_and_compare(int8_export):
    from stylert.export.inputs import synthetic_images
    from stylert.runtime.compare import compare

    result, _ = int8_export
    content = synthetic_images(1, 64, 96, seed=5)[0].transpose(1, 2, 0)
    style = synthetic_images(1, 72, 80, seed=6)[0].transpose(1, 2, 0)
    checks = compare(result.out_dir, [("onnxruntime", "cpu")], content, style)
    assert checks and all(c.ok for c in checks), [(c.graph, c.psnr, c.max_abs, c.allowed, c.error) for c in checks]
    e2e = [c for c in checks if c.graph == "end-to-end"]
    assert e2e and e2e[0].min_psnr is not None and np.isfinite(e2e[0].psnr)


def test_quantized_graphs_skip_the_float_layout_fold(int8_export, monkeypatch):
    """The int8 encoder and decoder are loaded once, without the float layout fold (nothing to fold
    there); the float32 transform keeps the default; ``ort_fold=True`` still folds everything."""
    from stylert.runtime.backends import make_runners
    from stylert.runtime.backends.onnxrt import FOLD_ENV
    from stylert.export.manifest import load_manifest

    monkeypatch.delenv(FOLD_ENV, raising=False)
    result, _ = int8_export
    manifest = load_manifest(result.out_dir)
    runners = make_runners(manifest, "onnxruntime", "cpu")
    assert {g: r.loader.fold_layout for g, r in runners.items()} == {"encoder": False, "decoder": False,
                                                                      "transform": True}
    forced = make_runners(manifest, "onnxruntime", "cpu", ort_fold=True)
    assert all(r.loader.fold_layout for r in forced.values())


def test_cross_decoder_feeds_are_every_content_with_every_other_style(int8_export):
    from stylert.export.manifest import load_manifest
    from stylert.export.quantize import _Graphs, cross_decoder_feeds

    result, cal = int8_export
    manifest = load_manifest(result.out_dir)
    files = {g: result.out_dir / f"{g}.onnx" for g in ("encoder", "transform", "decoder")}
    pairs = cal.pairs()
    alpha = np.ones(len(manifest.data["alpha"]["levels"]), np.float32)
    feeds = cross_decoder_feeds(files, manifest.routing, pairs, alpha)
    assert len(feeds) == len(pairs) * (len(pairs) - 1) == 6
    # feed 0 is content 0 with style 1: the transform of their encodings
    g = _Graphs(files)
    content, style = g("encoder", {"image": pairs[0][0]}), g("encoder", {"image": pairs[1][1]})
    t = g("transform", {"content_relu4_1": content["relu4_1"], "style_relu4_1_mean": style["relu4_1_mean"],
                        "style_relu4_1_std": style["relu4_1_std"], "alpha": alpha})
    np.testing.assert_allclose(feeds[0]["relu4_1"], next(iter(t.values())), rtol=1e-5, atol=1e-5)
    assert not np.allclose(feeds[0]["relu4_1"], feeds[1]["relu4_1"])


def test_whole_process_benchmark_writes_its_results(int8_export, tmp_path, use_shared_weights):
    from PIL import Image
    from stylert.benchmarks import whole_process

    result, cal = int8_export
    out = tmp_path / "results"
    contents = cal.content[:2]
    assert whole_process.main(["--int8", str(result.out_dir), *[a for c in contents for a in ("-c", str(c))],
                               "-s", str(cal.style[0]), "--size", "64", "--rounds", "1", "--no-phases",
                               "-o", str(out)]) == 0
    report = json.loads((out / "whole_process.json").read_text())
    assert [r["variant"] for r in report["rows"]] == ["reference", "int8", "int8 auto"]
    ref, int8, auto = report["rows"]
    assert "--backend onnxruntime" in int8["command"] and "--backend auto" in auto["command"]
    assert all(r["peak_rss_mb"] > 50 for r in report["rows"])  # the child's own peak, from wait4
    assert ref["speedup"] == 1.0 and len(int8["times_s"]) == 1 and int8["times_s"][0] > 0
    assert abs(int8["speedup"] - ref["summary_s"]["median"] / int8["summary_s"]["median"]) < 0.01
    assert "--engine" in int8["command"] and "--engine" not in ref["command"]
    assert report["machine"]["cores"]
    assert "| int8 |" in (out / "whole_process.md").read_text()
    with Image.open(out / "whole_process.png") as img:
        assert img.width > 300
    # where the time goes: the phases of one in-process run of the engine
    phases = whole_process.phases_in_process(str(result.out_dir), [str(c) for c in contents], str(cal.style[0]),
                                             str(tmp_path), 64)
    assert set(phases) == set(whole_process.PHASES) - {"interpreter"} and all(v >= 0 for v in phases.values())
    assert len(list(tmp_path.glob("*_stylized_*.png"))) == 2
    # an export directory that is not one: a clear message before any process runs
    with pytest.raises(SystemExit, match="not an export directory"):
        whole_process.main(["--int8", str(tmp_path), "--size", "64", "--rounds", "1"])


def test_int8_graphs_benchmark_times_graphs_and_schedules(int8_export, adain_export, tmp_path):
    from PIL import Image
    from stylert.benchmarks import int8_graphs

    result, _ = int8_export
    out = tmp_path / "results"
    assert int8_graphs.main(["--fp32", str(adain_export), "--int8", str(result.out_dir), "--size", "64",
                             "--images", "2", "--rounds", "2", "-o", str(out)]) == 0
    report = json.loads((out / "int8_graphs.json").read_text())
    rows = {r["name"]: r for r in report["rows"]}
    assert set(rows) == {"fp32 encoder", "fp32 decoder", "int8 encoder", "int8 decoder", "int8 job: sequential",
                         "int8 job: batch", "int8 job: parallel 2 x 1 thread"}
    assert all(r["runs"] == 2 and 0 < r["min_ms"] <= r["median_ms"] <= r["p90_ms"] for r in rows.values())
    assert rows["int8 job: sequential"]["time_vs_sequential"] == 1.0
    assert abs(rows["int8 encoder"]["fp32_over_int8"]
               - rows["fp32 encoder"]["median_ms"] / rows["int8 encoder"]["median_ms"]) < 1e-9
    assert "| int8 job: batch |" in (out / "int8_graphs.md").read_text()
    with Image.open(out / "int8_graphs.png") as img:
        assert img.width > 300
    with pytest.raises(SystemExit):
        int8_graphs.main(["--fp32", str(tmp_path), "--int8", str(result.out_dir)])


def test_suite_has_int8_rows_beside_fp32(int8_export, tmp_path, use_shared_weights):
    from stylert.benchmarks import suite

    _, cal = int8_export
    report = suite.main(["--quick", "--family", "adain", "--shape", "64x64", "--backend", "onnxruntime",
                         "--precision", "int8", "--int8-float-layers", "none", "--calibration", str(cal.directory),
                         "--calibration-size", "2", "--seconds", "0.1", "--min-iterations", "2",
                         "--out", str(tmp_path)])
    cases = report["families"][0]["cases"]
    assert [(c["engine"], c.get("precision")) for c in cases] == [("reference", None), ("onnxruntime", "fp32"),
                                                                   ("onnxruntime", "int8")]
    assert all(c["summary"]["count"] >= 2 and c["summary"]["median"] > 0 for c in cases)
    assert report["settings"]["precisions"] == ["fp32", "int8"]
    assert report["settings"]["int8_calibration"]["count"] == 2
    assert "onnxruntime:cpu int8" in (tmp_path / "suite.md").read_text()


def test_multilevel_int8_export_keeps_the_inner_taps_unclipped(tmp_path, adain_files, monkeypatch):
    """The trained adain-multilevel at int8 passes validation: its encoder's relu2_1 and relu3_1 leave
    the encoder for the transform and feed its next layers; the encoder's 99.99th-percentile range
    clipped relu2_1's tail (30.5 where the calibration maximum is 110.5) and validation failed on
    it. Those outputs take the 99.9999th percentile now (``OUTPUT_PERCENTILE``)."""
    from stylert.errors import StylertError
    from stylert.export import export_model
    from stylert.export.quantize import OUTPUT_PERCENTILE
    from stylert.models.trained import load_shipped

    if not (DATASET / "content").is_dir():
        pytest.skip(f"calibration images not found at {DATASET}")
    try:
        model = load_shipped("adain-multilevel", public_encoder=str(adain_files[0]))
    except StylertError as err:
        pytest.skip(f"shipped adain-multilevel weights not usable here: {str(err).splitlines()[0]}")
    # The default calibration (8 pairs at 256 px; with 3 at 64 or 128 px the ranges are too narrow and
    # the decoder misses its floor), one validation size, no sensitivity pass: about a minute.
    cal = calibration_set(DATASET)
    result = export_model(model, tmp_path / "ml-int8", precision="int8", sizes=[(224, 320)], calibration=cal,
                          float_layers=[])
    m = json.loads((result.out_dir / "manifest.json").read_text())
    assert m["validation"]["status"] == "passed"
    ranges = m["quantization"]["calibration"]["outputs"]["encoder"]
    assert ranges["CalibPercentile"] == OUTPUT_PERCENTILE["encoder"]
    # the inner taps (their quantizer is shared with the next conv's input); relu4_1, the last, is not
    assert set(ranges["ranges"]) == {"relu2_1", "relu3_1"}
    relu2_1 = [c for c in m["validation"]["checks"] if c["graph"] == "encoder" and c["output"] == "relu2_1"]
    assert relu2_1 and all(c["max_abs"] <= c["allowed"] for c in relu2_1)
    # the decoder's relu2_1 skip joins its own relu_3 at ranges ~7x apart: that Conv stays float
    concats = m["quantization"]["float_concats"]["graphs"]["decoder"]
    assert [c["nodes"][-1] for c in concats] == ["node_conv2d_4"], concats


def _two_tap_export(directory: Path, decoder_inputs: tuple[str, ...]) -> Path:
    """A stand-in export with the sanet routing: the encoder gives relu4_1 and relu5_1, both
    taken for the content image; the decoder takes ``decoder_inputs`` (relu4_1: sanet; both:
    sanet-multilevel). Elementwise graphs, so every tap has the image's shape."""
    from onnx import TensorProto, helper

    directory.mkdir(parents=True)
    shape = ["N", 3, "H", "W"]
    value = lambda name: helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)
    encoder = helper.make_graph([helper.make_node("Relu", ["image"], ["relu4_1"]),
                                 helper.make_node("Neg", ["image"], ["relu5_1"])],
                                "encoder", [value("image")], [value("relu4_1"), value("relu5_1")])
    decoder_nodes = ([helper.make_node("Sum", list(decoder_inputs), ["image"])] if len(decoder_inputs) > 1
                     else [helper.make_node("Identity", list(decoder_inputs), ["image"])])
    decoder = helper.make_graph(decoder_nodes, "decoder", [value(n) for n in decoder_inputs], [value("image")])
    for name, graph in (("encoder", encoder), ("decoder", decoder)):
        onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], ir_version=8),
                  str(directory / f"{name}.onnx"))
    tap = lambda output, image: {"graph": "encoder", "output": output, "image": image}
    routing = {"encoder": {"image": {"runtime": "image"}},
               "transform": {f"{kind}_{t}": tap(t, kind)
                             for kind in ("content", "style") for t in ("relu4_1", "relu5_1")},
               "decoder": {n: {"graph": "transform", "output": f"stylized_{n}"} for n in decoder_inputs},
               "result": {"graph": "decoder", "output": "image"}}
    (directory / "manifest.json").write_text(json.dumps({"routing": routing}))
    return directory


@pytest.mark.parametrize("decoder_inputs", [("relu4_1",), ("relu4_1", "relu5_1")], ids=["sanet", "sanet-multilevel"])
def test_int8_graphs_benchmark_follows_the_sanet_routing(tmp_path, decoder_inputs):
    """The content path of the sanet families: the encoder computes relu4_1 and relu5_1 (the
    transform takes both for the content), and the decoder is fed every input it has (two for
    sanet-multilevel). The benchmark fed the decoder relu4_1 alone, so sanet-multilevel failed."""
    from stylert.benchmarks import int8_graphs

    export = _two_tap_export(tmp_path / "export", decoder_inputs)
    sessions = int8_graphs._sessions(export)
    assert sessions[2] == ["relu4_1", "relu5_1"]
    x = np.linspace(-1, 1, 2 * 3 * 4 * 4, dtype=np.float32).reshape(2, 3, 4, 4)
    expected = np.maximum(x, 0) + (-x if len(decoder_inputs) > 1 else 0)
    np.testing.assert_allclose(int8_graphs._content_path(sessions, x), expected, atol=1e-6)
    out = tmp_path / "results"
    assert int8_graphs.main(["--fp32", str(export), "--int8", str(export), "--size", "16", "--images", "2",
                             "--rounds", "1", "-o", str(out)]) == 0
    rows = {r["name"] for r in json.loads((out / "int8_graphs.json").read_text())["rows"]}
    assert {"fp32 decoder", "int8 decoder", "int8 job: batch"} <= rows


def test_int8_plans_are_strongly_typed_from_the_tensorrt_qdq_graphs(int8_export, monkeypatch, tmp_path):
    """``stylert build --precision int8`` against stand-ins of TensorRT 11 and Polygraphy: the encoder and
    decoder parse strongly typed from the TensorRT QDQ variants, the transform from its float32 graph; no
    INT8/FP16 flag; engine.json says so (it said FP16 + OBEY_PRECISION_CONSTRAINTS before)."""
    import trt_fakes
    from stylert.engines.build import build_engines
    from stylert.runtime.engine_manifest import BuildOptions

    result, _ = int8_export
    rec = trt_fakes.install(monkeypatch, "11.4.0.106")
    build_engines(result.out_dir, BuildOptions(backend="tensorrt", precision="int8", out=str(tmp_path / "e"),
                                               min=["1x3x16x16"], opt=["1x3x64x64"], max=["1x3x128x128"]))
    assert rec.networks == [(str(result.out_dir / f), True)
                            for f in ("encoder.tensorrt.onnx", "transform.onnx", "decoder.tensorrt.onnx")]
    d = json.loads((tmp_path / "e" / "tensorrt" / "engine.json").read_text())
    assert d["precision"] == "int8" and d["builder"]["flags"] == [] and d["builder"]["network_flags"] == ["STRONGLY_TYPED"]
    assert "int8 export's TensorRT QDQ graphs" in d["builder"]["precision_from"]
    assert d["graphs"]["encoder"]["source"]["file"] == "encoder.tensorrt.onnx"
    assert d["graphs"]["encoder"]["layer_output_types"]["INT8"] > 0
    assert "INT8" not in d["graphs"]["transform"]["layer_output_types"]
