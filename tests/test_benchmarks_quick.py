"""Every benchmark scenario's ``--quick`` form, through the one entry point
(``python -m stylert.benchmarks SCENARIO --quick``): each runs here on the CPU with tiny sizes and
writes its results with the harness's writer; the scenarios that need what CI has not (a Triton
server, minutes of AOTInductor compilation) are skipped with the reason."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from stylert.benchmarks.__main__ import SCENARIOS
from stylert.benchmarks.__main__ import main as benchmarks

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
DATASET = SHARED / "datasets" / "train-v1"
STYLE = SHARED / "images" / "style" / "la_muse.jpg"

pytestmark = pytest.mark.usefixtures("use_shared_weights")

#: scenario -> why its quick form is not run here
SKIPPED = {
    "gpu_inductor": "its quick form compiles an AOTInductor engine on the CPU: minutes, not seconds",
}


@pytest.fixture(scope="module")
def int8_dir(tmp_path_factory, adain_model):
    """The public AdaIN at int8, calibrated on 3 train-v1 pairs at 64 px."""
    from stylert.export import export_model
    from stylert.export.quantize import calibration_set

    if not (DATASET / "content").is_dir():
        pytest.skip(f"calibration images not found at {DATASET}")
    root = tmp_path_factory.mktemp("quick-int8")
    for kind in ("content", "style"):
        (root / "cal" / kind).mkdir(parents=True)
        for p in sorted((DATASET / kind).iterdir())[:3]:
            shutil.copy(p, root / "cal" / kind / p.name)
    cal = calibration_set(root / "cal", 3, pixels=64)
    return export_model(adain_model, root / "out", precision="int8", sizes=[(64, 96)], calibration=cal).out_dir


@pytest.fixture(scope="module")
def training_run(tmp_path_factory, shared_images):
    """A two-step adain training run with its checkpoints (``stylert train``)."""
    out = tmp_path_factory.mktemp("quick-train") / "run"
    proc = subprocess.run([sys.executable, "-m", "stylert", "train", "--model", "adain", "--iterations", "2",
                           "--content", str(shared_images / "content"), "--style", str(shared_images / "style"),
                           "--out", str(out), "--batch-size", "1", "--crop-size", "32", "--image-size", "40",
                           "--checkpoint-every", "2", "--sample-every", "2", "--samples", "1", "--workers", "0",
                           "--device", "cpu"], capture_output=True, text=True, cwd=REPO.parent)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out


def _args(name: str, request, out: Path) -> list[str]:
    """The options scenario ``name`` needs besides ``--quick`` (its inputs) and ``--out``."""
    get = request.getfixturevalue
    if name in ("runtime_speed", "flops"):
        return ["--export", str(get("adain_export")), "-o", str(out)]
    if name == "int8_graphs":
        return ["--fp32", str(get("adain_export")), "--int8", str(get("int8_dir")), "-o", str(out)]
    if name == "int8_quality":
        return ["--fp32", str(get("adain_export")), "--int8", str(get("int8_dir")),
                "--holdout", str(DATASET / "holdout"), "-o", str(out)]
    if name == "whole_process":
        return ["--int8", str(get("int8_dir")), "-o", str(out)]
    if name in ("video_temporal", "blend_restoration"):
        return ["--engine", str(get("adain_export")), "--style", str(STYLE), "-o", str(out)]
    if name == "training_curve":
        holdout = get("shared_images")
        return [str(get("training_run")), "-c", str(holdout / "content" / "cornell.jpg"), "-s", str(STYLE),
                "-o", str(out)]
    if name == "warm_start_grid":
        if not (DATASET / "content").is_dir():
            pytest.skip(f"training pairs not found at {DATASET}")
        return ["-o", str(out)]
    if name == "gpu_check":  # the dry run, without the AOTInductor build (minutes on the CPU)
        return ["--families", "adain", "--inductor-families", "", "-o", str(out)]
    if name == "serving_load":
        from stylert.serving.server import find_tritonserver

        try:
            find_tritonserver(None)
        except Exception as err:  # noqa: BLE001 - any reason it cannot start is the skip's reason
            pytest.skip(f"needs a Triton server: {str(err).splitlines()[0]}")
        if shutil.which("perf_analyzer") is None:
            pytest.skip("needs perf_analyzer on PATH (benchmarks/get_perf_analyzer.sh)")
        return ["--export", str(get("adain_export")), "-o", str(out)]
    return ["-o", str(out)] if name not in ("gpu_train",) else []


#: scenario -> a file its quick run writes into --out (gpu_train writes into the temporary results folder)
WRITES = {"suite": "suite.json", "runtime_speed": "runtime_speed.json", "flops": "flops.md",
          "int8_quality": "int8_quality.md", "int8_graphs": "int8_graphs.png", "whole_process": "whole_process.png",
          "serving_load": "serving_load.json", "video_temporal": "temporal.json",
          "blend_restoration": "restoration.png", "train_speed": "train_speed-sanet-b1-32.md",
          "train_throughput": "train_throughput-cpu.json", "training_curve": "curve.png",
          "warm_start_grid": "warm_start_grid.json", "gpu_check": "gpu_check.json"}


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_quick_form_runs(name, request, tmp_path, capsys):
    if name in SKIPPED:
        pytest.skip(SKIPPED[name])
    out = tmp_path / "out"
    args = _args(name, request, out)
    assert benchmarks([name, "--quick", *args]) == 0, capsys.readouterr().err[-2000:]
    if name == "gpu_train":
        assert "steps" in capsys.readouterr().out
        return
    written = out / WRITES[name]
    assert written.is_file() and written.stat().st_size > 0, sorted(p.name for p in out.iterdir())
    if written.suffix == ".json":
        record = json.loads(written.read_text())
        assert record.get("quick", record.get("settings", {}).get("quick", record.get("settings", {}).get("dry_run")))
    assert not list(out.glob("*.tmp*")), "a temporary file was left behind"


def test_every_scenario_module_has_a_quick_option():
    from stylert.benchmarks import harness

    for name in SCENARIOS:
        text = (REPO / "benchmarks" / f"{name}.py").read_text(encoding="utf-8")
        assert "scenario_parser(NAME" in text and f'NAME = "{name}"' in text, name
    assert set(WRITES) | set(SKIPPED) | {"gpu_train"} == set(SCENARIOS)
    assert harness.results_dir("suite", quick=False).parent.parent == REPO / "benchmarks" / "results"


def test_entry_point_lists_the_scenarios_and_refuses_an_unknown_one():
    env = {"PYTHONPATH": str(REPO.parent), "PATH": "/usr/bin:/bin"}
    help_ = subprocess.run([sys.executable, "-m", "stylert.benchmarks", "--help"], capture_output=True, text=True,
                           env=env)
    assert help_.returncode == 0 and all(name in help_.stdout for name in SCENARIOS)
    bad = subprocess.run([sys.executable, "-m", "stylert.benchmarks", "nope"], capture_output=True, text=True, env=env)
    assert bad.returncode == 2 and "no scenario 'nope'" in bad.stderr and "\n" not in bad.stderr.strip()
    sub = subprocess.run([sys.executable, "-m", "stylert.benchmarks", "int8_graphs", "--help"], capture_output=True,
                         text=True, env=env)
    assert sub.returncode == 0 and "--quick" in sub.stdout and "python -m stylert.benchmarks int8_graphs" in sub.stdout
