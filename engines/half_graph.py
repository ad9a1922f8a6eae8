"""A float32 ``torch.export`` program -> a module to re-export for another device and precision.

The export directory holds float32 programs (``encoder.pt2``...). Their graphs state dtypes
and devices as traced: ``aten.to.dtype(x, torch.float32)`` at the inputs and around the
statistics, ``_assert_tensor_metadata(device=cpu)`` checks. :func:`prepare_module` rewrites the
graph of ``program.module()`` for a ``device`` and a ``precision``:

* both precisions: ceil-mode max pools become floor-mode pools of the input padded with -inf
  (:func:`floor_mode_pools`): AOTInductor sizes a ceil-mode pool's output from the example input
  it is compiled with and does not check that guard at run time, so a style image of odd height
  or width got a floor-mode feature map with uninitialised memory beside it (NaN in some runs).
* ``fp32``: drops the CPU device asserts and moves constants' ``device=`` to the target device.
* ``fp16`` ("float16 with float32 statistics"): parameters in float16; every float32 input
  cast to float16 at the entry and every output back to float32; the traced float casts are
  dropped and replaced by one rule per op --
  reductions, powers, roots and softmax (``FP32_OPS``) take float32 inputs (variance and
  sums of VGG features overflow float16); convolutions and matrix products (``FP16_OPS``)
  take float16 inputs, except a matrix product whose result feeds a softmax (attention
  logits), which stays float32; element-wise ops compute in the wider dtype of their inputs
  (so ``var + eps`` and ``sqrt`` stay float32 and ``(x - mu) / sigma`` is computed in float32).

The result is an ``nn.Module`` taking and returning float32 tensors, ready for
``torch.export.export`` and ``torch._inductor.aoti_compile_and_package``.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

aten = torch.ops.aten


def _overloads(*packets):
    out = set()
    for packet in packets:
        for name in packet.overloads():
            out.add(getattr(packet, name))
    return frozenset(out)


FP32_OPS = _overloads(aten.var, aten.var_mean, aten.std, aten.std_mean, aten.mean, aten.sum, aten._softmax,
                      aten.softmax, aten._log_softmax, aten.log_softmax, aten.pow, aten.sqrt, aten.rsqrt, aten.exp,
                      aten.log, aten.reciprocal, aten.linalg_vector_norm, aten.norm, aten.native_layer_norm,
                      aten.layer_norm, aten.group_norm, aten.native_group_norm, aten.instance_norm)
FP16_OPS = _overloads(aten.conv2d, aten.convolution, aten.conv_transpose2d, aten.linear, aten.mm, aten.bmm,
                      aten.matmul, aten.addmm, aten.baddbmm)
SOFTMAX_OPS = _overloads(aten._softmax, aten.softmax, aten._log_softmax, aten.log_softmax)
CAST_OPS = _overloads(aten.to, aten._to_copy, aten.type_as)
#: Ops between a matrix product and the softmax of its result (attention logits).
_LOGIT_PATH = _overloads(aten.view, aten.reshape, aten.mul, aten.div, aten.transpose, aten.permute, aten.clone,
                         aten.contiguous, aten.unsqueeze, aten.squeeze)
_DROP = _overloads(aten._assert_tensor_metadata)
POOL_OPS = frozenset({aten.max_pool2d.default})
_FLOATS = (torch.float16, torch.float32, torch.bfloat16, torch.float64)


def _val(node):
    return node.meta.get("val") if isinstance(node, torch.fx.Node) else None


def _is_float(node) -> bool:
    v = _val(node)
    return isinstance(v, torch.Tensor) and v.dtype in _FLOATS


def _cast_target(node) -> torch.dtype | None:
    """The float dtype an explicit cast node converts to (None: not a float->float cast)."""
    if node.op != "call_function" or node.target not in CAST_OPS:
        return None
    if node.target in _overloads(aten.type_as):
        return None
    dtype = node.kwargs.get("dtype")
    if dtype is None:
        dtype = next((a for a in node.args[1:] if isinstance(a, torch.dtype)), None)
    if dtype in _FLOATS and _is_float(node.args[0]):
        if any(isinstance(a, (torch.device, str)) for a in node.args[1:]) or "device" in node.kwargs:
            return None  # a device move: keep
        return dtype
    return None


def _feeds_softmax(node, depth: int = 4) -> bool:
    if depth == 0:
        return False
    for user in node.users:
        if user.op == "call_function":
            if user.target in SOFTMAX_OPS:
                return True
            if (user.target in _LOGIT_PATH or _cast_target(user) is not None) and _feeds_softmax(user, depth - 1):
                return True
    return False


class _Caster:
    """Inserts (once per tensor and dtype) ``aten.to.dtype`` right after the tensor's producer
    (after the last placeholder, for inputs: FX keeps placeholders first)."""

    def __init__(self, graph: torch.fx.Graph):
        self.graph = graph
        self.cache: dict[tuple, torch.fx.Node] = {}
        self.last_placeholder = [n for n in graph.nodes if n.op == "placeholder"][-1]

    def cast(self, node: torch.fx.Node, dtype: torch.dtype) -> torch.fx.Node:
        key = (node, dtype)
        if key not in self.cache:
            where = self.last_placeholder if node.op == "placeholder" else node
            with self.graph.inserting_after(where):
                new = self.graph.call_function(aten.to.dtype, (node, dtype))
            val = _val(node)
            if isinstance(val, torch.Tensor):
                new.meta["val"] = val.to(dtype)
            self.cache[key] = new
        return self.cache[key]


def _pool_args(node: torch.fx.Node) -> tuple | None:
    """(input, kernel, stride, padding, dilation, ceil_mode) of an ``aten.max_pool2d`` node, defaults filled."""
    names = ("input", "kernel_size", "stride", "padding", "dilation", "ceil_mode")
    defaults = {"stride": [], "padding": [0, 0], "dilation": [1, 1], "ceil_mode": False}
    values = dict(zip(names, node.args))
    for name in names:
        if name not in values:
            values[name] = node.kwargs.get(name, defaults.get(name))
    pair = lambda v: [int(v)] * 2 if isinstance(v, int) else [int(x) for x in v] * (2 if len(v) == 1 else 1)  # noqa: E731
    kernel = pair(values["kernel_size"])
    stride = pair(values["stride"]) if values["stride"] else kernel
    return values["input"], kernel, stride, pair(values["padding"]), pair(values["dilation"]), bool(values["ceil_mode"])


def floor_mode_pools(graph: torch.fx.Graph) -> int:
    """Replace, in place, every ceil-mode ``aten.max_pool2d`` with padding 0, dilation 1 and kernel >=
    stride by ``max_pool2d(constant_pad_nd(x, [0, sW - 1, 0, sH - 1], -inf), ceil_mode=False)``;
    returns how many. Exact: PyTorch's ceil-mode output size ceil((H - k) / s) + 1 (windows start
    inside the input when k >= s) equals the floor-mode size of H + s - 1, and the -inf rows and
    columns never win a max. (VGG's pools: k = s = 2.) Other ceil-mode pools are left as they are.
    """
    count = 0
    for node in list(graph.nodes):
        if node.op != "call_function" or node.target not in POOL_OPS:
            continue
        x, kernel, stride, padding, dilation, ceil = _pool_args(node)
        if not ceil or any(padding) or dilation != [1, 1] or any(k < s for k, s in zip(kernel, stride)):
            continue
        with graph.inserting_before(node):
            padded = graph.call_function(aten.constant_pad_nd.default,
                                         (x, [0, stride[1] - 1, 0, stride[0] - 1], float("-inf")))
            pooled = graph.call_function(aten.max_pool2d.default, (padded, kernel, stride, [0, 0], [1, 1], False))
        node.replace_all_uses_with(pooled)
        graph.erase_node(node)
        count += 1
    return count


def rewrite_graph(gm: torch.fx.GraphModule, precision: str, device: torch.device | str) -> dict[str, int]:
    """Rewrite ``gm``'s graph in place (see the module doc); returns counts of what it did per op class."""
    graph = gm.graph
    device = torch.device(device)
    stats = {"dropped_asserts": 0, "dropped_casts": 0, "fp32_ops": 0, "fp16_ops": 0, "casts_inserted": 0,
             "floor_mode_pools": 0}
    for node in list(graph.nodes):
        if node.op == "call_function" and node.target in _DROP:
            graph.erase_node(node)
            stats["dropped_asserts"] += 1
        elif node.op == "call_function" and "device" in node.kwargs and isinstance(node.kwargs["device"], torch.device):
            node.kwargs = {**node.kwargs, "device": device}
    if precision == "fp32":
        stats["floor_mode_pools"] = floor_mode_pools(graph)
        graph.lint()
        gm.recompile()
        return stats
    if precision != "fp16":
        raise ValueError(f"unknown precision {precision!r}")
    caster = _Caster(graph)
    dtype_of: dict[torch.fx.Node, torch.dtype] = {}
    for node in list(graph.nodes):
        if node.op == "placeholder":
            if _is_float(node):
                users = list(node.users)
                half = caster.cast(node, torch.float16)
                for u in users:
                    u.replace_input_with(node, half)
                dtype_of[node] = torch.float32
                dtype_of[half] = torch.float16
                stats["casts_inserted"] += 1
            continue
        if node.op == "get_attr":
            if _is_float(node):
                dtype_of[node] = torch.float16
            continue
        if node.op == "output":
            def to_fp32(arg):
                if isinstance(arg, torch.fx.Node) and dtype_of.get(arg) == torch.float16:
                    stats["casts_inserted"] += 1
                    return caster.cast(arg, torch.float32)
                return arg

            node.args = torch.fx.node.map_arg(node.args, to_fp32)
            continue
        if node.op != "call_function" or node in dtype_of:
            continue
        target_dtype = _cast_target(node)
        if target_dtype is not None:  # a traced float->float cast: the rules below decide dtypes instead
            src = node.args[0]
            node.replace_all_uses_with(src)
            graph.erase_node(node)
            stats["dropped_casts"] += 1
            continue
        float_inputs = [a for a in node.all_input_nodes if a in dtype_of]
        if node.target in FP32_OPS or (node.target in FP16_OPS and _feeds_softmax(node)):
            want, key = torch.float32, "fp32_ops"
        elif node.target in FP16_OPS:
            want, key = torch.float16, "fp16_ops"
        else:
            dtypes = {dtype_of[a] for a in float_inputs}
            want, key = (torch.float32 if torch.float32 in dtypes else torch.float16), None
            if len(dtypes) <= 1:
                want = None  # nothing to reconcile
        if key:
            stats[key] += 1
        if want is not None:
            for a in float_inputs:
                if dtype_of[a] != want:
                    node.replace_input_with(a, caster.cast(a, want))
                    stats["casts_inserted"] += 1
        if _is_float(node):
            if want is not None:
                dtype_of[node] = want
            else:
                dtype_of[node] = dtype_of[float_inputs[0]] if float_inputs else torch.float16
    for (src, dtype), cast in caster.cache.items():
        dtype_of[cast] = dtype
    stats["floor_mode_pools"] = floor_mode_pools(graph)  # after the dtype rules: its new nodes carry no metadata
    graph.eliminate_dead_code()
    graph.lint()
    gm.recompile()
    return stats


class FlatModule(nn.Module):
    """``forward(*tensors)`` around a graph module: the signature ``torch.export`` is given the same
    ``dynamic_shapes`` for as the original program (one dict of axes per input)."""

    def __init__(self, gm: nn.Module):
        super().__init__()
        self.gm = gm

    def forward(self, *tensors):
        return self.gm(*tensors)


def prepare_module(program, precision: str, device: str | torch.device) -> tuple[nn.Module, dict[str, int]]:
    """``program`` (a loaded float32 ExportedProgram) -> (module for ``device``/``precision``, rewrite counts)."""
    gm = copy.deepcopy(program.module())  # .half()/.to() convert parameters in place: keep the program's own
    stats = rewrite_graph(gm, precision, device)
    if precision == "fp16":
        gm = gm.half()
    return FlatModule(gm.to(device)), stats  # (ep.module() refuses .train()/.eval(); it is in eval mode)
