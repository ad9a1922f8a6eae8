"""Training throughput per family, with and without mixed precision.

    python -m stylert.benchmarks train_throughput                      # GPU: 256x256, batch 8, fp32 and AMP
    python -m stylert.benchmarks train_throughput --device cpu --size 32 --batch-size 1 --steps 2
    python -m stylert.benchmarks train_throughput --quick              # that, adain only, 1 warm-up step

Writes ``benchmarks/results/train_throughput/<machine>/train_throughput-<device>.json``.

Mixed precision is measured where ``--amp`` has one (CUDA float16; bfloat16 on CPUs with bfloat16
instructions); elsewhere the AMP rows are left out and said so.
"""

from __future__ import annotations

import platform
import sys
from datetime import datetime, timezone

from .harness import machine_record, results_dir, scenario_parser, write_results

NAME = "train_throughput"


def main(argv: list[str] | None = None) -> int:
    parser = scenario_parser(NAME, __doc__)
    parser.add_argument("--families", default=None, help="comma-separated families (default: all; --quick: "
                        "adain)")
    parser.add_argument("--size", type=int, default=None, help="default 256 (--quick: 32)")
    parser.add_argument("--batch-size", type=int, default=None, help="default 8 (--quick: 1)")
    parser.add_argument("--steps", type=int, default=None, help="default 20 (--quick: 2)")
    parser.add_argument("--warmup", type=int, default=None, help="default 3 (--quick: 1)")
    parser.add_argument("--device", default=None, help="default auto (--quick: cpu)")
    args = parser.parse_args(argv)
    quick = args.quick
    for key, full, small in (("size", 256, 32), ("batch_size", 8, 1), ("steps", 20, 2), ("warmup", 3, 1),
                             ("device", "auto", "cpu"), ("families", "all", "adain")):
        if getattr(args, key) is None:
            setattr(args, key, small if quick else full)

    import torch

    from stylert.models import list_families
    from stylert.models.stylize import resolve_device
    from stylert.training.throughput import measure

    device = resolve_device(args.device)
    families = list_families() if args.families == "all" else args.families.split(",")
    from stylert.training.precision import select

    precision = select(True, device.type)
    amps = (False, True) if precision.enabled else (False,)
    if not precision.enabled:
        print(f"note: {precision.reason}; measuring float32 only", file=sys.stderr)
    rows = []
    for family in families:
        for amp in amps:
            r = measure(family, batch_size=args.batch_size, size=args.size, amp=amp, steps=args.steps,
                        warmup=args.warmup, device=str(device))
            rows.append(r.as_dict())
            mem = f", peak {r.peak_memory_mb:.0f} MiB" if r.peak_memory_mb is not None else ""
            print(f"{family:18s} {'amp ' if amp else 'fp32'} {r.iterations_per_s:8.3f} it/s "
                  f"({r.images_per_s:.1f} img/s{mem})", flush=True)
        if device.type == "cuda":
            torch.cuda.empty_cache()
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu"
    report = {
        "benchmark": "train_throughput",
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "device": device.type, "device_name": name, "torch": torch.__version__,
        "size": args.size, "batch_size": args.batch_size, "steps": args.steps, "quick": quick,
        "machine": machine_record(), "results": rows,
    }
    write_results(args.out or results_dir(NAME, report["machine"], args.quick), f"{NAME}-{device.type}", report)
    return 0


if __name__ == "__main__":
    from .harness import run_as_main

    run_as_main(NAME)
