"""Training throughput per family, with and without mixed precision -> benchmarks/results/*.json.

    python -m stylert.benchmarks.train_throughput                      # GPU: 256x256, batch 8, fp32 and AMP
    python -m stylert.benchmarks.train_throughput --device cpu --size 32 --batch-size 1 --steps 2

Mixed precision is measured where ``--amp`` has one (CUDA float16; bfloat16 on CPUs with bfloat16
instructions); elsewhere the AMP rows are left out and said so.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from datetime import datetime, timezone
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--families", default="all", help="comma-separated families (default: all)")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--out", type=Path, default=None, help="JSON file (default: benchmarks/results/"
                        "train_throughput-<device>.json)")
    args = parser.parse_args(argv)

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
        "size": args.size, "batch_size": args.batch_size, "steps": args.steps,
        "results": rows,
    }
    out = args.out or RESULTS / f"train_throughput-{device.type}.json"
    from stylert.core.files import atomic_write

    with atomic_write(out, overwrite=True) as tmp:
        tmp.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
