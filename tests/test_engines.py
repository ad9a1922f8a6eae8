"""Engines without compiling anything: profiles, the engine manifest and its staleness rules, buffer
planning, which layers stay FP32, the FP16 graph rewrite, and the CLI messages where TensorRT is absent.

(The AOTInductor engine is built and run in test_engines_inductor.py.)
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from stylert.cli import main
from stylert.core.files import sha256_of
from stylert.core.providers import tensorrt_missing
from stylert.engines.fp32_layers import fp32_plan
from stylert.errors import (
    EngineError,
    EngineShapeError,
    MissingDependencyError,
    MissingEngineError,
    ProfileError,
    StaleEngineError,
)
from stylert.export.manifest import Manifest, load_manifest
from stylert.models import create_model, list_families
from stylert.runtime.backends.buffers import ALIGNMENT, plan_buffers
from stylert.runtime.engine_manifest import (
    BuildOptions,
    EngineManifest,
    Machine,
    build_command,
    load_engine_manifest,
    make_manifest,
)
from stylert.runtime.profiles import (
    ShapeRange,
    graph_profiles,
    make_profiles,
    match_profile,
    parse_shape,
    tensor_ranges,
)
from stylert.runtime.staleness import check_engine, staleness


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def one_line_error(result) -> str:
    """The CLI failed with exactly one line on its output, and no traceback."""
    assert result.exit_code == 1, result.output
    lines = [ln for ln in result.output.strip().splitlines() if ln.startswith("Error:")]
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    return lines[0]


def spec_manifest(family: str) -> Manifest:
    """The manifest parts engines use (graph I/O names, symbolic shapes, routing) without exporting."""
    from stylert.export.exporter import routing_of
    from stylert.export.specs import get_export_spec

    model = create_model(family)
    graphs = get_export_spec(model).graphs("fp32")
    data = {"family": family, "precision": "fp32", "size_multiple": model.size_multiple,
            "min_size": 2 * model.size_multiple, "routing": routing_of(graphs),
            "graphs": {g: {"inputs": [t.to_json() for t in s.inputs], "outputs": [t.to_json() for t in s.outputs]}
                       for g, s in graphs.items()}}
    return Manifest(Path("/nonexistent"), data)


# --------------------------------------------------------------------------------------
# Profiles
# --------------------------------------------------------------------------------------
def test_shapes_in_trtexec_spelling():
    assert parse_shape("1x3x512x512") == (1, 3, 512, 512)
    assert parse_shape("image:8x3x1080x1920") == (8, 3, 1080, 1920)
    assert parse_shape(" 2X3X64X96 ") == (2, 3, 64, 96)
    for bad, words in (("1x3x512", "4"), ("1x4x64x64", "3 channels"), ("relu4_1:1x3x64x64", "'image'"),
                       ("1x3xabcx64", "NxCxHxW"), ("0x3x64x64", "at least 1")):
        with pytest.raises(ProfileError, match=words):
            parse_shape(bad, "--max")


def test_profiles_from_options_defaults_and_checks():
    (default,) = make_profiles(min_size=16, size_multiple=8)
    assert default == ShapeRange((1, 3, 16, 16), (1, 3, 512, 512), (1, 3, 2048, 2048))
    (small,) = make_profiles(maxs=["1x3x256x256"], min_size=16, size_multiple=8)
    assert small.opt == (1, 3, 256, 256)  # the default opt is clipped into [min, max]
    two = make_profiles(["1x3x64x64"], ["1x3x256x256", "8x3x512x512"], ["1x3x512x512", "8x3x1088x1920"],
                        min_size=16, size_multiple=8)
    assert [p.min for p in two] == [(1, 3, 64, 64)] * 2  # given once: for every profile
    assert two[1] == ShapeRange((1, 3, 64, 64), (8, 3, 512, 512), (8, 3, 1088, 1920))
    with pytest.raises(ProfileError, match="--max is given 2 times"):
        make_profiles(opts=["1x3x64x64"] * 3, maxs=["1x3x512x512"] * 2, min_size=16, size_multiple=8)
    with pytest.raises(ProfileError, match="min <= opt <= max"):
        make_profiles(["1x3x512x512"], ["1x3x256x256"], ["1x3x1024x1024"], min_size=16, size_multiple=8)
    with pytest.raises(ProfileError, match="multiples of 16") as err:
        make_profiles(maxs=["1x3x1080x1920"], min_size=32, size_multiple=16)
    assert "--max 1x3x1088x1920" in str(err.value)  # the fix rounds up
    with pytest.raises(ProfileError, match="minimum image side 16"):
        make_profiles(mins=["1x3x8x8"], min_size=16, size_multiple=8)


@pytest.mark.parametrize("family", list_families())
def test_transform_and_decoder_profiles_follow_the_encoder(family):
    """Every routed input's range is exactly the range of the graph output that feeds it, for every
    profile: the three engines accept the same images."""
    manifest = spec_manifest(family)
    m = manifest.size_multiple
    profiles = make_profiles(["1x3x64x64", f"1x3x{2 * m}x{2 * m}"], ["1x3x512x512", "4x3x256x384"],
                             ["2x3x1024x1024", f"8x3x{64 * m}x{96 * m}"], min_size=2 * m, size_multiple=m)
    per_graph = graph_profiles(manifest, profiles)
    for i, profile in enumerate(profiles):
        ranges = tensor_ranges(manifest, profile)
        assert per_graph["encoder"][i]["image"] == profile
        for graph in ("transform", "decoder"):
            for name, src in manifest.routing[graph].items():
                got = per_graph[graph][i][name]
                if "runtime" in src:  # alpha: fixed [L]
                    assert got.min == got.max == (len(create_model(family).alpha_levels),)
                    continue
                assert got == ranges[src["graph"]]["outputs"][src["output"]], (graph, name)
        # and the decoder gives back the image size
        assert ranges["decoder"]["outputs"]["image"].max == profile.max


def test_derived_shapes_of_adain_and_attention():
    adain = graph_profiles(spec_manifest("adain"), [ShapeRange((1, 3, 16, 16), (1, 3, 512, 512), (2, 3, 1088, 1920))])
    assert adain["transform"][0]["content_relu4_1"] == ShapeRange((1, 512, 2, 2), (1, 512, 64, 64), (2, 512, 136, 240))
    assert adain["transform"][0]["style_relu4_1_std"] == ShapeRange((1, 512, 1, 1), (1, 512, 1, 1), (2, 512, 1, 1))
    sanet = graph_profiles(spec_manifest("sanet"), [ShapeRange((1, 3, 32, 32), (1, 3, 512, 512), (1, 3, 1088, 1920))])
    # style taps are sized by the style image, which goes through the same encoder profile
    assert sanet["transform"][0]["style_relu5_1"] == ShapeRange((1, 512, 2, 2), (1, 512, 32, 32), (1, 512, 68, 120))


def test_runtime_shape_checks_name_the_problem():
    manifest = spec_manifest("adain-multilevel")
    profiles = make_profiles(["1x3x16x16", "1x3x16x16"], ["1x3x64x64", "8x3x64x64"], ["1x3x128x128", "8x3x64x64"],
                             min_size=16, size_multiple=8)
    dec = graph_profiles(manifest, profiles)["decoder"]
    ok = {"relu2_1": (1, 128, 32, 32), "relu3_1": (1, 256, 16, 16), "relu4_1": (1, 512, 8, 8)}  # a 64x64 image
    assert match_profile(manifest, "decoder", ok, dec) == 0
    batch = {k: (8,) + v[1:] for k, v in ok.items()}
    assert match_profile(manifest, "decoder", batch, dec) == 1  # only the second profile takes batch 8
    with pytest.raises(EngineShapeError, match="disagree on N"):
        match_profile(manifest, "decoder", {**ok, "relu3_1": (2, 256, 16, 16)}, dec)
    with pytest.raises(EngineShapeError, match="disagree on H"):
        match_profile(manifest, "decoder", {**ok, "relu3_1": (1, 256, 15, 16)}, dec)
    with pytest.raises(EngineShapeError, match="padded to a multiple of 8"):  # H/2 = 31: H is 61 or 62
        match_profile(manifest, "decoder", {**ok, "relu2_1": (1, 128, 31, 32)}, dec)
    with pytest.raises(EngineShapeError, match="has 64 at axis 1"):
        match_profile(manifest, "decoder", {**ok, "relu2_1": (1, 64, 32, 32)}, dec)
    big = {"relu2_1": (1, 128, 80, 48), "relu3_1": (1, 256, 40, 24), "relu4_1": (1, 512, 20, 12)}
    with pytest.raises(EngineShapeError, match="an image of 1x3x160x96") as err:
        match_profile(manifest, "decoder", big, dec, rebuild=lambda shape: f"rebuild --max {shape}")
    assert "profile 0" in str(err.value) and "rebuild --max (1, 3, 160, 96)" in str(err.value)
    enc = graph_profiles(manifest, profiles)["encoder"]
    assert match_profile(manifest, "encoder", {"image": (1, 3, 37, 53)}, enc) == 0  # style images: any size


# --------------------------------------------------------------------------------------
# Engine manifest and staleness
# --------------------------------------------------------------------------------------
GPU = Machine("cuda", "NVIDIA H100 80GB HBM3", "9.0", None, "x86_64", {"tensorrt": "10.3.0", "torch": "2.13.0"})
CPU = Machine("cpu", "Intel(R) Xeon(R) Processor", None, "avx512 avx512_vnni", "x86_64", {"torch": "2.13.0+cpu"})


def fake_engine(export_dir: Path, backend: str, machine: Machine, tmp: Path, **options) -> EngineManifest:
    """An engine directory with stand-in engine files and a real engine.json (nothing is compiled)."""
    export = load_manifest(export_dir)
    root = tmp / "engines" / backend
    root.mkdir(parents=True)
    profiles = make_profiles(maxs=["1x3x256x256"], min_size=16, size_multiple=8)
    per_graph = graph_profiles(export, profiles)
    graphs = {}
    for g in ("encoder", "transform", "decoder"):
        file = root / f"{g}.{'plan' if backend == 'tensorrt' else 'pt2'}"
        file.write_bytes(f"{backend} {g} engine".encode())
        info = export.data["graphs"][g] if backend == "tensorrt" else export.data["torch_programs"][g]
        graphs[g] = {"file": file.name, "sha256": sha256_of(file), "bytes": file.stat().st_size,
                     "source": {"file": info["file"], "sha256": info["sha256"]},
                     "profiles": [{n: r.to_json() for n, r in p.items()} for p in per_graph[g]]}
    builder = {"version_compatible": options.get("version_compatible", False),
               "hardware_compatibility": "ampere_plus" if options.get("hardware_compatible") else "none"}
    data = make_manifest(backend=backend, precision="fp16" if backend == "tensorrt" else "fp32", export=export,
                         machine=machine, profiles=profiles, builder=builder,
                         options=BuildOptions(backend=backend, max=["1x3x256x256"], **options), graphs=graphs)
    (root / "engine.json").write_text(json.dumps(data), encoding="utf-8")
    return load_engine_manifest(root, backend=backend)


def _with(machine: Machine, **changes) -> Machine:
    fields = {**machine.__dict__, **changes}
    return Machine(**fields)


def test_engine_manifest_records_what_the_rules_need(exports, tmp_path):
    _, out = exports("adain")
    engine = fake_engine(out, "tensorrt", GPU, tmp_path)
    d = engine.data
    assert d["format"] == "stylert-engine" and d["backend"] == "tensorrt" and d["precision"] == "fp16"
    assert d["machine"]["name"] == GPU.name and d["machine"]["compute_capability"] == "9.0"
    assert d["versions"]["tensorrt"] == "10.3.0"
    assert d["graphs"]["encoder"]["source"]["sha256"] == load_manifest(out).data["graphs"]["encoder"]["sha256"]
    assert engine.profiles[0].max == (1, 3, 256, 256)
    assert engine.graph_profiles("decoder")[0]["relu4_1"].max == (1, 512, 32, 32)
    assert staleness(engine, load_manifest(out), GPU) == []


def test_staleness_rules_tensorrt(exports, tmp_path):
    _, out = exports("adain")
    export = load_manifest(out)
    engine = fake_engine(out, "tensorrt", GPU, tmp_path)
    reasons = staleness(engine, export, _with(GPU, name="NVIDIA A100-SXM4-80GB", compute_capability="8.0"))
    assert len(reasons) == 1 and "built on NVIDIA H100" in reasons[0] and "A100" in reasons[0]
    assert "built with TensorRT 10.3.0, this is TensorRT 10.4.0" in staleness(
        engine, export, _with(GPU, versions={"tensorrt": "10.4.0"}))[0]
    hw = fake_engine(out, "tensorrt", GPU, tmp_path / "hw", hardware_compatible=True, version_compatible=True)
    assert staleness(hw, export, _with(GPU, name="NVIDIA A10", compute_capability="8.6",
                                       versions={"tensorrt": "10.8.0"})) == []  # Ampere+ and a later TensorRT
    old = staleness(hw, export, _with(GPU, name="Tesla T4", compute_capability="7.5", versions={"tensorrt": "10.1.0"}))
    assert any("older than compute capability 8.0" in r for r in old)
    assert any("TensorRT 10.1.0 is older" in r for r in old)
    assert any("this run is on cpu" in r for r in staleness(engine, export, CPU))


def test_staleness_rules_sources_and_files(exports, tmp_path):
    _, out = exports("adain")
    export = load_manifest(out)
    engine = fake_engine(out, "inductor", CPU, tmp_path)
    assert staleness(engine, export, CPU) == []
    # another torch, another CPU ISA
    assert "compiled by torch 2.13.0+cpu" in staleness(engine, export, _with(CPU, versions={"torch": "2.14.0"}))[0]
    assert "avx2" in staleness(engine, export, _with(CPU, cpu_isa="avx2"))[0]
    # an altered engine file, then a missing one
    decoder = engine.graph_file("decoder")
    decoder.write_bytes(decoder.read_bytes() + b"\0")
    assert staleness(engine, export, CPU) == [f"{decoder.name} does not match its SHA-256 in engine.json: altered "
                                              "or corrupt"]
    decoder.unlink()
    assert staleness(engine, export, CPU) == [f"{decoder.name} is missing"]
    # a re-exported graph: the export's program hash is no longer the one the engine was built from
    changed = json.loads(json.dumps(export.data))
    changed["torch_programs"]["encoder"]["sha256"] = "0" * 64
    reasons = staleness(engine, Manifest(export.root, changed), CPU)
    assert "the encoder graph changed since the engine was built" in reasons[0]
    with pytest.raises(StaleEngineError) as err:
        check_engine(engine, Manifest(export.root, changed), CPU)
    message = str(err.value)
    assert message.count("\n") == 0 and "encoder graph changed" in message
    assert f"stylert build {export.root} --backend inductor" in message and "--force" in message


def test_engine_manifest_errors_say_how_to_build(tmp_path, exports):
    _, out = exports("adain")
    with pytest.raises(MissingEngineError, match="no inductor engine has been built") as err:
        load_engine_manifest(tmp_path / "engines" / "inductor", export_dir=out)
    assert f"stylert build {out} --backend inductor" in str(err.value)
    root = tmp_path / "engines" / "tensorrt"
    root.mkdir(parents=True)
    (root / "engine.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(EngineError, match="cannot be read as JSON"):
        load_engine_manifest(root)
    (root / "engine.json").write_text('{"format": "something-else"}', encoding="utf-8")
    with pytest.raises(EngineError, match="not a stylert engine manifest"):
        load_engine_manifest(root)
    (root / "engine.json").write_text('{"format": "stylert-engine", "format_version": 99}', encoding="utf-8")
    with pytest.raises(EngineError, match="newer than this stylert reads .1.*upgrade stylert, or rebuild: "
                                          "stylert build DIR --backend tensorrt --force"):
        load_engine_manifest(root)


def test_rebuild_command_repeats_the_build():
    options = BuildOptions(backend="tensorrt", precision="fp16", min=["1x3x64x64"], opt=["1x3x512x512"],
                           max=["1x3x1088x1920"], out="/x/eng", timing_cache="/x/t.cache", version_compatible=True,
                           hardware_compatible=True)
    assert build_command("/x/export", options) == (
        "stylert build /x/export --backend tensorrt --precision fp16 --min 1x3x64x64 --opt 1x3x512x512 "
        "--max 1x3x1088x1920 --out /x/eng --timing-cache /x/t.cache --version-compatible --hardware-compatible "
        "--force")


def test_a_build_with_other_settings_is_not_up_to_date(exports, tmp_path):
    from stylert.engines.build import _same_request

    _, out = exports("adain")
    engine = fake_engine(out, "inductor", CPU, tmp_path)
    same = make_profiles(maxs=["1x3x256x256"], min_size=16, size_multiple=8)
    assert _same_request(engine, "fp32", same, BuildOptions(max=["1x3x256x256"])) == []
    bigger = make_profiles(maxs=["1x3x512x512"], min_size=16, size_multiple=8)
    assert _same_request(engine, "fp32", bigger, BuildOptions()) == ["other profiles"]
    assert _same_request(engine, "fp16", same, BuildOptions()) == ["precision fp32 -> fp16"]


# --------------------------------------------------------------------------------------
# Buffer planning
# --------------------------------------------------------------------------------------
def test_buffer_plan_sizes_every_tensor_for_the_largest_profile(exports):
    import torch

    _, out = exports("adain")
    export = load_manifest(out)
    plan = plan_buffers(export, [ShapeRange((1, 3, 16, 16), (1, 3, 64, 64), (2, 3, 256, 384))])
    image = plan.slot("encoder", "inputs", "image")
    assert image.max_shape == (2, 3, 256, 384) and image.nbytes == 2 * 3 * 256 * 384 * 4
    assert plan.slot("encoder", "outputs", "relu4_1").nbytes == 2 * 512 * 32 * 48 * 4
    assert plan.slot("transform", "inputs", "style_relu4_1_mean").nbytes == 2 * 512 * 4
    assert plan.slot("transform", "inputs", "alpha").nbytes == ALIGNMENT  # 4 bytes, aligned up
    assert plan.slot("decoder", "outputs", "image").max_shape == (2, 3, 256, 384)
    names = {(s.graph, s.side, s.name) for s in plan.slots.values()}
    assert names == {(g, side, t["name"]) for g in ("encoder", "transform", "decoder")
                     for side in ("inputs", "outputs") for t in export.data["graphs"][g][side]}
    spans = sorted((s.offset, s.offset + s.nbytes) for s in plan.slots.values())
    assert all(a % ALIGNMENT == 0 for a, _ in spans) and all(b <= c for (_, b), (c, _) in zip(spans, spans[1:]))
    assert plan.total_bytes == spans[-1][1]
    # two profiles: each slot holds the bigger of the two max shapes, not their element-wise maximum
    two = plan_buffers(export, [ShapeRange((8, 3, 16, 16), (8, 3, 64, 64), (8, 3, 64, 64)),
                                ShapeRange((1, 3, 16, 16), (1, 3, 256, 256), (1, 3, 512, 512))])
    assert two.slot("encoder", "inputs", "image").nbytes == 3 * 512 * 512 * 4
    # views over a (CPU) arena do not overlap
    arena = torch.zeros(plan.total_bytes, dtype=torch.uint8)
    a = plan.view(arena, "encoder", "outputs", "relu4_1", (1, 512, 8, 8))
    b = plan.view(arena, "transform", "inputs", "content_relu4_1", (1, 512, 8, 8))
    a.fill_(1.0)
    assert float(b.abs().sum()) == 0.0
    with pytest.raises(ValueError, match="does not fit"):
        plan.view(arena, "encoder", "inputs", "image", (4, 3, 256, 384))


# --------------------------------------------------------------------------------------
# FP32 layers of FP16 engines
# --------------------------------------------------------------------------------------
def test_statistics_stay_fp32_and_convolutions_do_not(exports):
    import onnx

    _, out = exports("adain")
    for graph in ("encoder", "transform"):
        model = onnx.load(str(Path(out) / f"{graph}.onnx"), load_external_data=False)
        plan = fp32_plan(model)
        by_name = {n.name: n for n in model.graph.node}
        ops = {by_name[n].op_type for n in plan.nodes}
        assert {"ReduceMean", "Sqrt", "Mul", "Sub", "Div", "Add"} <= ops and not ops & {"Conv", "Relu", "Pad"}
        producer = {o: n for n in model.graph.node for o in n.output}
        for n in model.graph.node:
            if n.op_type in ("ReduceMean", "Sqrt"):
                assert n.name in plan.nodes
            if n.op_type == "Sqrt":  # var + eps, var = mean(d * d) * n / (n - 1): all of the chain
                add = producer[n.input[0]]
                div = producer[add.input[0]]
                assert add.name in plan.nodes and div.name in plan.nodes
            if n.op_type == "Mul" and n.input[0] == n.input[1]:
                assert n.name in plan.nodes  # the square
    transform = onnx.load(str(Path(out) / "transform.onnx"), load_external_data=False)
    plan = fp32_plan(transform)
    affine = [n for n in transform.graph.node if "content_relu4_1" in n.input and n.op_type in ("Sub", "Mul")]
    assert affine and not any(n.name in plan.nodes for n in affine)  # (x - mu) and alpha blend: FP16
    decoder = fp32_plan(str(Path(out) / "decoder.onnx"))
    assert decoder.nodes == {}


def test_attention_logits_and_softmax_stay_fp32():
    from onnx import TensorProto, helper

    nodes = [helper.make_node("MatMul", ["q", "k"], ["logits"], name="qk"),
             helper.make_node("Div", ["logits", "scale"], ["scaled"], name="scale_div"),
             helper.make_node("Softmax", ["scaled"], ["attn"], name="softmax", axis=-1),
             helper.make_node("MatMul", ["attn", "v"], ["out"], name="attn_v"),
             helper.make_node("Conv", ["x", "w"], ["y"], name="conv")]
    vi = lambda n: helper.make_tensor_value_info(n, TensorProto.FLOAT, None)  # noqa: E731
    graph = helper.make_graph(nodes, "attention", [vi(n) for n in ("q", "k", "v", "scale", "x", "w")],
                              [vi("out"), vi("y")])
    plan = fp32_plan(helper.make_model(graph))
    assert set(plan.nodes) == {"qk", "scale_div", "softmax"}
    assert plan.tensors == {"logits", "scaled", "attn"}


# --------------------------------------------------------------------------------------
# FP16 (float32 statistics) graphs for AOTInductor on CUDA, checked eagerly on the CPU
# --------------------------------------------------------------------------------------
def test_fp16_rewrite_keeps_statistics_in_float32(exports):
    import torch
    from stylert.engines.half_graph import prepare_module

    _, out = exports("adain")
    program = torch.export.load(str(Path(out) / "transform.pt2"))
    module, stats = prepare_module(program, "fp16", "cpu")
    gm = module.gm
    var = [n for n in gm.graph.nodes if n.op == "call_function" and "var" in str(n.target)]
    assert var and all(n.args[0].target == torch.ops.aten.to.dtype and n.args[0].args[1] == torch.float32 for n in var)
    assert stats["dropped_asserts"] > 0 and stats["fp32_ops"] >= 2
    # content features in the thousands: their variance (~1e6) overflows float16 unless computed in float32
    gen = torch.Generator().manual_seed(0)
    content = torch.rand(1, 512, 8, 12, generator=gen) * 2000
    mean, std = torch.rand(1, 512, 1, 1, generator=gen) * 10, torch.rand(1, 512, 1, 1, generator=gen) * 20 + 1
    alpha = torch.tensor([0.8])
    (got,) = module(content, mean, std, alpha)
    (ref,) = program.module()(content, mean, std, alpha)
    assert got.dtype == torch.float32 and bool(torch.isfinite(got).all())
    assert float((got - ref).abs().max()) <= 2e-3 * float(ref.abs().max())


def test_fp16_rewrite_of_the_encoder_runs_convolutions_in_half(exports):
    import torch
    from stylert.engines.half_graph import prepare_module

    _, out = exports("adain")
    program = torch.export.load(str(Path(out) / "encoder.pt2"))
    module, _ = prepare_module(program, "fp16", "cpu")
    convs = [n for n in module.gm.graph.nodes if n.op == "call_function" and "conv" in str(n.target)]
    assert convs and all(p.dtype == torch.float16 for p in module.parameters())  # (float32 inputs would fail)
    image = torch.rand(1, 3, 32, 48, generator=torch.Generator().manual_seed(1))
    got = module(image)
    ref = program.module()(image)
    for g, r in zip(got, ref):
        assert g.dtype == torch.float32 and bool(torch.isfinite(g).all())
        assert float((g - r).abs().max()) <= 2e-2 * float(r.abs().max()) + 1e-3


@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_ceil_mode_pools_become_padded_floor_mode_pools(precision, exports):
    """AOTInductor sizes a ceil-mode pool from the size it compiles with (even): the encoder the engines
    compile has none left, and re-exported it gives the reference's shapes and values for odd sizes."""
    import torch
    from stylert.engines.half_graph import prepare_module
    from stylert.engines.inductor_build import dynamic_shapes, example_inputs

    _, out = exports("adain")
    export = load_manifest(out)
    program = torch.export.load(str(Path(out) / "encoder.pt2"))
    pools = lambda gm: [n.args[5] if len(n.args) > 5 else n.kwargs.get("ceil_mode", False)  # noqa: E731
                        for n in gm.graph.nodes if n.op == "call_function" and n.target == torch.ops.aten.max_pool2d.default]
    assert pools(program.module()) == [True] * 3  # VGG's three pools up to relu4_1, ceil mode
    module, stats = prepare_module(program, precision, "cpu")
    assert stats["floor_mode_pools"] == 3 and pools(module.gm) == [False] * 3
    exported = torch.export.export(module, example_inputs(export, "encoder", "cpu"),
                                   dynamic_shapes=dynamic_shapes(export, "encoder"), strict=False)
    gen = torch.Generator().manual_seed(9)
    for hw in [(77, 64), (45, 39), (33, 48)]:
        image = torch.rand(1, 3, *hw, generator=gen)
        with torch.no_grad():
            got, want = exported.module()(image), program.module()(image)
        for g, w in zip(got, want):
            assert g.shape == w.shape, hw
            tol = 0.0 if precision == "fp32" else 2e-2 * float(w.abs().max()) + 1e-3
            assert float((g - w).abs().max()) <= tol + 1e-5 * float(w.abs().max()), (hw, precision)


# --------------------------------------------------------------------------------------
# Where TensorRT is absent: one line naming the package and the install command
# --------------------------------------------------------------------------------------
@pytest.fixture
def no_tensorrt(exports, monkeypatch):
    exports("adain")  # exported first: torch.export itself looks for tensorrt
    monkeypatch.setitem(sys.modules, "tensorrt", None)  # `import tensorrt` raises ImportError


def test_build_without_tensorrt_is_one_line(exports, no_tensorrt):
    _, out = exports("adain")
    line = one_line_error(invoke("build", out, "--precision", "fp16"))
    assert "tensorrt is not installed" in line and "pip install 'stylert[tensorrt]'" in line
    assert "NVIDIA's package index" in line
    assert not (Path(out) / "engines" / "tensorrt").exists()


def test_tensorrt_backend_without_tensorrt_is_one_line(exports, no_tensorrt, tmp_path):
    from stylert.runtime.pipeline import Pipeline

    _, out = exports("adain")
    with pytest.raises(MissingDependencyError, match="pip install 'stylert\\[tensorrt\\]'"):
        Pipeline.open(out, "tensorrt", "cuda")
    from PIL import Image

    img = tmp_path / "c.png"
    Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(img)
    result = invoke("stylize", "--engine", out, "--backend", "tensorrt", "-c", img, "-s", img, "-o", tmp_path / "o.png")
    assert "tensorrt is not installed" in one_line_error(result)
    assert not (tmp_path / "o.png").exists()
    assert str(tensorrt_missing()) in result.output


def test_doctor_says_which_engines_build_here(no_tensorrt):
    result = invoke("doctor")
    assert result.exit_code == 0, result.output
    lines = [ln for ln in result.output.splitlines() if ln.startswith("engine ")]
    assert any("tensorrt: cannot build here: tensorrt is not installed" in ln for ln in lines), result.output
    assert any("inductor:" in ln for ln in lines)


def test_build_cli_checks_its_options(exports, tmp_path):
    _, out = exports("adain")
    assert "multiples of 8" in one_line_error(invoke("build", out, "--backend", "inductor", "--max", "1x3x100x100"))
    assert "fp32" in one_line_error(invoke("build", out, "--backend", "inductor", "--device", "cpu",
                                           "--precision", "fp16"))
    assert "not a stylert export directory" in one_line_error(invoke("build", tmp_path, "--backend", "inductor"))
    result = invoke("build", out, "--backend", "inductor", "--version-compatible")
    assert result.exit_code == 2 and "apply to --backend tensorrt only" in result.output


def test_runtime_without_an_engine_says_how_to_build(exports, tmp_path):
    from stylert.runtime.pipeline import Pipeline

    _, out = exports("adain")
    copy = tmp_path / "export"
    shutil.copytree(out, copy, ignore=shutil.ignore_patterns("engines"))
    with pytest.raises(MissingEngineError) as err:
        Pipeline.open(copy, "inductor", "cpu")
    assert f"stylert build {copy} --backend inductor" in str(err.value)


def test_where_engines_live(monkeypatch, tmp_path):
    from stylert.runtime.engine_manifest import ENGINES_ENV, engine_dir

    monkeypatch.delenv(ENGINES_ENV, raising=False)
    assert engine_dir(tmp_path / "exp", "inductor") == tmp_path / "exp" / "engines" / "inductor"
    assert engine_dir(tmp_path / "exp", "tensorrt", tmp_path / "out") == tmp_path / "out" / "tensorrt"
    monkeypatch.setenv(ENGINES_ENV, str(tmp_path / "shared-engines"))
    assert engine_dir(tmp_path / "exp", "inductor") == tmp_path / "shared-engines" / "inductor"


# --------------------------------------------------------------------------------------
# The TensorRT builder's profiles (the strongly typed build itself: tests/test_tensorrt_build.py)
# --------------------------------------------------------------------------------------
def test_tensorrt_profiles_cover_every_input_of_each_graph(exports):
    from stylert.engines.tensorrt_build import trt_profiles

    _, out = exports("adain")
    export = load_manifest(out)
    profiles = make_profiles(["1x3x64x64"], ["1x3x256x256", "8x3x512x512"], ["1x3x512x512", "8x3x1088x1920"],
                             min_size=16, size_multiple=8)
    (first, second) = trt_profiles(graph_profiles(export, profiles)["transform"])
    assert list(first) == [t["name"] for t in export.inputs("transform")]
    assert list(second["content_relu4_1"]) == [[1, 512, 8, 8], [8, 512, 64, 64], [8, 512, 136, 240]]
    assert list(second["alpha"]) == [[1], [1], [1]]


@pytest.mark.parametrize("family", ["adain", "sanet"])  # the two transform kinds: statistics, attention
def test_fp16_programs_re_export_with_dynamic_shapes(family, exports):
    """What `stylert build --backend inductor` does on CUDA before compiling, here on the CPU: every graph
    rewritten to FP16 re-exports with the manifest's dynamic axes and runs at sizes it was not traced at."""
    import torch
    from stylert.engines.half_graph import prepare_module
    from stylert.engines.inductor_build import dynamic_shapes, example_inputs
    from stylert.export.manifest import evaluate_shape

    _, out = exports(family)
    export = load_manifest(out)
    m = export.size_multiple
    env = {"N": 1, "H": 3 * m, "W": 5 * m, "Hs": 6 * m, "Ws": 2 * m}
    gen = torch.Generator().manual_seed(5)
    for graph in ("encoder", "transform", "decoder"):
        program = torch.export.load(str(Path(out) / export.data["torch_programs"][graph]["file"]))
        module, stats = prepare_module(program, "fp16", "cpu")
        exported = torch.export.export(module, example_inputs(export, graph, "cpu"),
                                       dynamic_shapes=dynamic_shapes(export, graph), strict=False)
        args = [torch.rand(evaluate_shape(t["shape"], env), generator=gen) for t in export.inputs(graph)]
        with torch.no_grad():
            got, want = exported.module()(*args), program.module()(*args)
        for g, w in zip(got, want):
            assert g.dtype == torch.float32 and g.shape == w.shape and bool(torch.isfinite(g).all())
            assert float((g - w).abs().max()) <= 3e-2 * float(w.abs().max()) + 1e-3, graph
        if family == "sanet" and graph == "transform":
            softmax = [n for n in module.gm.graph.nodes if n.op == "call_function" and "softmax" in str(n.target)]
            logits = [n.args[0] for n in softmax]
            assert softmax and all(a.target in (torch.ops.aten.bmm.default, torch.ops.aten.matmul.default)
                                   for a in logits)
            assert all(i.target == torch.ops.aten.to.dtype and i.args[1] == torch.float32
                       for a in logits for i in a.all_input_nodes)  # attention logits computed in float32
