"""``build_engines``: an export directory -> fresh engines of one backend, written atomically.

    DIR/engines/<backend>/{encoder,transform,decoder}.{plan|pt2} + engine.json

Steps: read and check the export (``load_manifest``: graphs present and matching their
SHA-256); work out device, precision and profiles; if an engine is already there, fresh on
this machine and built with the same settings, keep it (``force`` rebuilds); otherwise build
the three graphs into a temporary sibling directory, write ``engine.json``, check it reads
back fresh, and only then rename it into place. Any failure leaves the old engine as it was.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..core.files import replace_directory
from ..core.providers import import_tensorrt
from ..runtime.backends.registry import REGISTRY
from ..errors import EngineBuildError, EngineError, StylertError
from ..export.manifest import load_manifest
from ..runtime.engine_manifest import (
    ENGINE_BACKENDS,
    MANIFEST_NAME,
    BuildOptions,
    EngineManifest,
    current_machine,
    engine_dir,
    engines_root,
    load_engine_manifest,
    make_manifest,
)
from ..runtime.profiles import family_limits, make_profiles
from ..runtime.staleness import check_engine, staleness

PRECISIONS = ("fp16", "fp32", "int8")  # int8: TensorRT only, from an int8 export


@dataclass
class BuildResult:
    engine: EngineManifest
    built: bool  # False: an up-to-date engine was kept
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


def resolve(options: BuildOptions) -> tuple[str, str | None]:
    """(device, precision) for ``options``: TensorRT is CUDA, and its precision is the export's unless
    given (None here: ``build_engines`` reads it from the export; strongly typed plans take their
    precision from the graphs); AOTInductor builds for CUDA where torch sees a GPU (FP16; a CUDA
    toolkit is needed, ``cuda_toolkit``), else for the CPU (FP32)."""
    if options.backend not in ENGINE_BACKENDS:
        raise EngineBuildError(f"unknown engine backend {options.backend!r}",
                               fix=f"use one of {', '.join(ENGINE_BACKENDS)}")
    if options.precision not in (None, *PRECISIONS):
        raise EngineBuildError(f"unknown precision {options.precision!r}", fix=f"use one of {', '.join(PRECISIONS)}")
    kind = REGISTRY[options.backend].engine
    if kind.gpu_only:
        if options.device == "cpu":
            raise EngineBuildError("TensorRT engines run on NVIDIA GPUs only", fix="--backend inductor --device cpu")
        return "cuda", options.precision
    if options.precision == "int8" and not kind.int8:
        raise EngineBuildError("int8 engines are TensorRT plans of an int8 export", fix="--backend tensorrt")
    from .inductor_build import resolve_device

    device = resolve_device(options.device)  # an explicit cuda without a GPU is refused there
    precision = options.precision or ("fp16" if device == "cuda" else "fp32")
    if device == "cpu" and precision == "fp16":
        raise EngineBuildError("FP16 inductor engines are built for CUDA GPUs", fix="on the CPU use --precision fp32")
    if device == "cuda":
        home, reason = cuda_toolkit()
        if reason:
            raise EngineBuildError(reason, fix="install the CUDA toolkit of torch's CUDA version and set CUDA_HOME, "
                                               "or build for the CPU with --device cpu --precision fp32")
    return device, precision


def cuda_toolkit() -> tuple[str | None, str | None]:
    """(CUDA toolkit root, None) where torch can compile CUDA host code, else (None, the reason in one line).

    AOTInductor compiles its CUDA wrapper with the C++ compiler against the toolkit's headers
    (``torch._inductor.cpp_builder`` -> ``torch.utils.cpp_extension.include_paths("cuda")`` ->
    ``CUDA_HOME/include``; without a toolkit it fails with "CUDA_HOME environment variable is not
    set"). The toolkit is found as ``torch.utils.cpp_extension`` finds it: ``CUDA_HOME`` or
    ``CUDA_PATH``, else the directory above ``nvcc`` on ``PATH``, else ``/usr/local/cuda``; it must
    hold ``include/cuda_runtime_api.h``.
    """
    try:
        from torch.utils import cpp_extension
    except ImportError as err:
        return None, f"torch.utils.cpp_extension does not import ({err})"
    home = cpp_extension.CUDA_HOME
    if not home:
        return None, ("AOTInductor on CUDA needs a CUDA toolkit and torch finds none (CUDA_HOME/CUDA_PATH unset, no "
                      "nvcc on PATH, no /usr/local/cuda)")
    if not (Path(home) / "include" / "cuda_runtime_api.h").is_file():
        return None, f"AOTInductor on CUDA needs the CUDA toolkit's headers; {home}/include/cuda_runtime_api.h is missing"
    return str(home), None


def _same_request(engine: EngineManifest, precision: str, profiles, options: BuildOptions) -> list[str]:
    """How an existing engine's settings differ from this request (empty: the same)."""
    diffs = []
    if engine.precision != precision:
        diffs.append(f"precision {engine.precision} -> {precision}")
    if engine.profiles != list(profiles):
        diffs.append("other profiles")
    old = engine.options
    for flag in ("version_compatible", "hardware_compatible"):
        if bool(getattr(old, flag)) != bool(getattr(options, flag)):
            diffs.append(f"{flag.replace('_', '-')} {getattr(old, flag)} -> {getattr(options, flag)}")
    return diffs


def build_engines(export_dir: str | os.PathLike, options: BuildOptions,
                  log: Callable[[str], None] | None = None) -> BuildResult:
    """Build (or keep, when fresh and alike) the ``options.backend`` engines of an export."""
    say = log or (lambda msg: None)
    kind = REGISTRY[options.backend].engine if options.backend in REGISTRY else None
    if kind is not None and kind.library == "tensorrt":
        import_tensorrt()  # the one-line install message comes before anything else
    device, precision = resolve(options)
    export = load_manifest(export_dir)
    if options.backend == "tensorrt":
        from .tensorrt_build import tensorrt_path

        say(tensorrt_path(import_tensorrt().__version__)["line"])
        precision = precision or export.precision
        if precision != export.precision and precision != "int8":
            raise EngineBuildError(f"strongly typed {precision} plans are built from an {precision} export; "
                                   f"{export.root} is {export.precision} (TensorRT takes each tensor's type from the "
                                   "graph)", path=export.root,
                                   fix=f"stylert export ... --precision {precision} -o OUT, then stylert build OUT; or "
                                       f"--precision {export.precision}")
    if precision == "int8" and export.precision != "int8":
        raise EngineBuildError(f"int8 plans are built from the QDQ graphs of an int8 export; {export.root} is "
                               f"{export.precision}", path=export.root,
                               fix="stylert export --precision int8 --calibration DIR -o OUT, then stylert build OUT "
                                   "--precision int8")
    profiles = make_profiles(options.min, options.opt, options.max, min_size=int(export.data["min_size"]),
                             size_multiple=export.size_multiple, **family_limits(options.backend, device, export))
    machine = current_machine(options.backend, device)
    target = engine_dir(export.root, options.backend, options.out)
    notes = []
    if (target / MANIFEST_NAME).is_file():
        try:
            existing = load_engine_manifest(target, export_dir=export.root, backend=options.backend)
            reasons = staleness(existing, export, machine) + _same_request(existing, precision, profiles, options)
        except EngineError as err:
            existing, reasons = None, [str(err)]
        if existing is not None and not reasons and not options.force:
            say(f"{target}: the {options.backend} engine is up to date (built {existing.data.get('created')}); "
                "--force rebuilds it")
            return BuildResult(existing, built=False, notes=["up to date"])
        notes = ["--force"] if options.force else reasons
        say(f"{target}: rebuilding ({'; '.join(notes)})")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.build-{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    start = time.perf_counter()
    try:
        say(f"building {options.backend} engines ({precision}, {machine.describe()}) for {export.family} "
            f"{export.root}, {len(profiles)} profile(s): " + " | ".join(p.text() for p in profiles))
        if kind.builder == "tensorrt_build":
            from .tensorrt_build import build as build_backend

            cache = Path(options.timing_cache) if options.timing_cache else engines_root(
                export.root, options.out) / "tensorrt-timing.cache"
            graphs, builder = build_backend(export, tmp, profiles, precision, cache,
                                            version_compatible=options.version_compatible,
                                            hardware_compatible=options.hardware_compatible, log=say)
        else:
            from .inductor_build import build as build_backend

            graphs, builder = build_backend(export, tmp, profiles, precision, device, log=say)
        data = make_manifest(backend=options.backend, precision=precision, export=export, machine=machine,
                             profiles=profiles, builder=builder, options=options, graphs=graphs)
        (tmp / MANIFEST_NAME).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        check_engine(load_engine_manifest(tmp, export_dir=export.root, backend=options.backend), export, machine)
        replace_directory(tmp, target, "the engines")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    engine = load_engine_manifest(target, export_dir=export.root, backend=options.backend)
    return BuildResult(engine, built=True, seconds=time.perf_counter() - start, notes=notes)


def format_build(result: BuildResult) -> str:
    """One line per graph: file, size, build time, layer output types (TensorRT: from the parsed network)."""
    d = result.engine.data
    rows = [("graph", "file", "MB", "build", "layer outputs")]
    for g in ("encoder", "transform", "decoder"):
        info = d["graphs"][g]
        types = info.get("layer_output_types")
        rows.append((g, info["file"], f"{info['bytes'] / 2**20:.1f}", f"{info.get('build_seconds', 0):.1f} s",
                     "-" if not types else ", ".join(f"{k} {v}" for k, v in types.items())))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    head = (f"{d['backend']} {d['precision']} engines for {d['export']['family']} -> {result.engine.root} "
            f"({'built in %.1f s' % result.seconds if result.built else 'up to date'})")
    return "\n".join([head] + ["  " + "  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip() for r in rows])


def engines_available() -> dict[str, str | None]:
    """backend -> None where this machine can build and run its engines, else the reason why not.

    ``inductor`` needs torch and a C++ compiler (CPU packages; CUDA ones also a GPU and a CUDA
    toolkit, which ``cuda_toolkit`` checks and ``stylert doctor`` reports);
    ``tensorrt`` needs the ``tensorrt`` package (10.x or 11.x) and a CUDA GPU.
    """
    out: dict[str, str | None] = {}
    try:
        import torch
    except ImportError:
        torch = None
    if torch is None:
        out["inductor"] = "torch is not installed (pip install torch)"
    elif not (shutil.which("g++") or shutil.which("c++") or shutil.which("clang++")):
        out["inductor"] = "no C++ compiler (AOTInductor compiles with g++ or clang++)"
    else:
        out["inductor"] = None
    try:
        import_tensorrt()
    except StylertError as err:  # MissingDependencyError: the message names the install command
        out["tensorrt"] = str(err)
    else:
        from .tensorrt_build import tensorrt_path

        try:
            tensorrt_path(import_tensorrt().__version__)
        except StylertError as err:
            out["tensorrt"] = str(err)
        else:
            out["tensorrt"] = None if torch is not None and torch.cuda.is_available() else "no CUDA GPU on this machine"
    return out
