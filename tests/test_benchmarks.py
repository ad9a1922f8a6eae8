"""Benchmark building blocks: statistics, the measurement loop, the FLOP counter, charts, machine info."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper
from stylert.benchmarks.flops import count_flops
from stylert.benchmarks.harness import measure, summarize
from stylert.core.chart import line_chart
from stylert.core.machine import MATRIX_FLAGS, machine_info, machine_name


def test_summary_matches_numpy_on_known_samples():
    samples = list(range(1, 101))  # 1..100 ms
    s = summarize(samples)
    assert (s.count, s.min, s.max, s.mean) == (100, 1.0, 100.0, 50.5)
    assert s.median == 50.5 and s.p90 == pytest.approx(90.1) and s.p95 == pytest.approx(95.05)
    assert s.p99 == pytest.approx(99.01)
    rng = np.random.default_rng(0)
    x = rng.lognormal(size=1000)
    s = summarize(x)
    assert s.p99 == pytest.approx(np.percentile(x, 99)) and s.median == pytest.approx(np.median(x))
    with pytest.raises(ValueError):
        summarize([])


def test_measure_excludes_warmup_and_honours_minimums():
    clock = [0.0]

    def timer():
        return clock[0]

    calls = []

    def fn():
        calls.append(clock[0])
        clock[0] += 0.01 if len(calls) > 2 else 0.5  # two slow warm-up calls, then 10 ms

    m = measure(fn, warmup_s=1.0, min_duration_s=0.2, min_iterations=5, timer=timer)
    assert m.warmup_iterations == 2  # 0.5 s each until 1 s of warm-up has passed
    assert all(s == pytest.approx(10.0) for s in m.samples_ms)
    assert len(m.samples_ms) >= 20  # 0.2 s of 10 ms calls
    m = measure(lambda: None, warmup_s=0.0, min_duration_s=0.0, min_iterations=7)
    assert len(m.samples_ms) == 7


def _vgg_block(cin=64, cout=64):
    w = numpy_helper.from_array(np.zeros((cout, cin, 3, 3), np.float32), "w")
    b = numpy_helper.from_array(np.zeros(cout, np.float32), "b")
    pads = numpy_helper.from_array(np.array([0, 0, 1, 1, 0, 0, 1, 1], np.int64), "pads")
    nodes = [helper.make_node("Pad", ["x", "pads"], ["p"], mode="reflect"),
             helper.make_node("Conv", ["p", "w", "b"], ["c"]), helper.make_node("Relu", ["c"], ["y"])]
    graph = helper.make_graph(nodes, "block", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", cin, "H", "W"])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [w, b, pads])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])


def test_flops_of_one_vgg_block_by_hand():
    # conv3x3 64->64 on a padded 32x48 map, batch 2: 2 FLOPs per multiply-add, plus bias and ReLU.
    n, h, w = 2, 32, 48
    macs = n * 64 * h * w * (64 * 3 * 3)
    counts = count_flops(_vgg_block(), {"x": (n, 64, h, w)})
    assert counts["Conv"] == 2 * macs + n * 64 * h * w
    assert counts["Relu"] == n * 64 * h * w
    assert counts["total"] == counts["Conv"] + counts["Relu"]
    assert "Pad" not in counts
    with pytest.raises(ValueError, match="rank"):
        count_flops(_vgg_block(), {"x": (1, 64, 32)})


def test_flops_of_matmul_and_softmax():
    a = helper.make_tensor_value_info("a", TensorProto.FLOAT, [2, 5, 7])
    b = helper.make_tensor_value_info("b", TensorProto.FLOAT, [2, 7, 3])
    nodes = [helper.make_node("MatMul", ["a", "b"], ["m"]), helper.make_node("Softmax", ["m"], ["y"], axis=-1)]
    model = helper.make_model(helper.make_graph(nodes, "g", [a, b], [helper.make_tensor_value_info("y", 1, None)]),
                              opset_imports=[helper.make_opsetid("", 18)])
    counts = count_flops(model, {})
    assert counts["MatMul"] == 2 * 2 * 5 * 3 * 7 and counts["Softmax"] == 5 * 2 * 5 * 3


def test_chart_and_machine_info(tmp_path):
    img = line_chart({"a": [("256", 1.0, 1.5), ("512", 4.0, 4.2)], "b": [("256", 0.5, None)]},
                     title="t", ylabel="ms", size=(400, 300))
    assert img.size == (400, 300)
    arr = np.asarray(img)
    assert (arr != 255).any(axis=2).mean() > 0.01  # something was drawn
    info = machine_info()
    for key in ("cpu", "cpu_flags", "cores", "memory_gb", "gpu", "versions", "git_commit"):
        assert key in info
    flags = Path("/proc/cpuinfo").read_text().split("flags", 1)[1].split("\n", 1)[0].split() \
        if Path("/proc/cpuinfo").is_file() else []
    assert info["cpu_flags"] == [f for f in MATRIX_FLAGS if f in flags]  # the CPU's, in MATRIX_FLAGS' order
    assert machine_name(info) and "/" not in machine_name(info)


def test_flops_through_a_computed_reshape():
    """An attention-style reshape whose target is computed (Shape -> ReduceProd -> Concat): ONNX
    shape inference cannot follow it; count_flops folds the shape subgraph and still counts."""
    from stylert.benchmarks.flops import _with_shapes

    ints = lambda name, values: helper.make_tensor(name, TensorProto.INT64, [len(values)], values)  # noqa: E731
    nodes = [helper.make_node("Shape", ["x"], ["s"]),
             helper.make_node("Slice", ["s", "i0", "i2"], ["nc"]),
             helper.make_node("Slice", ["s", "i2", "i4"], ["hw"]),
             helper.make_node("ReduceProd", ["hw"], ["p"], keepdims=1),
             helper.make_node("Concat", ["nc", "p"], ["target"], axis=0),
             helper.make_node("Reshape", ["x", "target"], ["flat"]),  # [N, C, H*W]
             helper.make_node("Transpose", ["flat"], ["t"], perm=[0, 2, 1]),
             helper.make_node("MatMul", ["t", "flat"], ["y"])]  # [N, HW, HW]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 8, "H", "W"])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                              [ints("i0", [0]), ints("i2", [2]), ints("i4", [4])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 8  # ONNX Runtime (which folds the shape subgraph) reads IR <= 13
    shapes = {"x": (2, 8, 3, 5)}
    assert "y" not in _with_shapes(model, shapes)  # the case the folding is for
    counts = count_flops(model, shapes)
    assert counts["MatMul"] == 2 * 2 * 15 * 15 * 8
    assert counts["total"] == counts["MatMul"] + counts["ReduceProd"]


def test_interleave_rotates_warms_up_and_primes():
    from stylert.benchmarks.harness import interleave

    clock, calls = [0.0], []

    def job(name, cost):
        def run():
            calls.append(name)
            clock[0] += cost
        return run

    jobs = {"a": job("a", 0.001), "b": job("b", 0.002), "c": job("c", 0.003)}
    got = interleave(jobs, 3, warmup=1, timer=lambda: clock[0])
    assert calls == ["a", "b", "c", "a", "b", "c", "b", "c", "a", "c", "a", "b"]  # warm-up, then rotating rounds
    assert got["a"] == pytest.approx([1.0] * 3) and got["c"] == pytest.approx([3.0] * 3)  # ms, warm-up excluded
    calls.clear()
    before = []
    got = interleave(jobs, 2, rotate=False, prime=True, before=before.append, timer=lambda: clock[0])
    assert calls == ["a", "a", "b", "b", "c", "c"] * 2 and before == ["a", "b", "c"] * 2
    assert got["b"] == pytest.approx([2.0, 2.0])  # the primed call is not timed


def test_results_are_written_atomically_under_scenario_and_machine(tmp_path):
    import json

    from PIL import Image
    from stylert.benchmarks.harness import RESULTS, machine_name, results_dir, write_results

    assert results_dir("suite") == RESULTS / "suite" / machine_name()
    assert RESULTS not in results_dir("suite", quick=True).parents  # a smoke run never lands in the tree
    paths = write_results(tmp_path / "out", "x", {"v": np.float32(1.5), "n": np.int64(3), "bad": np.float32("nan"), "path": tmp_path},
                          "# x", [Image.new("RGB", (10, 20)), Image.new("RGB", (30, 5))], say=None)
    assert [p.name for p in paths] == ["x.json", "x.md", "x.png"]
    assert json.loads(paths[0].read_text()) == {"v": 1.5, "n": 3, "bad": None, "path": str(tmp_path)}
    assert paths[1].read_text() == "# x\n"
    with Image.open(paths[2]) as img:
        assert img.size == (30, 25)  # stacked
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["x.json", "x.md", "x.png"]  # no temporary left
