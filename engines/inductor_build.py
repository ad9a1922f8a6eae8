"""Building AOTInductor engines: the export's ``torch.export`` programs compiled ahead of time.

``stylert build DIR --backend inductor``: each float32 program ``encoder.pt2`` ... is loaded with
``torch.export.load``, its module rewritten for the device and precision (``half_graph.prepare_module``:
ceil-mode max pools as -inf padding + floor mode, which AOTInductor sizes right for every input
size; for FP16, float16 weights and activations, float32 statistics and softmax, float32 inputs and
outputs) and re-exported with every symbolic axis of the manifest dynamic; then ``torch._inductor.aoti_compile_and_package``
writes ``engines/inductor/<graph>.pt2``. Running them is ``stylert.runtime.backends.inductor``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from ..core.files import sha256_of
from ..errors import EngineBuildError, EngineError
from ..export.manifest import GRAPH_NAMES, Manifest, evaluate_shape
from ..runtime.engine_manifest import source_of
from ..runtime.profiles import ShapeRange

#: Example sizes the programs are re-exported with: every symbolic axis a distinct size > 1
#: (torch.export specialises 0 and 1), content sizes multiples of the size multiple.
_EXAMPLE = {"N": 2, "H": 4, "W": 6, "Hs": 5, "Ws": 7}


def _torch():
    from ..runtime.backends.torchrt import _torch as get

    return get()


def example_inputs(export: Manifest, graph: str, device: str) -> tuple:
    """float32 example inputs of ``graph`` (alpha in 0..1), from the manifest's symbolic shapes."""
    torch = _torch()
    m = export.size_multiple
    env = {k: (v if k == "N" else v * m) for k, v in _EXAMPLE.items()}
    gen = torch.Generator().manual_seed(0)
    out = []
    for t in export.inputs(graph):
        shape = evaluate_shape(t["shape"], env)
        out.append(torch.rand(shape, generator=gen, dtype=torch.float32).to(device))
    return tuple(out)


def dynamic_shapes(export: Manifest, graph: str) -> tuple:
    """``dynamic_shapes`` for ``FlatModule(*tensors)``: ``Dim.DYNAMIC`` on every symbolic axis."""
    torch = _torch()
    axes = tuple({i: torch.export.Dim.DYNAMIC for i, d in enumerate(t["shape"]) if isinstance(d, str)}
                 for t in export.inputs(graph))
    return (axes,)


def compile_graph(export: Manifest, graph: str, precision: str, device: str, package: Path,
                  log: Callable[[str], None] | None = None) -> dict:
    """One graph -> one AOTInductor package at ``package``; returns its engine-manifest entry."""
    torch = _torch()
    source, sha = source_of(export, "inductor", graph)
    if not source.is_file():
        raise EngineBuildError("the torch.export program named by the manifest is missing", path=source,
                               fix="re-export with `stylert export`")
    if sha256_of(source) != sha:
        raise EngineBuildError("does not match its SHA-256 in manifest.json: modified or corrupt", path=source,
                               fix="re-export with `stylert export`")
    start = time.perf_counter()
    try:
        from .half_graph import prepare_module

        program = torch.export.load(str(source))
        module, rewrite = prepare_module(program, precision, device)
        with torch.no_grad():
            program = torch.export.export(module, example_inputs(export, graph, device),
                                          dynamic_shapes=dynamic_shapes(export, graph), strict=False)
        exported = time.perf_counter() - start
        if log:
            log(f"  {graph}: compiling with AOTInductor ({precision}, {device}) ...")
        path = torch._inductor.aoti_compile_and_package(program, package_path=str(package))
    except EngineError:
        raise
    except Exception as err:  # torch.export / inductor raise many types: keep the cause, name the graph
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise EngineBuildError(f"AOTInductor could not compile the {graph} graph: {type(err).__name__}: {first}",
                               fix="see the chained traceback; `stylert doctor` shows whether a C++ compiler "
                                   "is available") from err
    path = Path(path)
    return {"file": path.name, "sha256": sha256_of(path), "bytes": path.stat().st_size,
            "source": {"file": source.name, "sha256": sha}, "export_seconds": round(exported, 2),
            "build_seconds": round(time.perf_counter() - start, 2), "graph_rewrite": rewrite}


def build(export: Manifest, out_dir: Path, profiles: list[ShapeRange], precision: str, device: str,
          log: Callable[[str], None] | None = None) -> tuple[dict, dict]:
    """Compile the three graphs into ``out_dir``; returns (graphs entry, builder entry) of ``engine.json``."""
    from ..runtime.profiles import graph_profiles

    if device == "cpu" and precision == "fp16":
        raise EngineBuildError("FP16 inductor engines are built for CUDA GPUs", fix="on the CPU use --precision fp32")
    per_graph = graph_profiles(export, profiles)
    graphs = {}
    for g in GRAPH_NAMES:
        entry = compile_graph(export, g, precision, device, out_dir / f"{g}.pt2", log)
        entry["profiles"] = [{n: r.to_json() for n, r in p.items()} for p in per_graph[g]]
        graphs[g] = entry
        if log:
            log(f"  {g}: {entry['bytes'] / 2**20:.1f} MB in {entry['build_seconds']:.1f} s")
    builder = {
        "compiler": "torch._inductor.aoti_compile_and_package",
        "precision": precision,
        "float32_inside": "statistics (mean/var/std), powers and roots, softmax and attention logits"
                          if precision == "fp16" else "everything",
        "input_checks": "shapes checked by the stylert runner against the profiles before every call",
    }
    return graphs, builder


def resolve_device(device: str, notice=None) -> str:
    """``auto`` -> cuda where torch sees a GPU, else cpu; an explicit ``cuda`` without one is a
    ModelError (``stylert.core.providers.choose_device``)."""
    from ..core.providers import choose_device

    return choose_device(device, lambda: _torch().cuda.is_available(), "AOTInductor (torch)", notice)


__all__ = ["build", "compile_graph", "resolve_device"]
