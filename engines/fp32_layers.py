"""Which nodes of an ONNX graph must compute in float32 when the rest is float16, decided with ``onnx`` alone.

float16 tops out at 65504. VGG features reach the hundreds, so their squares (variance) and
their sums over H*W overflow, and attention logits overflow ``exp`` in a softmax. The rules,
by op type and data flow:

1. every sum-like reduction (``ReduceMean``, ``ReduceSum``, ``ReduceSumSquare``, ``ReduceL1``,
   ``ReduceL2``, ``ReduceLogSum``, ``ReduceLogSumExp``), power and root (``Pow``, ``Sqrt``,
   ``Reciprocal``, ``Exp``, ``Log``), softmax (``Softmax``, ``LogSoftmax``) and normalization
   (``InstanceNormalization``, ``LayerNormalization``, ``GroupNormalization``) node;
2. a square written as ``Mul(x, x)``;
3. the statistics chains: walking back from each ``Sqrt``/``Pow``/``Reciprocal`` through
   element-wise ops and reductions (``x - mean``, ``(x - mean)^2``, ``* n / (n - 1)``, ``+ eps``)
   up to the first op of another kind (the ``Reshape`` of the features, a ``Cast`` of a shape);
4. the attention logits: walking back from each ``Softmax`` through scaling and reshapes
   (pinned too) to the ``MatMul`` (or ``Gemm``) that produced its input.

Everything else (convolutions, the AdaIN affine ``(x - mu) / sigma * sigma_s + mu_s``,
upsampling, padding) may run in FP16.

TensorRT plans are built strongly typed (``tensorrt_build``): every tensor has the type the
ONNX graph gives it, so nothing is pinned at build time (TensorRT 11 has no layer precision).
An fp16 export keeps these nodes float32 itself (the models compute statistics and attention
logits in float32 at least); :func:`fp16_graph_problems` checks that on the graph, with ONNX
shape inference, before an fp16 plan is built.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

SUM_REDUCTIONS = frozenset({"ReduceMean", "ReduceSum", "ReduceSumSquare", "ReduceL1", "ReduceL2", "ReduceLogSum",
                            "ReduceLogSumExp"})
POWERS = frozenset({"Pow", "Sqrt", "Reciprocal", "Exp", "Log"})
SOFTMAXES = frozenset({"Softmax", "LogSoftmax"})
NORMALIZATIONS = frozenset({"InstanceNormalization", "LayerNormalization", "GroupNormalization"})
ALWAYS_FP32 = SUM_REDUCTIONS | POWERS | SOFTMAXES | NORMALIZATIONS
#: Ops a statistics chain runs through (walking back from a Sqrt/Pow/Reciprocal).
ELEMENTWISE = frozenset({"Add", "Sub", "Mul", "Div", "Neg", "Abs", "Max", "Min"}) | SUM_REDUCTIONS | POWERS
#: Ops between a softmax and the MatMul of its logits.
LOGIT_PATH = frozenset({"Div", "Mul", "Add", "Sub", "Reshape", "Transpose", "Squeeze", "Unsqueeze", "Cast",
                        "Flatten"})
LOGIT_PRODUCERS = frozenset({"MatMul", "Gemm", "Einsum"})
CHAIN_ENDS = frozenset({"Sqrt", "Pow", "Reciprocal"})


@dataclass
class Fp32Plan:
    """The nodes to keep in FP32 (name -> why) and the tensors they produce (how TensorRT layers are matched)."""

    nodes: dict[str, str] = field(default_factory=dict)
    tensors: set[str] = field(default_factory=set)
    op_types: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, list[str]] = field(default_factory=dict)

    def add(self, node, reason: str) -> None:
        if node.name not in self.nodes:
            self.nodes[node.name] = reason
            self.op_types[node.name] = node.op_type
            self.outputs[node.name] = [o for o in node.output if o]
            self.tensors.update(self.outputs[node.name])

    def summary(self) -> dict[str, int]:
        """op type -> how many nodes of it are pinned."""
        counts: dict[str, int] = {}
        for op in self.op_types.values():
            counts[op] = counts.get(op, 0) + 1
        return dict(sorted(counts.items()))


def fp32_plan(model) -> Fp32Plan:
    """The FP32 nodes of ``model`` (an ``onnx.ModelProto``, or a path to one) by the rules above."""
    if isinstance(model, (str, os.PathLike)):
        import onnx

        model = onnx.load(str(model), load_external_data=False)
    nodes = list(model.graph.node)
    unnamed = [n for n in nodes if not n.name]
    if unnamed:  # TensorRT names layers after ONNX nodes; give every node a name to match by
        for i, n in enumerate(nodes):
            if not n.name:
                n.name = f"{n.op_type}_{i}"
    producer = {out: n for n in nodes for out in n.output if out}
    plan = Fp32Plan()
    for n in nodes:
        if n.op_type in ALWAYS_FP32:
            plan.add(n, f"{n.op_type}: float16 overflows in sums, powers and exponentials")
        elif n.op_type == "Mul" and len(n.input) == 2 and n.input[0] == n.input[1]:
            plan.add(n, "a square: float16 overflows above 255")

    def walk_back(start, allowed: frozenset, reason: str, stop_at: frozenset = frozenset()):
        stack, seen = [start], set()
        found = []
        while stack:
            node = stack.pop()
            if node.name in seen:
                continue
            seen.add(node.name)
            for name in node.input:
                src = producer.get(name)
                if src is None:
                    continue
                if src.op_type in stop_at:
                    found.append(src)
                elif src.op_type in allowed:
                    plan.add(src, reason)
                    stack.append(src)
        return found

    for n in nodes:
        if n.op_type in CHAIN_ENDS:
            walk_back(n, ELEMENTWISE, f"statistics chain ending in {n.name} ({n.op_type})")
    for n in nodes:
        if n.op_type in SOFTMAXES:
            reason = f"attention logits feeding {n.name} ({n.op_type})"
            for mm in walk_back(n, LOGIT_PATH, reason, stop_at=LOGIT_PRODUCERS):
                plan.add(mm, reason)
    return plan


def fp16_graph_problems(model) -> list[str]:
    """Nodes of a float16 graph that :func:`fp32_plan` keeps in float32 but that read or write float16.

    ``model``: an ``onnx.ModelProto`` or a path. Tensor types come from the graph's inputs,
    initializers and ONNX shape inference; a node is a problem when one of its float inputs or
    outputs is FLOAT16 (a strongly typed TensorRT network would then compute it in FP16 and
    overflow: float16 tops out at 65504). One line per problem, naming the node and its op type;
    empty where every statistics/softmax node is float32 (or the graph has no float16 at all).
    """
    import onnx
    from onnx import TensorProto

    if isinstance(model, (str, os.PathLike)):
        model = onnx.load(str(model), load_external_data=False)
    inferred = onnx.shape_inference.infer_shapes(model)
    types = {v.name: v.type.tensor_type.elem_type
             for v in (*inferred.graph.value_info, *inferred.graph.input, *inferred.graph.output)}
    types.update({i.name: i.data_type for i in inferred.graph.initializer})
    plan = fp32_plan(inferred)
    problems = []
    for node in inferred.graph.node:
        if node.name not in plan.nodes:
            continue
        half = [t for t in (*node.input, *node.output) if t and types.get(t) == TensorProto.FLOAT16]
        if half:
            problems.append(f"{node.op_type} {node.name} computes in float16 ({', '.join(half[:3])}); "
                            f"{plan.nodes[node.name]}")
    return problems
