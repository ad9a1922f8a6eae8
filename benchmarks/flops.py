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


def count_flops(model: onnx.ModelProto | str, input_shapes: dict[str, tuple[int, ...]]) -> dict[str, int]:
    """FLOPs per op type (and ``"total"``) of ``model`` at ``input_shapes``.

    Nodes inside subgraphs (If/Loop) are not counted; an op whose output shape cannot be
    inferred raises, rather than silently counting zero.
    """
    if isinstance(model, str):
        model = onnx.load(model)
    shapes = _with_shapes(model, input_shapes)
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
