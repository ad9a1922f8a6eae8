"""Files written safely: atomic file writes, atomic directory swaps, SHA-256 of a file.

The one place where stylert writes outputs: every writer (images, videos, checkpoints,
weights, exports, engines, style codes, logs) goes through ``atomic_write`` or
``replace_directory``, so a failure or an interrupt never leaves a half-written file or
directory, and nothing existing is replaced without ``overwrite``. Standard library only.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import itertools
import json
import os
import shutil
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from ..errors import OutputError, os_error_fix as _fix_for

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
    check_output_path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{next(_tmp_counter)}.tmp")
    made: list[Path] = []
    done = False
    try:
        made = make_parents(path)
        yield tmp
        os.replace(tmp, path)
        done = True
    except OSError as err:
        raise output_error(err, path) from err
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        if not done:
            remove_empty(made)


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


# --------------------------------------------------------------------------- output paths, checked before work

#: The file stylert writes into every folder it writes whole (model repository, evaluation report,
#: demo run, training run): ``--overwrite`` replaces a folder only when it holds this file (or, for
#: the kinds that predate it, their own manifest), never a folder of the user's own files.
MARKER_NAME = ".stylert-output.json"


def output_error(err: OSError, path: str | os.PathLike, option: str = "-o", what: str = "") -> OutputError:
    """An OSError met while writing ``path`` as one line: the path, the cause, the fix by its cause."""
    name = os.fspath(err.filename) if err.filename else ""
    text = f"cannot write{' ' + what if what else ''}: {err.strerror or err}"
    if name and ".tmp" not in name and name != os.fspath(path):
        text += f" ({name})"
    return OutputError(text, path=path, fix=_fix_for(err, option))


def make_parents(path: Path) -> list[Path]:
    """``mkdir -p`` of ``path``'s parent; returns the folders it made, deepest first (for ``remove_empty``)."""
    made = []
    parent = Path(path).parent
    while not parent.exists():
        made.append(parent)
        if parent.parent == parent:
            break
        parent = parent.parent
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    return made


def remove_empty(folders: Iterable[Path]) -> None:
    """Remove the folders ``make_parents`` made (deepest first), where they are still empty."""
    for folder in folders:
        with contextlib.suppress(OSError):
            folder.rmdir()


def check_output_path(path: str | os.PathLike, option: str = "-o") -> None:
    """Refuse, before any work, an output path that cannot be written: no name (``.``, ``..``, ``/``),
    the current folder or one above it, a part of the path that is a file, or a folder that is not
    writable (read-only, or not ours to write). OutputError naming ``option``."""
    path = Path(path)
    full = Path(os.path.abspath(path))
    if not path.name or path.name in (".", "..") or full == Path(os.getcwd()) or full in Path(os.getcwd()).parents:
        raise OutputError("is the current folder or one above it, not a name to write to", path=path,
                          fix=f"give {option} a new name, e.g. {option} out")
    ancestor = full.parent
    while not ancestor.exists() and ancestor.parent != ancestor:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise OutputError(f"{ancestor} is a file, not a folder", path=path,
                          fix=f"give {option} a path outside it")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        cause = "on a read-only file system" if _read_only(ancestor) else "not writable"
        raise OutputError(f"cannot write in {ancestor}: {cause}", path=path,
                          fix=f"give {option} a folder you can write to")


def _read_only(folder: Path) -> bool:
    try:
        return bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def write_marker(folder: str | os.PathLike, kind: str) -> None:
    """Mark ``folder`` as a ``kind`` stylert wrote (``MARKER_NAME``), so that ``--overwrite`` may replace it."""
    (Path(folder) / MARKER_NAME).write_text(json.dumps({"written_by": "stylert", "kind": kind}) + "\n",
                                            encoding="utf-8")


def marker_kind(folder: str | os.PathLike) -> str | None:
    """The kind recorded by ``write_marker`` in ``folder``, or None (no marker, or not one of ours)."""
    try:
        data = json.loads((Path(folder) / MARKER_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("written_by") != "stylert":
        return None
    kind = data.get("kind")
    return kind if isinstance(kind, str) else None


def check_output_dir(path: str | os.PathLike, *, overwrite: bool, kind: str, what: str, option: str = "-o",
                     owned: Callable[[Path], bool] | None = None, inputs: Iterable[str | os.PathLike] = ()) -> Path:
    """Refuse, before any work, a folder output that must not be written: an unwritable path
    (``check_output_path``), a file in its place, an existing folder without ``overwrite``, and, even
    with ``overwrite``, a folder that is not empty and not a ``kind`` stylert wrote (``marker_kind``, or
    ``owned(folder)`` for kinds recognised by their own manifest), or one that holds an input of the run.
    ``what`` names the output in messages ("model repository"). Returns ``path``."""
    path = Path(path)
    check_output_path(path, option)
    if path.exists() and not path.is_dir():
        raise OutputError("exists and is a file, not a folder", path=path,
                          fix=f"give {option} a folder name (the file is left alone)")
    full = path.resolve()
    for p in inputs:
        q = Path(p).resolve()
        if q == full or full in q.parents:
            raise OutputError(f"holds {p}, an input of this run", path=path, fix=f"give {option} another folder")
    if path.is_dir():
        if not overwrite:
            raise OutputError("already exists", path=path, fix=f"--overwrite replaces a stylert {what}, or another {option}")
        ours = marker_kind(path) == kind or (owned is not None and owned(path))
        if not ours and any(path.iterdir()):
            raise OutputError(f"is not a stylert {what}: --overwrite replaces only what stylert wrote", path=path,
                              fix=f"give {option} a new or empty folder (the files in it are left alone)")
    return path


#: Formats of single-file side outputs (``--json``, ``--markdown``, ``--chart``) and how to tell a file
#: of that format stylert may replace.
def _is_json(path: Path) -> bool:
    try:
        json.loads(path.read_text(encoding="utf-8"))
        return True
    except (OSError, ValueError):
        return False


def _is_text(path: Path) -> bool:
    try:
        data = path.read_bytes()
        data.decode("utf-8")
        return b"\0" not in data
    except (OSError, ValueError):
        return False


def _is_png(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(8) == b"\x89PNG\r\n\x1a\n"
    except OSError:
        return False


_FORMATS = {"json": ("JSON", _is_json), "text": ("text", _is_text), "png": ("PNG", _is_png)}


def check_side_outputs(outputs: dict[str, str | os.PathLike | None], *, inputs: Iterable[str | os.PathLike] = (),
                       formats: dict[str, str] | None = None) -> None:
    """Check report files (``--json``, ``--markdown``, ``--chart``: option -> path or None) before any work.

    They are replaced without ``--overwrite`` when they hold the same format (an earlier report), never
    otherwise: refused when a path is an input of the run, a folder, a file of another format (an image
    given to ``--json``), the same as another of them, or not writable. ``formats``: option -> "json",
    "text" or "png" (default json)."""
    formats = formats or {}
    input_files = [Path(p) for p in inputs if p is not None]
    seen: dict[Path, str] = {}
    for option, value in outputs.items():
        if value is None:
            continue
        path = Path(value)
        check_output_path(path, option)
        full = path.resolve()
        for p in input_files:
            if p.resolve() == full or (p.exists() and path.exists() and os.path.samefile(p, path)):
                raise OutputError(f"is an input of this run ({option} would replace it)", path=path,
                                  fix=f"give {option} a new file name")
        if full in seen:
            raise OutputError(f"is given to both {seen[full]} and {option}", path=path,
                              fix="give each a file name of its own")
        seen[full] = option
        if path.is_dir():
            raise OutputError("is a folder", path=path, fix=f"give {option} a file name, e.g. {option} "
                              f"{path / ('report.' + {'json': 'json', 'text': 'md', 'png': 'png'}[formats.get(option, 'json')])}")
        if path.exists():
            name, ok = _FORMATS[formats.get(option, "json")]
            if not ok(path):
                raise OutputError(f"exists and is not a {name} file: {option} replaces only an earlier report",
                                  path=path, fix=f"give {option} a new file name (the file is left alone)")


@contextlib.contextmanager
def building_directory(target: str | os.PathLike, what: str, *, kind: str | None = None,
                       option: str = "-o", tag: str = "tmp") -> Iterator[Path]:
    """Yield an empty temporary folder beside ``target``; when the block succeeds, mark it (``kind``:
    ``write_marker``) and move it into place with ``replace_directory``. On any error or interrupt the
    temporary folder, and any parent folder made for it, is removed and ``target`` is left as it was.
    An OSError while writing inside the folder becomes one OutputError line naming ``target`` and the
    cause's fix (full disk, read-only, ...)."""
    target = Path(os.path.abspath(target))
    check_output_path(target, option)
    tmp = target.with_name(f".{target.name}.{tag}-{os.getpid()}")
    made: list[Path] = []
    done = False
    try:
        made = make_parents(tmp)
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        yield tmp
        if kind is not None:
            write_marker(tmp, kind)
        replace_directory(tmp, target, what)
        done = True
    except OSError as err:
        inside = err.filename is not None and str(err.filename).startswith(str(tmp))
        if not inside and err.filename is not None:
            raise
        raise output_error(err, target, option, what) from err
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if not done:
            remove_empty(made)
