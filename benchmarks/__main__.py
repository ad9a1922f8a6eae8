"""``python -m stylert.benchmarks SCENARIO [--quick] [options]``: run one benchmark scenario.

Each scenario is a module of this package with a ``main(argv)`` built on the harness
(``harness.py``: timing, interleaving, the machine record, the results writer); its results go to
``benchmarks/results/<scenario>/<machine>/`` unless ``--out`` says otherwise. ``--quick`` runs a
scenario's small form (tiny sizes, seconds; the smoke test runs every one).
``python -m stylert.benchmarks SCENARIO --help`` lists a scenario's options.
"""

from __future__ import annotations

import importlib
import sys

#: scenario -> one line; the module is ``stylert.benchmarks.<scenario>``
SCENARIOS = {
    "suite": "every family, the PyTorch reference and every backend at several sizes (the README's table)",
    "runtime_speed": "the ONNX Runtime runtime against the PyTorch reference at one size, with the FLOP floor",
    "flops": "FLOPs of an export's graphs at given shapes, counted from the ONNX graphs",
    "int8_quality": "int8 against float32: speed of the content path, PSNR, content and style losses",
    "int8_graphs": "each graph at float32 and int8, and ways to schedule the int8 job",
    "whole_process": "pytorch-AdaIN's job as whole `stylert stylize` processes, reference against exports",
    "serving_load": "the Triton `stylize` model under perf_analyzer, beside the in-process runtime",
    "video_temporal": "warping error, losses and frames/s of temporal smoothing and blending",
    "blend_restoration": "the temporal blend's cost in style against its gain in steadiness",
    "train_speed": "where an attention family's training step goes, and the variants that cut it",
    "train_throughput": "training iterations/s per family, float32 and mixed precision",
    "training_curve": "ratios to AdaIN of a training run's checkpoints against steps",
    "warm_start_grid": "the attention warm start's gain and temperature, scored on training pairs",
    "gpu_check": "the GPU path in one process: exports, engines, parity and latency per variant",
    "gpu_inductor": "the AOTInductor engine on a GPU: export, build, validate, time",
    "gpu_train": "a prepared training run for a remote GPU machine (prepare / run)",
}


def usage() -> str:
    width = max(map(len, SCENARIOS))
    lines = ["usage: python -m stylert.benchmarks SCENARIO [--quick] [options]", "",
             "Runs one benchmark scenario; results go to benchmarks/results/<scenario>/<machine>/ unless",
             "--out says otherwise. --quick: the scenario's small form (seconds). SCENARIO --help: its options.",
             "", "scenarios:"]
    lines += [f"  {name.ljust(width)}  {text}" for name, text in SCENARIOS.items()]
    lines += ["", "tool (not a scenario): python -m stylert.benchmarks.gpu_tree (the working tree's size, "
              "stash/restore, compact weights)"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        return 0 if argv else 2
    name, rest = argv[0], argv[1:]
    if name not in SCENARIOS:
        print(f"stylert.benchmarks: no scenario {name!r}; the scenarios: {', '.join(SCENARIOS)} "
              "(python -m stylert.benchmarks --help)", file=sys.stderr)
        return 2
    from ..errors import StylertError

    module = importlib.import_module(f"{__package__}.{name}")
    try:
        result = module.main(rest)
    except StylertError as err:
        print(f"Error: {err}", file=sys.stderr)
        return 1
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    raise SystemExit(main())
