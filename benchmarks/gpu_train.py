"""One prepared training run for a remote GPU machine that receives a copy of the working tree.

    python -m stylert.benchmarks gpu_train prepare                    # here: data subset + float16 weights
    python -m stylert.benchmarks.gpu_tree stash                        # here: large tracked files out
    # remote, in the repository root ($OUT comes back), carrying .gpu-train:
    python -m stylert.benchmarks gpu_train run --family sanet --minutes 10 --out $OUT/sanet
    python -m stylert.benchmarks.gpu_tree restore                      # here, after the call

``prepare`` writes ``.gpu-train/`` (ignored by git; carried by name): ``content/`` and ``style/``, a
subset of train-v1 (every n-th file in name order, ``--content-count`` / ``--style-count``) resized to
short side ``--size`` and saved as JPEG quality ``--quality``; ``weights/`` with the public encoder
(through relu5_1) and decoder as float16 safetensors (``gpu_tree.write_compact_public``, 33 MB); and
``manifest.json`` (sources, counts, bytes). It prints the bytes that would travel
(``gpu_tree.tree_size``) against the 64 MiB limit and fails if they exceed it.

``run`` trains with ``stylert train``'s own code (``--from-pretrained`` with those weights, ``--amp``:
float16 autocast on CUDA, bfloat16 on CPUs with bfloat16 instructions) until ``--minutes`` pass,
checkpointing every ``--checkpoint-every`` steps, then writes into ``--out``: the run folder
(``log.csv``, ``loss.png``, ``samples/``, ``checkpoints/last.pt`` only, the older checkpoints removed
to save transfer), ``shipped/<family>.safetensors`` (``stylert weights ship``'s float16 file with its
registry entry, budget text from the log) and ``speed.json`` (device, iterations/s: median over steps
after the first ``--warmup``, images/s). The CPU dry run (``--device cpu --minutes 0.05 --batch-size 1
--size 32``) is ``tests/test_gpu_train.py``; ``--quick`` runs both on the CPU in a temporary folder: 3 content
and 3 style images of ../shared/images at 40 px, then a few seconds of training at batch 1 on 32 px crops, into
a new folder under ``<temp>/stylert-benchmarks/gpu_train/<machine>/``.
"""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

from .harness import results_dir, scenario_parser, write_json

NAME = "gpu_train"
DEFAULT_DIR = ".gpu-train"
TRAIN_V1 = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "train-v1"


def _root() -> Path:
    from .gpu_tree import repo_root

    return repo_root(Path(__file__).resolve().parent)


def prepare(out: Path, source: Path = TRAIN_V1, content_count: int = 400, style_count: int = 200, size: int = 256,
            quality: int = 85, weights: bool = True, say=print) -> dict:
    """Write the subset and the weights into ``out``; returns the manifest."""
    from PIL import Image

    from stylert.core.images import collect_images
    from stylert.errors import StylertError

    manifest = {"source": str(source), "size": size, "quality": quality, "files": {}}
    for which, count in (("content", content_count), ("style", style_count)):
        paths = sorted(collect_images([source / which]))
        if not paths:
            raise StylertError(f"no {which} images", path=source / which, fix="pass --source train-v1's folder")
        step = max(1, len(paths) // count)
        chosen = paths[::step][:count]
        dst_dir = out / which
        dst_dir.mkdir(parents=True, exist_ok=True)
        total = 0
        for p in chosen:
            with Image.open(p) as im:
                im = im.convert("RGB")
                scale = size / min(im.size)
                im = im.resize((max(size, round(im.width * scale)), max(size, round(im.height * scale))),
                               Image.Resampling.BICUBIC)
                dst = dst_dir / f"{p.stem}.jpg"
                im.save(dst, quality=quality)
                total += dst.stat().st_size
        manifest["files"][which] = {"count": len(chosen), "of": len(paths), "every": step, "bytes": total}
        say(f"{which}: {len(chosen)} of {len(paths)} images (every {step}), {total / 1e6:.1f} MB")
    if weights:
        from .gpu_tree import write_compact_public

        written = write_compact_public(out / "weights", through="relu5_1", say=say)
        manifest["weights"] = {p.name: p.stat().st_size for p in written}
    write_json(out / "manifest.json", manifest)
    return manifest


def train_args(data: Path, out: Path, family: str, minutes: float, batch_size: int, size: int, device: str,
               checkpoint_every: int, workers: int, lr: float = 1e-5, transform_lr_scale: float = 0.01) -> list[str]:
    """The ``stylert train`` arguments of the run (``lr`` / ``transform_lr_scale``: those of the CPU run that
    kept the warm start; 1e-4 on the attention wrecked it within ten steps)."""
    return ["train", "--model", family, "--content", str(data / "content"), "--style", str(data / "style"),
            "--out", str(out), "--from-pretrained", "--encoder", str(data / "weights" / "vgg_normalised.safetensors"),
            "--decoder", str(data / "weights" / "decoder.safetensors"), "--amp", "--batch-size", str(batch_size),
            "--image-size", str(size), "--crop-size", str(size), "--iterations", "10000000",
            "--max-minutes", str(minutes), "--checkpoint-every", str(checkpoint_every),
            "--sample-every", str(checkpoint_every), "--samples", "4", "--workers", str(workers),
            "--device", device, "--lr", f"{lr:g}", "--transform-lr-scale", f"{transform_lr_scale:g}"]


def speed(log_csv: Path, batch_size: int, warmup: int) -> dict:
    """Iterations/s from a run's log.csv: median seconds per step after the first ``warmup`` steps."""
    from stylert.training.logs import read_log

    rows = read_log(log_csv)
    timed = [r["seconds"] for r in rows[warmup:]] or [r["seconds"] for r in rows]
    per_step = statistics.median(timed)
    return {"steps": len(rows), "timed_steps": len(timed), "median_s_per_step": per_step,
            "iterations_per_s": 1 / per_step, "images_per_s": batch_size / per_step,
            "elapsed_s": rows[-1]["elapsed"] if rows else 0.0}


def run(data: Path, out: Path, family: str, minutes: float, batch_size: int, size: int, device: str,
        checkpoint_every: int, workers: int, warmup: int, say=print, lr: float = 1e-5,
        transform_lr_scale: float = 0.01) -> dict:
    import subprocess
    import sys

    import torch

    from .harness import machine_record
    from stylert.models.stylize import resolve_device
    from stylert.models.trained import ship_checkpoint
    from stylert.training.precision import select

    if not (data / "manifest.json").is_file():
        raise SystemExit(f"{data} has no manifest.json: run `python -m stylert.benchmarks gpu_train prepare` "
                         "first and carry that folder")
    dev = resolve_device(device)
    args = train_args(data, out / "run", family, minutes, batch_size, size, device, checkpoint_every, workers, lr,
                      transform_lr_scale)
    say("stylert " + " ".join(args))
    # The training command as a whole process (as a user runs it): its output streams to ours.
    code = subprocess.run([sys.executable, "-m", "stylert", *args]).returncode
    if code != 0:
        raise SystemExit(f"training failed (exit {code})")
    ckpts = out / "run" / "checkpoints"
    for old in sorted(ckpts.glob("step_*.pt")):  # last.pt is a hard link of the newest: keep only that
        old.unlink()
    path, entry = ship_checkpoint(ckpts / "last.pt", root=out / "shipped")
    report = {"family": family, "device": str(dev),
              "device_name": torch.cuda.get_device_name(dev) if dev.type == "cuda" else machine_record()["cpu"],
              "precision": select(True, dev.type).reason, "batch_size": batch_size, "size": size,
              "minutes": minutes, "shipped": {"file": str(path.relative_to(out)), "size": entry.size,
                                              "budget": entry.budget},
              **speed(out / "run" / "log.csv", batch_size, warmup)}
    write_json(out / "speed.json", report)
    say(f"{family}: {report['steps']} steps, {report['iterations_per_s']:.2f} it/s "
        f"({report['images_per_s']:.1f} images/s) on {report['device_name']}; shipped {path}")
    return report


def main(argv=None) -> int:
    parser = scenario_parser(NAME, __doc__, out=False, quick_help="prepare and run on the CPU, tiny, in a temporary "
                             "folder (no subcommand)")
    sub = parser.add_subparsers(dest="command")
    p = sub.add_parser("prepare", help="subset of train-v1 + float16 weights into --out")
    p.add_argument("--source", type=Path, default=TRAIN_V1)
    p.add_argument("--out", type=Path, default=None, help=f"default <repo>/{DEFAULT_DIR}")
    p.add_argument("--content-count", type=int, default=400)
    p.add_argument("--style-count", type=int, default=200)
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--quality", type=int, default=85)
    r = sub.add_parser("run", help="train until --minutes pass; checkpoint, shipped file, speed.json into --out")
    r.add_argument("--family", default="sanet", choices=("sanet", "sanet-multilevel", "adain", "adain-multilevel"))
    r.add_argument("--data", type=Path, default=None, help=f"default <repo>/{DEFAULT_DIR}")
    r.add_argument("--out", type=Path, required=True)
    r.add_argument("--minutes", type=float, default=10.0)
    r.add_argument("--batch-size", type=int, default=8)
    r.add_argument("--size", type=int, default=256, help="crop side (the images' short side)")
    r.add_argument("--device", default="auto")
    r.add_argument("--checkpoint-every", type=int, default=500)
    r.add_argument("--workers", type=int, default=4)
    r.add_argument("--warmup", type=int, default=10, help="steps left out of the speed figure")
    r.add_argument("--lr", type=float, default=1e-5)
    r.add_argument("--transform-lr-scale", type=float, default=0.01)
    args = parser.parse_args(argv)
    if args.quick and args.command is None:
        import shutil
        import tempfile

        shared = Path(__file__).resolve().parents[2] / "shared" / "images"
        work = Path(tempfile.mkdtemp(prefix="stylert-gpu-train-"))
        quick_root = results_dir(NAME, None, True)
        quick_root.mkdir(parents=True, exist_ok=True)
        out = Path(tempfile.mkdtemp(prefix="run-", dir=quick_root))  # a fresh folder: stylert train refuses a used one
        try:
            prepare(work / "data", shared, content_count=3, style_count=3, size=40)
            report = run(work / "data", out, "sanet", minutes=0.001, batch_size=1, size=32,
                         device="cpu", checkpoint_every=1, workers=0, warmup=0)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        print(f"{report['steps']} steps, {report['iterations_per_s']:.3f} it/s on {report['device']}; wrote {out}")
        return 0
    if args.command is None:
        parser.error("a subcommand is needed: prepare or run (or --quick)")
    if args.command == "prepare":
        from .gpu_tree import DEFAULT_THRESHOLD, LIMIT_BYTES, tracked_files, tree_size

        out = args.out or _root() / DEFAULT_DIR
        prepare(out, args.source, args.content_count, args.style_count, args.size, args.quality)
        root = _root()
        try:
            carry = [str(out.resolve().relative_to(root))]
        except ValueError:
            carry = []
        size = tree_size(root, carry)
        print("now: " + size.format())
        large = sum(s for s in ((root / p).stat().st_size for p in tracked_files(root)) if s > DEFAULT_THRESHOLD)
        after = size.total - large
        print(f"after `python -m stylert.benchmarks.gpu_tree stash` (tracked files over {DEFAULT_THRESHOLD:,} bytes "
              f"out): {after / 2**20:.1f} MiB of {LIMIT_BYTES / 2**20:.0f} MiB")
        if after > LIMIT_BYTES:
            print("over the limit even after the stash: prepare fewer images (--content-count, --style-count)",
                  file=sys.stderr)
            return 1
        return 0
    run(args.data or _root() / DEFAULT_DIR, args.out, args.family, args.minutes, args.batch_size, args.size,
        args.device, args.checkpoint_every, args.workers, args.warmup, lr=args.lr,
        transform_lr_scale=args.transform_lr_scale)
    return 0


if __name__ == "__main__":
    from .harness import run_as_main

    run_as_main(NAME)
