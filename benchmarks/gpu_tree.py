"""Make the working tree small enough to travel to a remote GPU machine, and put it back afterwards.

    python -m stylert.benchmarks.gpu_tree size [--carry PATH ...]     # bytes that would travel
    python -m stylert.benchmarks.gpu_tree stash [--dir DIR] [--threshold BYTES] [--keep GLOB ...]
    python -m stylert.benchmarks.gpu_tree restore [--dir DIR]
    python -m stylert.benchmarks.gpu_tree weights [--out DIR]         # compact float16 AdaIN weights

A remote run that copies the working tree (tracked files, untracked files git does not ignore, and
the ignored paths named to be carried) is limited in size (``LIMIT_BYTES``, 64 MiB). ``stash`` moves
every tracked file larger than ``--threshold`` (default 1 MB: the shipped ``*.safetensors``, result
images) out of the working tree into a stash folder outside it (default
``~/.cache/stylert/gpu-stash/<hash of the repository path>``), writing ``manifest.json`` there with
each file's path, size and SHA-256; ``git status`` shows them deleted until ``restore`` copies them
back, checks each SHA-256, and deletes the stash copies. ``restore`` never overwrites a file that
differs from the stashed one (it says which and exits 1), and both commands can be run again
(files already stashed / already back are skipped).

``weights`` writes the public AdaIN encoder (through relu4_1, or ``--through relu5_1`` for the sanet
families) and decoder as float16 safetensors (``write_compact_public``: 14 MB instead of 94 MB), which
``stylert.models.checkpoints.load_model`` and ``load_shipped(public_encoder=...)`` read like the
``.pth`` originals. Default ``--out`` is ``.gpu-weights/`` in the repository (ignored by git: name
it as a carried path).
"""

from __future__ import annotations

import argparse
import fnmatch
import hashlib
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from stylert.core.files import atomic_write, sha256_of
from stylert.errors import OutputError, StylertError

#: What one remote call may carry, working tree included (bytes).
LIMIT_BYTES = 64 * 1024 * 1024
#: Tracked files above this many bytes are stashed.
DEFAULT_THRESHOLD = 1_000_000
MANIFEST = "manifest.json"
FORMAT = "stylert-gpu-stash"
#: The compact weights' default folder, relative to the repository root (in .gitignore).
WEIGHTS_DIR = ".gpu-weights"


class StashError(StylertError):
    """A stash or restore that cannot be done without losing or overwriting a file."""


def repo_root(start: str | os.PathLike = ".") -> Path:
    """The git working tree's top folder containing ``start``; StashError outside a git checkout."""
    try:
        out = subprocess.run(["git", "rev-parse", "--show-toplevel"], cwd=start, capture_output=True,
                             text=True, check=True).stdout.strip()
    except (subprocess.CalledProcessError, FileNotFoundError) as err:
        raise StashError("not inside a git working tree", path=Path(start).resolve(),
                         fix="run it from the repository (or pass --root)") from err
    return Path(out)


def _git_files(root: Path, *args: str) -> list[str]:
    out = subprocess.run(["git", "ls-files", "-z", *args], cwd=root, capture_output=True, check=True).stdout
    return [p for p in out.decode("utf-8", "surrogateescape").split("\0") if p]


def tracked_files(root: Path) -> list[str]:
    """Tracked paths (relative, POSIX) that exist as files in the working tree."""
    return [p for p in _git_files(root, "--cached") if (root / p).is_file() and not (root / p).is_symlink()]


def untracked_files(root: Path) -> list[str]:
    """Untracked paths that git does not ignore (they travel with the tree)."""
    return [p for p in _git_files(root, "--others", "--exclude-standard") if (root / p).is_file()]


def _tree_bytes(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


@dataclass
class TreeSize:
    """Bytes that would travel: tracked files present, untracked-not-ignored files, carried paths."""

    tracked: int
    untracked: int
    carried: dict[str, int]
    largest: list[tuple[str, int]]

    @property
    def total(self) -> int:
        return self.tracked + self.untracked + sum(self.carried.values())

    def format(self, limit: int = LIMIT_BYTES) -> str:
        mib = 1024 * 1024
        lines = [f"tracked {self.tracked / mib:.1f} MiB + untracked {self.untracked / mib:.1f} MiB"
                 + "".join(f" + {p} {b / mib:.1f} MiB" for p, b in self.carried.items())
                 + f" = {self.total / mib:.1f} MiB of {limit / mib:.0f} MiB: "
                 + ("fits" if self.total <= limit else f"OVER by {(self.total - limit) / mib:.1f} MiB")]
        lines += [f"  {b / 1e6:8.2f} MB  {p}" for p, b in self.largest]
        return "\n".join(lines)


def tree_size(root: Path, carry: list[str] = (), largest: int = 5) -> TreeSize:
    """The working tree's travelling size (see ``TreeSize``); ``carry`` paths relative to ``root``."""
    sizes = {p: (root / p).stat().st_size for p in tracked_files(root)}
    extra = {p: (root / p).stat().st_size for p in untracked_files(root)}
    carried = {}
    for p in carry:
        if not (root / p).exists():
            raise StashError("carried path does not exist", path=root / p, fix="build it first, or drop --carry")
        carried[p] = _tree_bytes(root / p)
    top = sorted({**sizes, **extra}.items(), key=lambda kv: -kv[1])[:largest]
    return TreeSize(sum(sizes.values()), sum(extra.values()), carried, top)


def default_stash_dir(root: Path) -> Path:
    """``~/.cache/stylert/gpu-stash/<first 12 hex of sha256(repository path)>``: one per checkout."""
    key = hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:12]
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "stylert" / "gpu-stash" / key


def _read_manifest(stash: Path) -> dict:
    path = stash / MANIFEST
    if not path.is_file():
        return {"format": FORMAT, "version": 1, "files": {}}
    try:
        data = json.loads(path.read_text())
        if data.get("format") != FORMAT:
            raise ValueError(data.get("format"))
        return data
    except (ValueError, AttributeError) as err:
        raise StashError(f"unreadable stash manifest ({err})", path=path,
                         fix="restore the files by hand from that folder") from None


def _write_manifest(stash: Path, data: dict) -> None:
    with atomic_write(stash / MANIFEST, overwrite=True) as tmp:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def _copy_verified(src: Path, dst: Path, sha: str) -> None:
    """Copy ``src`` to ``dst`` through a temporary file, checking the copy's SHA-256 before the rename."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.name}.{os.getpid()}.tmp")
    try:
        shutil.copy2(src, tmp)
        if sha256_of(tmp) != sha:
            raise StashError("copy does not match its SHA-256", path=dst, fix="check the disk and run again")
        os.replace(tmp, dst)
    finally:
        tmp.unlink(missing_ok=True)


def stash(root: Path, stash_dir: Path, threshold: int = DEFAULT_THRESHOLD, keep: list[str] = (),
          say=print) -> list[str]:
    """Move tracked files over ``threshold`` bytes (except ``keep`` globs) into ``stash_dir``.

    Each file is copied, the copy's SHA-256 checked, the manifest updated, and only then the
    original deleted. Returns the paths moved this time. StashError if ``stash_dir`` is inside
    the working tree or already holds a different file under the same path."""
    root, stash_dir = root.resolve(), stash_dir.resolve()
    if stash_dir == root or root in stash_dir.parents:
        raise StashError("the stash folder is inside the working tree (it would travel too)", path=stash_dir,
                         fix="choose a --dir outside the repository")
    data = _read_manifest(stash_dir)
    moved = []
    for rel in tracked_files(root):
        src = root / rel
        size = src.stat().st_size
        if size <= threshold or any(fnmatch.fnmatch(rel, g) for g in keep):
            continue
        sha = sha256_of(src)
        old = data["files"].get(rel)
        if old and old["sha256"] != sha and (stash_dir / rel).exists():
            raise StashError(f"the stash already holds another version of {rel}", path=stash_dir / rel,
                             fix="restore first, or stash into another --dir")
        _copy_verified(src, stash_dir / rel, sha)
        data["files"][rel] = {"sha256": sha, "size": size}
        _write_manifest(stash_dir, data)
        src.unlink()
        moved.append(rel)
        say(f"stashed {size / 1e6:7.2f} MB  {rel}")
    data["root"] = str(root)
    _write_manifest(stash_dir, data)
    say(f"{len(moved)} files moved to {stash_dir} ({len(data['files'])} in the stash); "
        f"`python -m stylert.benchmarks.gpu_tree restore` puts them back")
    return moved


def restore(root: Path, stash_dir: Path, say=print) -> tuple[list[str], list[str]]:
    """Copy every stashed file back (SHA-256 checked), then delete the stash copy.

    A file already back with the same SHA-256 is skipped; one that exists with other content is
    left alone and reported. Returns (restored paths, refused paths); the manifest keeps the
    refused ones (and is removed when none is left)."""
    root, stash_dir = root.resolve(), stash_dir.resolve()
    data = _read_manifest(stash_dir)
    done, refused = [], []
    for rel, entry in sorted(data["files"].items()):
        dst, src = root / rel, stash_dir / rel
        if dst.exists():
            if dst.is_file() and sha256_of(dst) == entry["sha256"]:
                src.unlink(missing_ok=True)
                done.append(rel)
                continue
            refused.append(rel)
            say(f"NOT restored (the working tree has another file there; the stashed copy stays in {src}): {rel}")
            continue
        if not src.is_file():
            raise StashError(f"the stashed copy of {rel} is missing", path=src,
                             fix=f"`git checkout -- {rel}` gets the committed version back")
        if sha256_of(src) != entry["sha256"]:
            raise StashError(f"the stashed copy of {rel} does not match its SHA-256", path=src,
                             fix=f"`git checkout -- {rel}` gets the committed version back")
        _copy_verified(src, dst, entry["sha256"])
        src.unlink()
        done.append(rel)
        say(f"restored {entry['size'] / 1e6:7.2f} MB  {rel}")
    data["files"] = {k: v for k, v in data["files"].items() if k in refused}
    if data["files"]:
        _write_manifest(stash_dir, data)
    else:
        (stash_dir / MANIFEST).unlink(missing_ok=True)
        for d in sorted((p for p in stash_dir.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
            with_files = any(d.iterdir())
            if not with_files:
                d.rmdir()
    say(f"{len(done)} files back in {root}" + (f"; {len(refused)} refused (see above)" if refused else ""))
    return done, refused


#: Sequential layers of ``vgg_normalised.pth`` each deepest tap needs (adain, adain-multilevel: relu4_1;
#: sanet, sanet-multilevel: relu5_1); see ../shared/weights/README.md.
ENCODER_LAYERS = {"relu4_1": 31, "relu5_1": 44}


def write_compact_public(out: str | os.PathLike, files: tuple | None = None, through: str = "relu4_1",
                         say=print) -> list[Path]:
    """Write the public AdaIN pair as float16 safetensors in ``out``: ``vgg_normalised.safetensors``
    (the layers up to ``through``: relu4_1 7 MB, relu5_1 26 MB) and ``decoder.safetensors`` (7 MB),
    the same keys as the ``.pth`` files (80 + 14 MB).

    ``files``: the (vgg_normalised.pth, decoder.pth) paths (default: ``public_adain_files()``).
    CheckpointError if a weight is not finite or does not fit float16 (|w| > 65504)."""
    import torch
    from safetensors.torch import save_file

    from stylert.errors import CheckpointError
    from stylert.models.checkpoints import read_state
    from stylert.models.pretrained import public_adain_files

    out = Path(out)
    written = []
    for src in files or public_adain_files():
        src = Path(src)
        state = read_state(src)
        if src.stem == "vgg_normalised":  # keep the layers up to the tap (sequential indices)
            state = {k: v for k, v in state.items() if int(k.split(".")[0]) < ENCODER_LAYERS[through]}
        tensors = {}
        for k, v in state.items():
            if not bool(torch.isfinite(v).all()) or float(v.abs().max()) > torch.finfo(torch.float16).max:
                raise CheckpointError(f"{k} does not fit float16", path=src, fix="keep the float32 file")
            tensors[k] = v.to(torch.float16).contiguous()
        dst = out / f"{src.stem}.safetensors"
        with atomic_write(dst, overwrite=True) as tmp:
            save_file(tensors, str(tmp), metadata={"source": src.name, "dtype": "float16"})
        written.append(dst)
        say(f"wrote {dst} ({dst.stat().st_size / 1e6:.1f} MB, from {src.name})")
    return written


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", default=".", help="any folder inside the git checkout (default: .)")
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("size", help="bytes the working tree (+ carried paths) would travel")
    p.add_argument("--carry", action="append", default=[], help="ignored path that travels too (repeatable)")
    p.add_argument("--limit-mib", type=float, default=LIMIT_BYTES / 2**20)
    p = sub.add_parser("stash", help="move large tracked files out of the working tree")
    p.add_argument("--dir", help="stash folder (default ~/.cache/stylert/gpu-stash/<repo hash>)")
    p.add_argument("--threshold", type=int, default=DEFAULT_THRESHOLD, help="bytes (default 1000000)")
    p.add_argument("--keep", action="append", default=[], help="glob of large files to leave (repeatable)")
    p = sub.add_parser("restore", help="put the stashed files back, SHA-256 checked")
    p.add_argument("--dir")
    p = sub.add_parser("weights", help="write compact float16 copies of the public AdaIN weights")
    p.add_argument("--out", help=f"folder (default <repo>/{WEIGHTS_DIR})")
    p.add_argument("--through", default="relu4_1", choices=list(ENCODER_LAYERS),
                   help="deepest encoder tap kept: relu4_1 (adain families), relu5_1 (sanet families)")
    args = parser.parse_args(argv)
    try:
        root = repo_root(args.root)
        if args.cmd == "size":
            ts = tree_size(root, args.carry)
            limit = int(args.limit_mib * 2**20)
            print(ts.format(limit))
            return 0 if ts.total <= limit else 1
        if args.cmd == "weights":
            write_compact_public(Path(args.out) if args.out else root / WEIGHTS_DIR, through=args.through)
            return 0
        stash_dir = Path(args.dir).expanduser() if args.dir else default_stash_dir(root)
        if args.cmd == "stash":
            stash(root, stash_dir, args.threshold, args.keep)
            print(tree_size(root).format())
            return 0
        _, refused = restore(root, stash_dir)
        return 1 if refused else 0
    except (StylertError, OutputError) as err:
        print(f"gpu_tree: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
