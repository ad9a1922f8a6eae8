"""`stylert bench`: one tiny run on the CPU (synthetic AdaIN weights), its JSON, Markdown and chart.

Nothing here depends on speed: only on what is measured, counted and written.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from PIL import Image
from stylert.benchmarks.bench import GRAPHS, SCHEMA, parse_backend
from stylert.benchmarks.flops import count_flops
from stylert.cli import main
from stylert.core.images import hw_text, parse_hw
from stylert.errors import ImageError, ModelError
from stylert.export.manifest import load_manifest

SUMMARY_KEYS = {"count", "mean", "median", "p90", "p95", "p99", "min", "max"}


@pytest.fixture(scope="module")
def bench_run(exports, tmp_path_factory):
    _, export_dir = exports("adain")
    out = tmp_path_factory.mktemp("bench")
    args = ["bench", str(export_dir), "--backend", "onnxruntime:cpu", "--backend", "nosuch:cpu",
            "--shape", "48x32", "--seconds", "0.2", "--warmup", "0.05", "--peak-seconds", "0.1",
            "--cuda-graph", "--json", str(out / "b.json"), "--markdown", str(out / "b.md"),
            "--chart", str(out / "b.png")]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    return export_dir, out, result, json.loads((out / "b.json").read_text())


def test_bench_json_schema(bench_run):
    _, _, _, report = bench_run
    assert report["schema"] == SCHEMA
    assert {"machine", "export", "settings", "peak", "unavailable", "results"} <= set(report)
    assert {"cpu", "cores", "versions", "git_commit"} <= set(report["machine"])
    assert report["peak"]["cpu"]["dtype"] == "float32" and report["peak"]["cpu"]["tflops"] > 0
    (r,) = report["results"]
    assert (r["backend"], r["device"], r["size"], r["batch"]) == ("onnxruntime", "cpu", [48, 32], 1)
    assert r["precision"] == "fp32" and r["compute_timer"] == "host-wall-clock"
    assert r["cuda_graph"] is False  # does not apply on the CPU
    m = r["metrics"]
    figures = [m["host"], m["end_to_end"], m["style_encode"]["uncached"], m["style_encode"]["cached"],
               *(m["compute"][g] for g in GRAPHS)]
    for f in figures:
        assert set(f["summary"]) == SUMMARY_KEYS
        assert f["summary"]["count"] == len(f["samples_ms"]) >= 5  # every sample kept
        assert f["wall_s"] > 0 and f["warmup_iterations"] >= 1
    assert m["host"]["images_per_s"] == pytest.approx(len(m["host"]["samples_ms"]) / m["host"]["wall_s"])
    for key in ("host", "end_to_end", *GRAPHS):
        assert r["efficiency"][key]["tflops"] > 0 and r["efficiency"][key]["fraction_of_peak"] > 0
    assert r["memory"]["peak_rss_mb"] > 0 and r["memory"]["device_peak_mb"] is None


def test_bench_prints_its_table_once(bench_run):
    """The table on stdout, once: the progress on stderr names the cases, not their rows."""
    result = bench_run[2]
    header = [line for line in result.output.splitlines() if line.startswith("backend ")]
    rows = [line for line in result.output.splitlines() if line.startswith("onnxruntime:cpu fp32")]
    assert len(header) == 1 and len(rows) == 1, result.output
    assert header[0] in result.stdout and rows[0] in result.stdout
    assert "[1/1] onnxruntime:cpu 48x32 batch 1" in result.stderr


def test_bench_percentiles_are_consistent(bench_run):
    r = bench_run[3]["results"][0]
    m = r["metrics"]
    for f in [m["host"], m["end_to_end"], m["style_encode"]["uncached"], *(m["compute"][g] for g in GRAPHS)]:
        s = f["summary"]
        assert s["min"] <= s["median"] <= s["p90"] <= s["p95"] <= s["p99"] <= s["max"]
        assert s["min"] == pytest.approx(min(f["samples_ms"]), abs=1e-3)
        assert s["max"] == pytest.approx(max(f["samples_ms"]), abs=1e-3)


def test_bench_flops_equal_count_flops_at_the_measured_shape(bench_run):
    export_dir, _, _, report = bench_run
    manifest = load_manifest(export_dir)
    r = report["results"][0]
    # 32 wide, 48 high; the AdaIN export takes multiples of 8: no padding, relu4_1 is 6 x 4
    expected_shapes = {"encoder": {"image": (1, 3, 48, 32)},
                       "transform": {"content_relu4_1": (1, 512, 6, 4), "style_relu4_1_mean": (1, 512, 1, 1),
                                     "style_relu4_1_std": (1, 512, 1, 1), "alpha": (1,)},
                       "decoder": {"relu4_1": (1, 512, 6, 4)}}
    assert {g: {k: tuple(v) for k, v in s.items()} for g, s in r["shapes"].items()} == expected_shapes
    for g in GRAPHS:
        assert r["flops"][g] == count_flops(str(manifest.graph_path(g)), expected_shapes[g])["total"]
    assert r["flops"]["total"] == sum(r["flops"][g] for g in GRAPHS)


def test_bench_lists_unavailable_backends_with_a_reason(bench_run):
    _, _, result, report = bench_run
    (u,) = report["unavailable"]
    assert (u["backend"], u["device"]) == ("nosuch", "cpu") and "unknown backend" in u["reason"]
    assert "nosuch:cpu" in result.output and "unknown backend" in result.output
    assert "--cuda-graph does not apply on the CPU" in result.output


def test_bench_writes_markdown_and_a_readable_chart(bench_run):
    _, out, _, _ = bench_run
    md = (out / "b.md").read_text()
    assert "| backend |" in md and "onnxruntime:cpu" in md and "nosuch" in md
    with Image.open(out / "b.png") as img:
        img.load()
        assert img.format == "PNG" and img.width > 100 and img.height > 100


def test_graph_shapes_pad_content_and_evaluate_symbols(exports):
    _, export_dir = exports("adain")
    manifest = load_manifest(export_dir)
    shapes = manifest.input_shapes(2, (1080, 1920))
    assert shapes["encoder"]["image"] == (2, 3, 1080, 1920)  # 1080 is a multiple of 8
    assert shapes["decoder"]["relu4_1"] == (2, 512, 135, 240)


def test_one_size_spelling_and_backend():
    assert parse_hw("1080x1920") == (1080, 1920) and parse_hw("256") == (256, 256)  # height first
    assert hw_text((1080, 1920)) == "1080x1920"
    for bad in ("big", "0x5", "12x", "3x4x5"):
        with pytest.raises(ImageError, match="HEIGHTxWIDTH"):
            parse_hw(bad)
    old = CliRunner().invoke(main, ["bench", ".", "--size", "1920x1080"])
    assert old.exit_code != 0 and "--size (WIDTHxHEIGHT) is gone" in old.output and "--shape 1080x1920" in old.output
    assert parse_backend("torch:cpu") == ("torch", "cpu") and parse_backend("onnxruntime") == ("onnxruntime", "auto")
    with pytest.raises(ModelError):
        parse_backend("torch:tpu")


def test_attention_memory_arithmetic(exports):
    from stylert.benchmarks.suite import attention_bytes, is_attention, largest_16x9

    m = load_manifest(exports("sanet")[1])  # a real attention export (sanet: relu4_1 and relu5_1)
    assert is_attention(m) and not is_attention(load_manifest(exports("adain")[1]))
    assert m.size_multiple == 16 and m.min_size == 32
    # 1920x1080 pads to 1920x1088 (content); the style is not padded: 1080/8 = 135, ceil(1080/16) = 68
    relu4 = (136 * 240) * (135 * 240)
    relu5 = (68 * 120) * (68 * 120)
    assert attention_bytes(m, (1080, 1920), batch=2) == 2 * 2 * (relu4 + relu5) * 4
    h, w = largest_16x9(m, 80e9)
    need = m.footprint.estimate
    assert need((h, w), (h, w)).total <= 80e9 < need((h + 16, w + 32), (h + 16, w + 32)).total
    fh, fw = largest_16x9(m, 80e9, fused=True)
    assert fh > h and attention_bytes(m, (fh, fw)) + need((fh, fw)).activations <= 80e9
