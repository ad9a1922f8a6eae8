"""Files written safely: atomic file writes, atomic directory swaps, SHA-256 of a file.

The one place where stylert writes outputs: every writer (images, videos, checkpoints,
weights, exports, engines, style codes, logs) goes through ``atomic_write`` or
``replace_directory``, so a failure or an interrupt never leaves a half-written file or
directory, and nothing existing is replaced without ``overwrite``. Standard library only.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import os
from collections.abc import Iterator
from pathlib import Path

from ..errors import OutputError

CHUNK = 1 << 20  # 1 MiB: hashing block size


def sha256_of(path: str | os.PathLike) -> str:
    """Hex SHA-256 of the file at ``path`` (read in 1 MiB blocks). OSError propagates."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


_tmp_counter = itertools.count()


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, *, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` when the block succeeds.

    Creates missing parent directories. Refuses an existing ``path`` unless ``overwrite``.
    On any error the temporary file is removed and ``path`` is left as it was; OSErrors
    become OutputError.
    """
    path = Path(path)
    if path.is_dir():
        raise OutputError("is a directory", path=path, fix="choose a file name for -o")
    if path.exists() and not overwrite:
        raise OutputError("already exists", path=path, fix="--overwrite")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{next(_tmp_counter)}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        yield tmp
        os.replace(tmp, path)
    except OSError as err:
        raise OutputError(
            f"cannot write: {err.strerror or err}", path=path, fix="check the directory and free space"
        ) from err
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def replace_directory(tmp: Path, target: Path, what: str = "the directory") -> None:
    """Move the finished directory ``tmp`` to ``target`` atomically, replacing an old ``target``
    (restored if the move fails): a reader never sees a half-written directory. A failed move
    is an ``OutputError`` naming ``what`` was being moved ("the export", "the engines")."""
    try:
        _swap_directory(tmp, target)
    except OSError as err:
        raise OutputError(f"cannot move {what} into place: {err.strerror or err}", path=target,
                          fix="check the directory's permissions") from err


def _swap_directory(tmp: Path, target: Path) -> None:
    import shutil

    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(target, old)
    try:
        os.replace(tmp, target)
    except OSError:
        if old is not None:
            os.replace(old, target)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
