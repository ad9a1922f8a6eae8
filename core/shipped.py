"""The registry of trained weights shipped inside the package (standard library only).

    models/shipped/<family>.safetensors   decoder + transform weights (float16), no encoder
    models/shipped/registry.json          per family: file, SHA-256, size, source, training budget

Every shipped file is verified (size and SHA-256 against the registry, with the same
``stylert.core.weights.verify_file`` as the public AdaIN pair) before it is read. Converting a
training checkpoint and loading a shipped model need torch: ``stylert.models.trained``.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from ..errors import WeightsError
from .files import atomic_write
from .weights import FileSpec, verify_file

#: The folder of shipped files (package data, see pyproject's package-data).
SHIPPED_DIR = Path(__file__).resolve().parents[1] / "models" / "shipped"
REGISTRY_NAME = "registry.json"
FORMAT = "stylert-shipped"
VERSION = 1
#: Each shipped file must stay under this many bytes (float16 decoder + transform: 8-16 MB).
MAX_BYTES = 20_000_000
SHIP_FIX = "convert a training checkpoint with `stylert weights ship CHECKPOINT`"


@dataclass(frozen=True)
class ShippedModel:
    """A registry entry. ``sha256`` (lowercase hex) and ``size`` (bytes) pin the file; ``source`` says
    where the weights come from, ``budget`` what training they had (steps, batch, crops, data, time)."""

    family: str
    file: str
    sha256: str
    size: int
    source: str
    budget: str

    @property
    def spec(self) -> FileSpec:
        return FileSpec(self.sha256, self.size)


def _registry_path(root: Path) -> Path:
    return Path(root) / REGISTRY_NAME


def read_registry(root: str | os.PathLike | None = None) -> dict[str, ShippedModel]:
    """family -> ShippedModel from ``root/registry.json`` (default ``SHIPPED_DIR``); no file -> {}."""
    path = _registry_path(Path(root) if root is not None else SHIPPED_DIR)
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text())
        if data.get("format") != f"{FORMAT}-registry" or data.get("version") != VERSION:
            raise ValueError(f"format {data.get('format')!r} version {data.get('version')!r}")
        return {family: ShippedModel(**entry) for family, entry in data["models"].items()}
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        raise WeightsError(f"unreadable shipped-weights registry ({err})", path=path,
                           fix=f"restore it from the repository, or {SHIP_FIX} again") from None


def write_registry(root: Path, entries: dict[str, ShippedModel]) -> Path:
    """Write ``root/registry.json`` atomically with ``entries`` (sorted by family)."""
    path = _registry_path(root)
    data = {"format": f"{FORMAT}-registry", "version": VERSION,
            "models": {f: asdict(entries[f]) for f in sorted(entries)}}
    with atomic_write(path, overwrite=True) as tmp:
        tmp.write_text(json.dumps(data, indent=2) + "\n")
    return path


def shipped_families(root: str | os.PathLike | None = None) -> list[str]:
    return sorted(read_registry(root))


def shipped_file(family: str, root: str | os.PathLike | None = None) -> tuple[Path, ShippedModel]:
    """The verified path of ``family``'s shipped file and its entry; unknown family, missing file, or a
    size / SHA-256 mismatch -> WeightsError."""
    root = Path(root) if root is not None else SHIPPED_DIR
    entries = read_registry(root)
    if family not in entries:
        known = ", ".join(sorted(entries)) or "none"
        raise WeightsError(f"no shipped weights for {family!r} (shipped: {known})", path=_registry_path(root),
                           fix=f"pass --checkpoint FILE, or {SHIP_FIX}")
    entry = entries[family]
    path = root / entry.file
    verify_file(path, entry.spec)
    return path, entry


def status(root: str | os.PathLike | None = None) -> list[tuple[ShippedModel, Path, bool | None]]:
    """``(entry, path, ok)`` per shipped family; ok is None when the file is missing."""
    root = Path(root) if root is not None else SHIPPED_DIR
    rows = []
    for family, entry in sorted(read_registry(root).items()):
        path = root / entry.file
        if not path.is_file():
            rows.append((entry, path, None))
            continue
        try:
            verify_file(path, entry.spec)
            ok = True
        except WeightsError:
            ok = False
        rows.append((entry, path, ok))
    return rows
