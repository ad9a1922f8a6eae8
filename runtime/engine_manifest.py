"""The engine manifest (``engine.json``) and the staleness rules shared by every engine backend.

Engines of an export ``DIR`` live in ``DIR/engines/<backend>/`` (or ``OUT/<backend>/`` with
``stylert build --out OUT``; the runtime looks in ``$STYLERT_ENGINES/<backend>/`` when that
variable is set): one file per graph (``encoder.plan`` for TensorRT, ``encoder.pt2`` for an
AOTInductor package) and ``engine.json``::

    format, format_version      "stylert-engine", 1
    backend, precision          "tensorrt" | "inductor", "fp16" | "fp32" | "int8" (TensorRT: the export's)
    export                      directory, family, and the source files' SHA-256 per graph
    machine                     device ("cuda" | "cpu"), name (GPU name or CPU model),
                                compute_capability ("9.0"; GPUs), cpu_isa (AOTInductor CPU kernels), arch
    versions                    tensorrt / torch / cuda / stylert of the build
    profiles                    the image profiles [{min, opt, max}] (the encoder's ``image`` input)
    builder                     what was built and how: TensorRT: path ("strongly_typed"), network_flags
                                (["STRONGLY_TYPED"]), flags (the BuilderFlags read back from the config:
                                never a precision flag), precision_from, timing cache, version/hardware
                                compatibility, tensorrt version; or the AOTInductor settings
    options                     what ``stylert build`` was given: the rebuild command is made from it
    graphs.<g>                  file, sha256, bytes, source {file, sha256}, profiles (per input name:
                                min/opt/max, derived from the image profiles), build seconds; TensorRT:
                                strongly_typed, layer_output_types (type -> count in the parsed network),
                                builder_flags

An engine is *stale* (refused, with the rebuild command) when: a source graph's SHA-256 is not
the one the engine was built from; an engine file is missing or does not match its SHA-256
(altered or corrupt); the device differs (GPU name or compute capability; for CPU packages
the architecture, vector ISA or CPU model) -- a TensorRT plan built hardware-compatible
(Ampere+) runs on any GPU of compute capability 8.0 or newer; the TensorRT version differs --
a version-compatible plan runs on the same or a later TensorRT; for AOTInductor, the torch
version differs (packages are tied to the torch that compiled them).
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..errors import EngineError, MissingEngineError
from ..export.manifest import GRAPH_NAMES, Manifest, check_format
from .backends import registry as _registry
from .profiles import ShapeRange, format_shape

FORMAT = "stylert-engine"
FORMAT_VERSION = 1
MANIFEST_NAME = "engine.json"
ENGINE_BACKENDS = _registry.ENGINE_BACKENDS
ENGINE_SUFFIX = {n: _registry.REGISTRY[n].engine.suffix for n in ENGINE_BACKENDS}
ENGINES_ENV = "STYLERT_ENGINES"
#: The source file each backend compiles: the ONNX graph (TensorRT) or the float32 torch.export program.
SOURCE_KIND = {n: _registry.REGISTRY[n].engine.source for n in ENGINE_BACKENDS}


# --------------------------------------------------------------------------------------
# Where engines live
# --------------------------------------------------------------------------------------
def engines_root(export_dir: str | os.PathLike, out: str | os.PathLike | None = None) -> Path:
    """``out``, else ``$STYLERT_ENGINES``, else ``export_dir/engines``."""
    if out:
        return Path(out)
    env = os.environ.get(ENGINES_ENV)
    return Path(env) if env else Path(export_dir) / "engines"


def engine_dir(export_dir: str | os.PathLike, backend: str, out: str | os.PathLike | None = None) -> Path:
    return engines_root(export_dir, out) / backend


def source_of(export: Manifest, backend: str, graph: str, precision: str | None = None) -> tuple[Path, str]:
    """The file a backend compiles for ``graph`` and its SHA-256 as the export manifest records it
    (int8 TensorRT plans: the int8 export's TensorRT QDQ variant of a quantized graph)."""
    variants = export.data.get("quantization", {}).get(backend, {}).get("graphs", {})
    if _registry.get(backend).engine.int8 and precision == "int8" and graph in variants:
        info = variants[graph]
    elif SOURCE_KIND[backend] == "onnx":
        info = export.data["graphs"][graph]
    else:
        programs = export.data.get("torch_programs") or {}
        if graph not in programs:
            raise EngineError(f"{export.root} has no torch.export program for the {graph} graph (exported by an "
                              "older stylert?)", fix="re-export with `stylert export`")
        info = programs[graph]
    return export.root / info["file"], info["sha256"]


# --------------------------------------------------------------------------------------
# The machine an engine is built for
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Machine:
    """What an engine is tied to: the device and the versions of the libraries that run it."""

    device: str  # "cuda" or "cpu"
    name: str  # GPU name, or CPU model
    compute_capability: str | None = None  # "9.0" (GPUs)
    cpu_isa: str | None = None  # vector ISA of AOTInductor CPU kernels, e.g. "avx512 avx512_vnni"
    arch: str = field(default_factory=platform.machine)
    versions: dict = field(default_factory=dict)  # tensorrt, torch, cuda

    def describe(self) -> str:
        if self.device == "cuda":
            return f"{self.name} (compute capability {self.compute_capability})"
        return f"CPU {self.name} ({self.arch}, {self.cpu_isa or 'no vector ISA'})"

    def to_json(self) -> dict:
        out = asdict(self)
        out.pop("versions")
        return out


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(errors="replace").splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def current_machine(backend: str, device: str) -> Machine:
    """This machine, as an engine of ``backend`` on ``device`` would record it (imports torch; TensorRT too)."""
    import torch

    versions = {"torch": torch.__version__, "cuda": torch.version.cuda}
    kind = _registry.get(backend).engine
    if kind is not None and kind.library == "tensorrt":
        from ..core.providers import import_tensorrt

        versions["tensorrt"] = import_tensorrt().__version__
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise EngineError("no CUDA GPU is visible to torch on this machine", fix="run on a machine with an NVIDIA "
                              "GPU, or build/run the inductor engine with --device cpu")
        index = torch.device(device).index or 0
        major, minor = torch.cuda.get_device_capability(index)
        return Machine("cuda", torch.cuda.get_device_name(index), f"{major}.{minor}", versions=versions)
    isa = None
    if kind is not None and kind.records_cpu_isa:
        from torch._inductor import cpu_vec_isa

        isa = str(cpu_vec_isa.pick_vec_isa()) or None
    return Machine("cpu", cpu_model(), None, isa, versions=versions)


# --------------------------------------------------------------------------------------
# Build options (what `stylert build` was given) and the rebuild command
# --------------------------------------------------------------------------------------
@dataclass
class BuildOptions:
    backend: str = "inductor"
    precision: str | None = None  # None: TensorRT: the export's; inductor: fp16 on CUDA, fp32 on CPU
    device: str = "auto"  # "auto", "cuda" or "cpu"
    min: list[str] = field(default_factory=list)
    opt: list[str] = field(default_factory=list)
    max: list[str] = field(default_factory=list)
    out: str | None = None
    force: bool = False
    timing_cache: str | None = None
    version_compatible: bool = False
    hardware_compatible: bool = False

    def to_json(self) -> dict:
        out = asdict(self)
        out.pop("force")
        return out

    @classmethod
    def from_json(cls, data: Mapping) -> "BuildOptions":
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


def build_command(export_dir: str | os.PathLike, options: BuildOptions, *, profiles: Sequence[ShapeRange] | None = None,
                  force: bool = True) -> str:
    """The ``stylert build`` command line for ``options`` (explicit ``profiles`` replace the options' shapes)."""
    args = ["stylert", "build", str(export_dir), "--backend", options.backend]
    if options.precision:
        args += ["--precision", options.precision]
    spec = _registry.REGISTRY.get(options.backend)
    if spec is not None and spec.engine is not None and not spec.engine.gpu_only and options.device != "auto":
        args += ["--device", options.device]
    if profiles is not None:
        for p in profiles:
            args += ["--min", format_shape(p.min), "--opt", format_shape(p.opt), "--max", format_shape(p.max)]
    else:
        for flag in ("min", "opt", "max"):
            for value in getattr(options, flag):
                args += [f"--{flag}", value]
    if options.out:
        args += ["--out", str(options.out)]
    if options.timing_cache:
        args += ["--timing-cache", str(options.timing_cache)]
    if options.version_compatible:
        args.append("--version-compatible")
    if options.hardware_compatible:
        args.append("--hardware-compatible")
    if force:
        args.append("--force")
    return " ".join(shlex.quote(a) for a in args)


# --------------------------------------------------------------------------------------
# The manifest
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class EngineManifest:
    root: Path
    data: dict

    @property
    def backend(self) -> str:
        return self.data["backend"]

    @property
    def precision(self) -> str:
        return self.data["precision"]

    @property
    def machine(self) -> Machine:
        m = self.data["machine"]
        return Machine(m["device"], m["name"], m.get("compute_capability"), m.get("cpu_isa"), m.get("arch", ""),
                       dict(self.data.get("versions", {})))

    @property
    def profiles(self) -> list[ShapeRange]:
        return [ShapeRange.from_json(p) for p in self.data["profiles"]]

    @property
    def options(self) -> BuildOptions:
        return BuildOptions.from_json(self.data.get("options", {"backend": self.backend}))

    def graph_file(self, graph: str) -> Path:
        return self.root / self.data["graphs"][graph]["file"]

    def graph_profiles(self, graph: str) -> list[dict[str, ShapeRange]]:
        return [{name: ShapeRange.from_json(r) for name, r in p.items()} for p in self.data["graphs"][graph]["profiles"]]

    def rebuild_command(self, export_dir, profiles: Sequence[ShapeRange] | None = None) -> str:
        return build_command(export_dir, self.options, profiles=profiles)


def make_manifest(*, backend: str, precision: str, export: Manifest, machine: Machine, profiles: Sequence[ShapeRange],
                  builder: dict, options: BuildOptions, graphs: dict) -> dict:
    """The JSON of ``engine.json`` (``graphs``: per graph file/sha256/bytes/source/profiles/...)."""
    from .. import __version__

    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "backend": backend,
        "precision": precision,
        "export": {"dir": str(Path(export.root).resolve()), "family": export.family,
                   "export_precision": export.precision},
        "machine": machine.to_json(),
        "versions": {**machine.versions, "stylert": __version__},
        "profiles": [p.to_json() for p in profiles],
        "builder": builder,
        "options": options.to_json(),
        "graphs": graphs,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


def load_engine_manifest(directory: str | os.PathLike, *, export_dir=None, backend: str | None = None) -> EngineManifest:
    """Read ``directory/engine.json``. MissingEngineError where there is none, EngineError where it is unreadable."""
    root = Path(directory)
    path = root / MANIFEST_NAME
    backend = backend or root.name
    build = f"stylert build {export_dir or 'DIR'} --backend {backend}"
    if not path.is_file():
        raise MissingEngineError(f"no {backend} engine has been built for this export", path=root, fix=build)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise EngineError(f"cannot be read as JSON ({err})", path=path, fix=build + " --force") from err
    check_format(data, FORMAT, FORMAT_VERSION, what="engine manifest", where=path, error=EngineError,
                 remake=f"rebuild: {build} --force")
    missing = [k for k in ("backend", "precision", "machine", "versions", "profiles", "graphs") if k not in data]
    if missing or sorted(data.get("graphs", {})) != sorted(GRAPH_NAMES):
        raise EngineError(f"engine manifest lacks {', '.join(missing) or 'one of the three graphs'}", path=path,
                          fix=build + " --force")
    if backend and data["backend"] != backend:
        raise EngineError(f"holds a {data['backend']} engine, not a {backend} one", path=path, fix=build + " --force")
    return EngineManifest(root, data)
