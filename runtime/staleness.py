"""The engine staleness check: may this engine run for this export on this machine?

An engine (TensorRT plan, AOTInductor package) is tied to the graphs it was built from, the
GPU or CPU it was built on, and the TensorRT or torch version that built it. ``staleness``
lists every mismatch; ``check_engine`` turns them into one ``StaleEngineError`` with the
``stylert build ... --force`` command that makes a fresh engine; ``open_engine`` locates, reads
and checks the engine a runner is about to load. Nothing that builds is imported here.
"""

from __future__ import annotations

import re

from ..core.files import sha256_of
from ..errors import StaleEngineError
from ..export.manifest import GRAPH_NAMES, Manifest
from .backends.registry import get
from .engine_manifest import (
    MANIFEST_NAME,
    EngineManifest,
    Machine,
    current_machine,
    engine_dir,
    load_engine_manifest,
    source_of,
)


def _version(text: str | None) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", str(text or ""))[:4])


def _capability(text: str | None) -> tuple[int, ...]:
    return _version(text) or (0,)


def staleness(engine: EngineManifest, export: Manifest, machine: Machine, *, verify_files: bool = True) -> list[str]:
    """Every reason why ``engine`` must not run for ``export`` on ``machine`` (empty: fresh)."""
    d = engine.data
    backend = d["backend"]
    kind = get(backend).engine
    reasons = []
    if d.get("export", {}).get("family") not in (None, export.family):
        reasons.append(f"it was built for a {d['export']['family']} export, this one is {export.family}")
    for g in GRAPH_NAMES:
        info = d["graphs"][g]
        path, want = source_of(export, backend, g, d.get("precision"))
        built_from = info.get("source", {}).get("sha256")
        if built_from != want:
            reasons.append(f"the {g} graph changed since the engine was built ({path.name} has sha256 {want[:12]}..., "
                           f"the engine was built from {str(built_from)[:12]}...)")
        file = engine.root / info["file"]
        if not file.is_file():
            reasons.append(f"{file.name} is missing")
        elif verify_files and sha256_of(file) != info.get("sha256"):
            reasons.append(f"{file.name} does not match its SHA-256 in {MANIFEST_NAME}: altered or corrupt")
    built = engine.machine
    if built.device != machine.device:
        reasons.append(f"it was built for {built.device}, this run is on {machine.device}")
    elif machine.device == "cuda":
        ampere_plus = kind.library == "tensorrt" and d.get("builder", {}).get("hardware_compatibility") == "ampere_plus"
        if ampere_plus:
            if _capability(machine.compute_capability) < (8, 0):
                reasons.append(f"it is a hardware-compatible (Ampere+) plan; {machine.describe()} is older than "
                               "compute capability 8.0")
        elif (built.name, built.compute_capability) != (machine.name, machine.compute_capability):
            reasons.append(f"it was built on {built.describe()}, this GPU is {machine.describe()}")
    elif (built.name, built.arch, built.cpu_isa) != (machine.name, machine.arch, machine.cpu_isa):
        reasons.append(f"it was built on {built.describe()}, this machine is {machine.describe()}")
    if kind.library == "tensorrt":
        b, c = built.versions.get("tensorrt"), machine.versions.get("tensorrt")
        if d.get("builder", {}).get("version_compatible"):
            if _version(c) < _version(b):
                reasons.append(f"it is a version-compatible plan of TensorRT {b}; TensorRT {c} is older")
        elif b != c:
            reasons.append(f"it was built with TensorRT {b}, this is TensorRT {c}")
    else:
        b, c = built.versions.get("torch"), machine.versions.get("torch")
        if b != c:
            reasons.append(f"it was compiled by torch {b}, this is torch {c} (AOTInductor packages are tied to the "
                           "torch version)")
    return reasons


def check_engine(engine: EngineManifest, export: Manifest, machine: Machine, *, verify_files: bool = True) -> None:
    """StaleEngineError naming every reason and the rebuild command, unless ``engine`` is fresh."""
    reasons = staleness(engine, export, machine, verify_files=verify_files)
    if reasons:
        raise StaleEngineError(f"the {engine.backend} engine cannot run here: " + "; ".join(reasons),
                               reasons=reasons, path=engine.root, fix=engine.rebuild_command(export.root))


def open_engine(export: Manifest, backend: str, device: str) -> tuple[EngineManifest, Machine]:
    """The fresh engine of ``backend`` for ``export`` on ``device``: located, read and checked."""
    directory = engine_dir(export.root, backend)
    engine = load_engine_manifest(directory, export_dir=export.root, backend=backend)
    machine = current_machine(backend, device)
    check_engine(engine, export, machine)
    return engine, machine
