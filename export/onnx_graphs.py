"""One graph spec -> one checked ONNX file, with ``torch.onnx.export`` (the dynamo exporter).

Opset and IR version: opset 18 by default (18..20 allowed; the dynamo exporter cannot write
17) with the smallest IR version that carries it (8 for opset 18, 9 for 19 and 20): ONNX
Runtime 1.31 reads IR <= 13 and TensorRT 10's parser IR <= 10, while onnx 1.23 would write
IR 14 by default, so the IR version is set explicitly and recorded in the manifest.

After export the graph is cleaned and checked: input/output axes get the spec's symbolic
names (``N``, ``H/8``...), intermediate ``value_info`` and node metadata (stack traces with
local paths) are dropped, only the standard ONNX domain is allowed (no custom ops, no
functions), and ``onnx.checker`` (full check) and strict shape inference must pass.
"""

from __future__ import annotations

import contextlib
import copy
import io
import logging
import warnings
from pathlib import Path

import onnx
import torch

from .errors import ExportError
from .specs import GraphSpec

DEFAULT_OPSET = 18
SUPPORTED_OPSETS = (18, 19, 20)
_DTYPES = {"float32": onnx.TensorProto.FLOAT, "float16": onnx.TensorProto.FLOAT16}


def ir_version_for(opset: int) -> int:
    """The smallest IR version that carries ``opset`` (what TensorRT and ONNX Runtime both read)."""
    return onnx.helper.find_min_ir_version_for([onnx.helper.make_opsetid("", opset)])


@contextlib.contextmanager
def _quiet():
    """The exporter prints progress and warns about torchvision ops: keep the CLI's output readable."""
    loggers = [logging.getLogger(n) for n in ("torch.onnx", "torch.export", "torch._dynamo", "onnxscript")]
    levels = [lg.level for lg in loggers]
    try:
        for lg in loggers:
            lg.setLevel(logging.ERROR)
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


def export_graph(graph: GraphSpec, example: dict[str, torch.Tensor], path: str | Path, opset: int = DEFAULT_OPSET,
                 *, doc: str = "", metadata: dict[str, str] | None = None) -> onnx.ModelProto:
    """Export ``graph.module`` on ``example`` (input name -> float32 tensor) to ``path`` and check it."""
    if opset not in SUPPORTED_OPSETS:
        raise ExportError(f"opset {opset} is not supported",
                          fix=f"use one of {', '.join(map(str, SUPPORTED_OPSETS))} (default {DEFAULT_OPSET})")
    args = tuple(example[n] for n in graph.input_names)
    try:
        with _quiet(), torch.no_grad():
            program = torch.onnx.export(
                graph.module.eval(), args, dynamo=True, input_names=graph.input_names,
                output_names=graph.output_names, dynamic_shapes=(graph.dynamic_shapes(),),
                opset_version=opset, external_data=False, optimize=True, verbose=False,
            )
    except Exception as err:  # torch.export / onnxscript raise many types: keep the cause, name the graph
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ExportError(f"torch.onnx.export of the {graph.name} graph failed: {type(err).__name__}: {first}",
                          fix="see the chained traceback (python -X dev) and the model's export spec") from err
    model = program.model_proto
    finalize(model, graph, opset, doc=doc, metadata=metadata)
    check(model, graph)
    onnx.save(model, str(path))
    return model


def _set_dims(value: onnx.ValueInfoProto, shape, graph: str) -> None:
    t = value.type.tensor_type
    if len(t.shape.dim) != len(shape):
        raise ExportError(f"{graph}: {value.name} has rank {len(t.shape.dim)}, the spec says {len(shape)}")
    for dim, want in zip(t.shape.dim, shape):
        if isinstance(want, int):
            if dim.HasField("dim_value") and dim.dim_value != want:
                raise ExportError(f"{graph}: {value.name} has a fixed size {dim.dim_value} where the spec has {want}")
            dim.Clear()
            dim.dim_value = want
        else:
            dim.Clear()
            dim.dim_param = want


def finalize(model: onnx.ModelProto, graph: GraphSpec, opset: int, *, doc: str = "",
             metadata: dict[str, str] | None = None) -> None:
    """Name the axes as the spec does, set the IR version, drop what is not needed at run time."""
    opsets = {o.domain or "ai.onnx": o.version for o in model.opset_import}
    if opsets.get("ai.onnx") != opset:
        raise ExportError(f"the {graph.name} graph came out with opset {opsets.get('ai.onnx')}, not {opset}",
                          fix=f"use --opset {opsets.get('ai.onnx')}")
    custom = sorted({n.domain for n in model.graph.node if n.domain not in ("", "ai.onnx")})
    if custom or len(model.functions):
        raise ExportError(f"the {graph.name} graph uses custom ops or functions ({', '.join(custom) or 'functions'})",
                          fix="the model's torch code must map onto standard ONNX ops")
    del model.opset_import[:]
    model.opset_import.append(onnx.helper.make_opsetid("", opset))
    model.ir_version = ir_version_for(opset)
    ins = {v.name: v for v in model.graph.input}
    outs = {v.name: v for v in model.graph.output}
    if list(ins) != graph.input_names or list(outs) != graph.output_names:
        raise ExportError(f"the {graph.name} graph has inputs {list(ins)} and outputs {list(outs)}, the spec "
                          f"{graph.input_names} and {graph.output_names}")
    for spec, value in [(t, ins[t.name]) for t in graph.inputs] + [(t, outs[t.name]) for t in graph.outputs]:
        if value.type.tensor_type.elem_type != _DTYPES[spec.dtype]:
            raise ExportError(f"{graph.name}: {spec.name} is not {spec.dtype}")
        _set_dims(value, spec.shape, graph.name)
        value.doc_string = spec.doc
    del model.graph.value_info[:]
    for node in model.graph.node:
        del node.metadata_props[:]
    del model.metadata_props[:]
    model.graph.name = graph.name
    model.graph.doc_string = doc
    model.producer_name = "stylert"
    from .. import __version__

    model.producer_version = __version__
    onnx.helper.set_model_props(model, {"stylert.graph": graph.name, **(metadata or {})})


def check(model: onnx.ModelProto, graph: GraphSpec) -> None:
    """``onnx.checker`` with full checks, then strict shape inference, as ExportErrors."""
    try:
        onnx.checker.check_model(model, full_check=True)
        inferred = onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True, data_prop=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as err:
        raise ExportError(f"the {graph.name} graph fails onnx.checker / shape inference: {err}") from err
    for value, spec in zip(inferred.graph.output, graph.outputs):
        rank = len(value.type.tensor_type.shape.dim)
        if rank != len(spec.shape):
            raise ExportError(f"{graph.name}: shape inference gives {spec.name} rank {rank}, the spec {len(spec.shape)}")



def save_torch_program(graph: GraphSpec, example: dict[str, torch.Tensor], path: str | Path) -> None:
    """``torch.export`` the float32 graph module with the same dynamic shapes and save it (``.pt2``).

    The runtime's ``torch`` backend loads these with ``torch.export.load``: the PyTorch reference
    computation of each graph, without any model code.
    """
    args = tuple(example[n] for n in graph.input_names)
    module = _with_only(graph.module, graph.name)
    # Dim.DYNAMIC on the same axes: torch.export derives the relations itself (ceil-mode pooling
    # makes guards that the spec's explicit Dims cannot state), so any size the ONNX graph takes runs.
    dynamic = tuple({axis: torch.export.Dim.DYNAMIC for axis in axes} for axes in graph.dynamic_shapes())
    try:
        with _quiet(), torch.no_grad():
            program = torch.export.export(module.eval(), args, dynamic_shapes=(dynamic,), strict=False)
            torch.export.save(program, str(path))
    except Exception as err:  # torch.export raises many types: keep the cause, name the graph
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ExportError(f"torch.export of the {graph.name} graph failed: {type(err).__name__}: {first}",
                          fix="see the chained traceback and the model's export spec") from err


def _with_only(graph_module: torch.nn.Module, part: str) -> torch.nn.Module:
    """A shallow copy of a graph module whose model keeps only the submodule ``part`` (encoder,
    transform or decoder): ``torch.export`` saves every parameter of the module it is given."""
    model = copy.copy(graph_module.model)
    model._modules = {k: (v if k == part else torch.nn.Module()) for k, v in model._modules.items()}
    pruned = copy.copy(graph_module)
    pruned._modules = {**graph_module._modules, "model": model}
    return pruned
