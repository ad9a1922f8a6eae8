"""The strongly typed TensorRT build, against stand-ins of TensorRT and Polygraphy that record and
check the calls (tests/trt_fakes.py): network flags, builder flags, source graphs, engine.json;
the fp16 graph check; the refusals. No TensorRT here: the build has never run on a GPU in these
tests (the names it uses are checked against the real bindings in tests/test_trt_api.py)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import trt_fakes
from stylert.engines.build import build_engines
from stylert.errors import EngineBuildError
from stylert.runtime.engine_manifest import BuildOptions

onnx = pytest.importorskip("onnx")

SMALL = dict(min=["1x3x16x16"], opt=["1x3x64x64"], max=["1x3x128x128"])


@pytest.fixture(scope="module")
def fp16_export(tmp_path_factory):
    """The adain family (synthetic weights) exported at fp16: float16 inside, statistics float32."""
    from stylert.export import export_model
    from stylert.models import create_model, he_init

    model = he_init(create_model("adain"))
    m = model.size_multiple
    out = tmp_path_factory.mktemp("fp16") / "adain16"
    export_model(model, out, precision="fp16", sizes=[(4 * m, 6 * m)])
    return out


@pytest.mark.parametrize("version", ["11.4.0.106", "10.16.1.11"])
def test_fp16_plans_are_strongly_typed_from_the_fp16_graphs(fp16_export, monkeypatch, tmp_path, version):
    rec = trt_fakes.install(monkeypatch, version)
    lines = []
    result = build_engines(fp16_export, BuildOptions(backend="tensorrt", out=str(tmp_path / "eng"), **SMALL),
                           log=lines.append)
    # every graph parsed strongly typed, from the export's own (fp16) graphs, no precision keyword
    assert rec.networks == [(str(fp16_export / f"{g}.onnx"), True) for g in ("encoder", "transform", "decoder")]
    assert all(not ({"fp16", "int8", "bf16", "precision_constraints"} & set(c)) for c in rec.configs)
    assert all(not (set(b["flags"]) & {"FP16", "INT8", "OBEY_PRECISION_CONSTRAINTS"}) for b in rec.builds)
    # build says which TensorRT and which path
    assert any(f"TensorRT {version}: strongly typed" in ln for ln in lines), lines
    d = json.loads((tmp_path / "eng" / "tensorrt" / "engine.json").read_text())
    assert d["precision"] == "fp16" and d["versions"]["tensorrt"] == version
    b = d["builder"]
    assert b["path"] == "strongly_typed" and b["network_flags"] == ["STRONGLY_TYPED"] and b["flags"] == []
    assert b["precision_constraints"] is None and b["tensorrt"] == version
    for g in ("encoder", "transform", "decoder"):
        info = d["graphs"][g]
        assert info["strongly_typed"] is True and info["source"]["file"] == f"{g}.onnx"
        assert "fp32_layers" not in info
    # what the graph gives: float16 layers, and float32 ones where the statistics are
    assert d["graphs"]["encoder"]["layer_output_types"]["HALF"] > 0
    assert d["graphs"]["transform"]["layer_output_types"]["FLOAT"] > 0
    assert result.engine.precision == "fp16"


def test_version_compatible_is_the_only_flag_set_when_asked(fp16_export, monkeypatch, tmp_path):
    rec = trt_fakes.install(monkeypatch, "11.4.0.106")
    build_engines(fp16_export, BuildOptions(backend="tensorrt", out=str(tmp_path / "e"), version_compatible=True,
                                            hardware_compatible=True, **SMALL))
    d = json.loads((tmp_path / "e" / "tensorrt" / "engine.json").read_text())
    assert d["builder"]["flags"] == ["VERSION_COMPATIBLE"] and d["builder"]["hardware_compatibility"] == "ampere_plus"
    assert all(c["hardware_compatibility_level"].name == "AMPERE_PLUS" for c in rec.configs)


def test_default_precision_is_the_exports_and_fp16_needs_an_fp16_export(exports, monkeypatch, tmp_path):
    _, out = exports("adain")  # fp32
    rec = trt_fakes.install(monkeypatch, "11.4.0.106")
    with pytest.raises(EngineBuildError, match="strongly typed fp16 plans are built from an fp16 export") as err:
        build_engines(out, BuildOptions(backend="tensorrt", precision="fp16", out=str(tmp_path / "x"), **SMALL))
    assert "--precision fp16 -o OUT" in str(err.value) and not rec.networks
    assert not (tmp_path / "x" / "tensorrt").exists()
    result = build_engines(out, BuildOptions(backend="tensorrt", out=str(tmp_path / "y"), **SMALL))
    assert result.engine.precision == "fp32"
    assert [p for p, _ in rec.networks] == [str(Path(out) / f"{g}.onnx") for g in ("encoder", "transform", "decoder")]
    types = result.engine.data["graphs"]["encoder"]["layer_output_types"]
    assert "HALF" not in types and types["FLOAT"] > 0


def test_tensorrt_older_than_10_is_refused(exports, monkeypatch, tmp_path):
    _, out = exports("adain")
    trt_fakes.install(monkeypatch, "8.6.1")
    with pytest.raises(EngineBuildError, match="TensorRT 8.6.1 is older than 10.0"):
        build_engines(out, BuildOptions(backend="tensorrt", out=str(tmp_path / "x"), **SMALL))


def test_the_fp16_export_keeps_statistics_and_softmax_float32(fp16_export):
    from stylert.engines.fp32_layers import fp16_graph_problems, fp32_plan

    for g in ("encoder", "transform", "decoder"):
        assert fp16_graph_problems(fp16_export / f"{g}.onnx") == [], g
    assert fp32_plan(str(fp16_export / "transform.onnx")).summary().get("Sqrt")  # there is something to check


def _half_statistics(path: Path) -> None:
    """x (float16) -> ReduceMean -> Sub -> Mul(d, d) -> ReduceMean -> Sqrt -> y, all float16."""
    from onnx import TensorProto, helper, numpy_helper

    nodes = [helper.make_node("ReduceMean", ["x", "axes"], ["mu"], name="mean", keepdims=1),
             helper.make_node("Sub", ["x", "mu"], ["d"], name="sub"),
             helper.make_node("Mul", ["d", "d"], ["sq"], name="square"),
             helper.make_node("ReduceMean", ["sq", "axes"], ["var"], name="var", keepdims=1),
             helper.make_node("Sqrt", ["var"], ["y"], name="sqrt")]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT16, [1, 4, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT16, [1, 4, 1])],
                              [numpy_helper.from_array(np.array([2], np.int64), "axes")])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], ir_version=8), str(path))


def test_statistics_in_float16_are_refused_before_building(tmp_path):
    from stylert.engines.fp32_layers import fp16_graph_problems
    from stylert.engines.tensorrt_build import check_source

    path = tmp_path / "half.onnx"
    _half_statistics(path)
    problems = fp16_graph_problems(path)
    assert [p.split()[1] for p in problems] == ["mean", "sub", "square", "var", "sqrt"], problems
    with pytest.raises(EngineBuildError, match="an fp16 plan would overflow in float16"):
        check_source(path, "transform", "fp16")


def test_builder_flags_that_set_precision_are_refused(monkeypatch):
    """The config check reads every flag back; a precision flag on a strongly typed build is an error."""
    from stylert.engines.tensorrt_build import check_config

    trt = trt_fakes.fake_tensorrt("10.16.1.11")
    monkeypatch.setitem(__import__("sys").modules, "tensorrt", trt)
    seen = {}
    check_config(None, None, trt_fakes._Config({trt.BuilderFlag.TF32}), seen)
    assert seen["builder_flags"] == ["TF32"]
    with pytest.raises(EngineBuildError, match="FP16"):
        check_config(None, None, trt_fakes._Config({trt.BuilderFlag.FP16}), {})


def test_tensorrt_path_is_said_per_version():
    from stylert.engines.tensorrt_build import tensorrt_path

    assert "always on since TensorRT 11" in tensorrt_path("11.4.0.106")["line"]
    assert "NetworkDefinitionCreationFlag.STRONGLY_TYPED" in tensorrt_path("10.3.0")["line"]
    assert "newer than the versions checked" in tensorrt_path("12.0.0")["line"]


def test_doctor_says_which_tensorrt_and_path(monkeypatch):
    from click.testing import CliRunner
    from stylert.cli import main

    trt_fakes.install(monkeypatch, "11.4.0.106", gpu=False)
    result = CliRunner().invoke(main, ["doctor"])
    assert result.exit_code == 0, result.output
    assert "tensorrt      11.4.0.106" in result.output
    assert "build path  TensorRT 11.4.0.106: strongly typed (always on since TensorRT 11)" in result.output


def test_inductor_on_cuda_needs_a_cuda_toolkit(monkeypatch):
    import torch
    from stylert.engines import build as build_module
    from torch.utils import cpp_extension

    monkeypatch.setattr(cpp_extension, "CUDA_HOME", None)
    home, reason = build_module.cuda_toolkit()
    assert home is None and "needs a CUDA toolkit" in reason
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    with pytest.raises(EngineBuildError, match="AOTInductor on CUDA needs a CUDA toolkit") as err:
        build_module.resolve(BuildOptions(backend="inductor", device="cuda"))
    assert "--device cpu" in str(err.value)
    assert build_module.resolve(BuildOptions(backend="inductor", device="cpu")) == ("cpu", "fp32")
