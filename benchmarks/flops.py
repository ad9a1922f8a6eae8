"""FLOPs of an ONNX graph at concrete input shapes, counted from the graph itself.

Convention (stated in every report): a multiply-add is 2 FLOPs. Conv: 2 * N * Cout * Hout *
Wout * (Cin / group) * kh * kw, plus N * Cout * Hout * Wout for the bias; MatMul/Gemm:
2 * M * N * K per batch item (plus bias); element-wise arithmetic, activations and
normalisation: one FLOP per output element (Softmax: 5, for max, subtract, exp, sum, divide);
reductions: one per input element; data movement (Pad, Reshape, Transpose, Concat, nearest
Resize, Slice, Cast...): zero.
"""

from __future__ import annotations

from collections import defaultdict
from math import prod
from pathlib import Path

import numpy as np
import onnx
from onnx import shape_inference

_ELEMENTWISE = {"Add", "Sub", "Mul", "Div", "Relu", "Sqrt", "Pow", "Neg", "Exp", "Log", "Reciprocal", "Abs",
                "Max", "Min", "Clip", "Sigmoid", "Tanh", "Erf", "LeakyRelu", "Where", "Sum", "Mean"}
_REDUCTIONS = {"ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceSumSquare", "ReduceProd"}


def _with_shapes(model: onnx.ModelProto, input_shapes: dict[str, tuple[int, ...]]) -> dict[str, tuple[int, ...]]:
    """Every tensor's shape with the graph inputs fixed to ``input_shapes``."""
    model = onnx.ModelProto.FromString(model.SerializeToString())
    for inp in model.graph.input:
        if inp.name in input_shapes:
            dims = inp.type.tensor_type.shape.dim
            shape = input_shapes[inp.name]
            if len(dims) != len(shape):
                raise ValueError(f"input {inp.name} has rank {len(dims)}, got shape {shape}")
            for d, v in zip(dims, shape):
                d.ClearField("dim_param")
                d.dim_value = int(v)
    del model.graph.value_info[:]
    inferred = shape_inference.infer_shapes(model, data_prop=True)
    shapes = {}
    for vi in [*inferred.graph.input, *inferred.graph.value_info, *inferred.graph.output]:
        dims = vi.type.tensor_type.shape.dim
        if all(d.HasField("dim_value") for d in dims):
            shapes[vi.name] = tuple(d.dim_value for d in dims)
    for init in inferred.graph.initializer:
        shapes[init.name] = tuple(init.dims)
    return shapes


#: node type -> positions of inputs that are shapes, sizes or indices (not data)
_SHAPE_INPUTS = {"Reshape": (1,), "Expand": (1,), "Tile": (1,), "ConstantOfShape": (0,), "Slice": (1, 2, 3, 4),
                 "Resize": (1, 2, 3), "Unsqueeze": (1,), "Squeeze": (1,), "Range": (0, 1, 2)}


def fold_shape_inputs(model, input_shapes: dict[str, tuple[int, ...]]):
    """``model`` with every computed shape input (Reshape's target shape, ...) replaced by its value at
    ``input_shapes``, computed by ONNX Runtime on the shape subgraph alone (zeros as inputs; the
    shape subgraph reads only the inputs' shapes). ONNX shape inference cannot always propagate
    such values (e.g. the attention transforms' reshapes); with them constant, it can."""
    import onnxruntime as ort
    from onnx import numpy_helper

    constants = {i.name for i in model.graph.initializer}
    constants |= {o for n in model.graph.node if n.op_type == "Constant" for o in n.output}
    wanted = sorted({n.input[k] for n in model.graph.node for k in _SHAPE_INPUTS.get(n.op_type, ())
                     if k < len(n.input) and n.input[k] and n.input[k] not in constants})
    if not wanted:
        return model
    # the nodes the shape values need (backwards from them), as a graph of its own
    producer = {o: n for n in model.graph.node for o in n.output}
    needed, stack, seen = [], list(wanted), set()
    while stack:
        name = stack.pop()
        node = producer.get(name)
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        needed.append(node)
        stack.extend(i for i in node.input if i)
    order = {id(n): k for k, n in enumerate(model.graph.node)}
    needed.sort(key=lambda n: order[id(n)])
    typed = shape_inference.infer_shapes(model)
    elem = {vi.name: vi.type.tensor_type.elem_type for vi in typed.graph.value_info}
    used = {i for n in needed for i in n.input}
    graph = onnx.helper.make_graph(
        needed, "shapes", [i for i in model.graph.input if i.name in used],
        [onnx.helper.make_tensor_value_info(w, elem.get(w, onnx.TensorProto.INT64), None) for w in wanted],
        [i for i in model.graph.initializer if i.name in used])
    sub = onnx.helper.make_model(graph, opset_imports=model.opset_import, ir_version=model.ir_version)
    dtypes = {i.name: onnx.helper.tensor_dtype_to_np_dtype(i.type.tensor_type.elem_type) for i in model.graph.input}
    session = ort.InferenceSession(sub.SerializeToString(), providers=["CPUExecutionProvider"])
    feeds = {i.name: np.zeros(input_shapes[i.name], dtypes[i.name]) for i in session.get_inputs()}
    values = dict(zip(wanted, session.run(wanted, feeds)))
    folded = onnx.ModelProto.FromString(model.SerializeToString())
    folded.graph.initializer.extend(numpy_helper.from_array(np.asarray(v), f"{k}__folded") for k, v in values.items())
    for node in folded.graph.node:
        for k in _SHAPE_INPUTS.get(node.op_type, ()):
            if k < len(node.input) and node.input[k] in values:
                node.input[k] = f"{node.input[k]}__folded"
    return folded


def count_flops(model: onnx.ModelProto | str, input_shapes: dict[str, tuple[int, ...]]) -> dict[str, int]:
    """FLOPs per op type (and ``"total"``) of ``model`` at ``input_shapes``.

    Where ONNX shape inference cannot follow a computed shape (the attention transforms'
    reshapes), the count is made on the graph with its shape inputs folded (``fold_shape_inputs``).
    Nodes inside subgraphs (If/Loop) are not counted; an op whose output shape still cannot be
    inferred raises, rather than silently counting zero.
    """
    if isinstance(model, str):
        model = onnx.load(model)
    try:
        return _count(model, _with_shapes(model, input_shapes))
    except ValueError as exc:
        if "could not be inferred" not in str(exc):
            raise
    folded = fold_shape_inputs(model, input_shapes)
    return _count(folded, _with_shapes(folded, input_shapes))


def _count(model: onnx.ModelProto, shapes: dict[str, tuple[int, ...]]) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)

    def shape(name):
        if name not in shapes:
            raise ValueError(f"shape of {name!r} could not be inferred; cannot count its FLOPs")
        return shapes[name]

    for node in model.graph.node:
        op = node.op_type
        if op == "Conv":
            out = shape(node.output[0])
            w = shape(node.input[1])
            macs = prod(out) * prod(w[1:])
            flops = 2 * macs + (prod(out) if len(node.input) > 2 and node.input[2] else 0)
        elif op in ("MatMul", "Gemm"):
            a, out = shape(node.input[0]), shape(node.output[0])
            k = a[-1]
            if op == "Gemm" and any(at.name == "transA" and at.i for at in node.attribute):
                k = a[0]
            flops = 2 * prod(out) * k + (prod(out) if op == "Gemm" and len(node.input) > 2 else 0)
        elif op == "Softmax":
            flops = 5 * prod(shape(node.output[0]))
        elif op in _ELEMENTWISE:
            flops = prod(shape(node.output[0]))
        elif op in _REDUCTIONS:
            flops = prod(shape(node.input[0]))
        elif op in ("InstanceNormalization", "LayerNormalization", "BatchNormalization"):
            flops = 5 * prod(shape(node.input[0]))
        elif op == "Resize":
            mode = next((at.s.decode() for at in node.attribute if at.name == "mode"), "nearest")
            flops = 0 if mode == "nearest" else 4 * prod(shape(node.output[0]))
        else:
            continue
        counts[op] += int(flops)
    counts["total"] = sum(v for k, v in counts.items())
    return dict(counts)


# --------------------------------------------------------------------------------------
# The scenario: python -m stylert.benchmarks flops --export DIR [--shape HxW ...] [--batch N]
# --------------------------------------------------------------------------------------
NAME = "flops"


def main(argv=None) -> int:
    """FLOPs of an export's content path (encoder, transform, decoder) and of its style encoding at each
    ``--shape`` (default 512x512 and 1080x1920; ``--quick``: 64x64), counted with ``count_flops`` at the
    manifest's input shapes; writes ``flops.json`` and ``flops.md`` into
    ``benchmarks/results/flops/<machine>/`` (``--out``)."""
    from ..core.images import hw_text, parse_hw
    from ..export.manifest import load_manifest
    from .harness import machine_record, results_dir, scenario_parser, write_results

    parser = scenario_parser(NAME, main.__doc__)
    parser.add_argument("--export", type=Path, required=True, help="export directory (stylert export -o DIR)")
    parser.add_argument("--shape", action="append", default=None, metavar="HxW", help="content (= style) size, "
                        "height first, repeatable")
    parser.add_argument("--batch", type=int, default=1)
    args = parser.parse_args(argv)
    manifest = load_manifest(args.export)
    sizes = [parse_hw(s, "--shape") for s in (args.shape or (["64x64"] if args.quick else ["512x512", "1080x1920"]))]
    rows = []
    for size in sizes:
        shapes = manifest.input_shapes(args.batch, size)
        counts = {g: count_flops(str(manifest.graph_path(g)), shapes[g]) for g in ("encoder", "transform", "decoder")}
        style_in = manifest.input_shapes(1, manifest.style_size(*size))["encoder"]
        style = count_flops(str(manifest.graph_path("encoder")), style_in)["total"]
        rows.append({"size": list(size), "batch": args.batch, "graphs": counts, "style_encoder": style,
                     "content_path": sum(c["total"] for c in counts.values())})
        print(f"{hw_text(size)} x{args.batch}: " + ", ".join(f"{g} {c['total'] / 1e9:.2f}" for g, c in counts.items())
              + f" GFLOP; content path {rows[-1]['content_path'] / 1e9:.2f}, style encoding {style / 1e9:.2f} GFLOP")
    lines = [f"# FLOPs of {manifest.family} ({manifest.precision})", "",
             "2 FLOPs per multiply-add; element-wise ops 1 per output element (benchmarks/flops.py).", "",
             "| size | batch | encoder | transform | decoder | content path | style encoding |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        g = r["graphs"]
        lines.append(f"| {hw_text(r['size'])} | {r['batch']} | " + " | ".join(
            f"{v / 1e9:.2f}" for v in (g["encoder"]["total"], g["transform"]["total"], g["decoder"]["total"],
                                       r["content_path"], r["style_encoder"])) + " |")
    info = machine_record()
    record = {"export": str(args.export), "family": manifest.family, "precision": manifest.precision,
              "unit": "FLOPs", "quick": args.quick, "machine": info, "rows": rows}
    write_results(args.out or results_dir(NAME, info, args.quick), NAME, record, "\n".join(lines))
    return 0


if __name__ == "__main__":
    from .harness import run_as_main

    run_as_main(NAME)
