"""Keep ONNX Runtime's blocked (NCHWc) layout across reflection pads on the CPU.

On x86 CPUs ONNX Runtime runs 3x3 convolutions in a blocked layout, ``[N, C/b, H, W, b]``
(``b`` = 16 with AVX-512, 8 with AVX2), and converts back to NCHW around every operator it has
no blocked kernel for. The VGG encoder and decoder pad every convolution's input by reflection,
so the optimized graph is a chain of

    NchwcConv -> ReorderOutput (to NCHW) -> Pad(reflect) -> ReorderInput (to NCHWc) -> NchwcConv

and two full copies of every feature map per layer are spent on layout alone (about 90 ms of
the 1 s content path at 512x512 on a 2-core Xeon). Padding only H and W does not care how the
channels are laid out, so the pair of reorders can go: view the blocked buffer as a 5-D tensor
(a ``Reshape``, no copy), pad axes 2 and 3 there, view it back as 4-D:

    NchwcConv -> Reshape [N, C/b, H, W, b] -> Pad(5-D) -> Reshape [N, C, H+2, W+2] -> NchwcConv

The result is bit-identical (the same values move to the same places). The rewrite is done on
the graph ONNX Runtime itself optimized for this machine (``optimized_model_filepath``), so it
only touches the layout ONNX Runtime chose here; that graph is hardware-specific and is never
written next to the user's export. Anything unexpected (no blocked kernels on this CPU, an
unknown pattern) leaves the graph as ONNX Runtime made it.
"""

from __future__ import annotations

import functools
import os
import tempfile

import numpy as np

NCHWC_DOMAIN = "com.microsoft.nchwc"


@functools.lru_cache(maxsize=1)
def block_size() -> int | None:
    """The channel block of ONNX Runtime's NCHWc layout on this CPU, read back from a
    ``ReorderInput`` of a known tensor; None where this build has no blocked kernels."""
    import onnxruntime as ort
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("ReorderInput", ["x"], ["y"], domain=NCHWC_DOMAIN)], "probe",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 64, 1, 2])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18), helper.make_opsetid(NCHWC_DOMAIN, 1)])
    model.ir_version = 8
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.log_severity_level = 4
    try:
        session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
        # x[c, w] = c + 100 w: in a blocked buffer, (c=0, w=1) comes right after the first block.
        x = (np.arange(64)[None, :, None, None] + 100 * np.arange(2)[None, None, None, :]).astype(np.float32)
        flat = session.run(None, {"x": x})[0].ravel()
    except Exception:  # no NCHWc kernels in this build or on this CPU
        return None
    hits = np.flatnonzero(flat == 100)
    b = int(hits[0]) if hits.size else 0
    return b if b > 1 and 64 % b == 0 else None


def fold_pad_reorders(model, block: int) -> int:
    """Rewrite ``ReorderOutput -> Pad -> ReorderInput`` chains of an ONNX Runtime-optimized
    ``ModelProto`` in place (see the module docstring). Returns how many were folded."""
    from onnx import helper, numpy_helper

    graph = model.graph
    initializers = {i.name: i for i in graph.initializer}
    producer = {o: n for n in graph.node for o in n.output}
    consumers: dict[str, list] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    graph_outputs = {o.name for o in graph.output}

    def attrs(node) -> dict:
        return {a.name: helper.get_attribute_value(a) for a in node.attribute}

    replacements: dict[int, list] = {}
    removed: set[int] = set()
    for pad in graph.node:
        if pad.op_type != "Pad" or pad.domain not in ("", "ai.onnx"):
            continue
        before = producer.get(pad.input[0])
        after = consumers.get(pad.output[0], [])
        if (before is None or before.op_type != "ReorderOutput" or before.domain != NCHWC_DOMAIN
                or len(after) != 1 or after[0].op_type != "ReorderInput" or after[0].domain != NCHWC_DOMAIN
                or len(consumers.get(before.output[0], [])) != 1
                or {before.output[0], pad.output[0]} & graph_outputs):
            continue
        reorder_in = after[0]
        out_attrs = attrs(before)
        channels = int(out_attrs.get("channels", 0))
        if (channels <= 0 or channels % block or out_attrs.get("channels_last", 0)
                or attrs(reorder_in).get("channels_last", 0)):
            continue
        # Pad's inputs: data, pads, [constant_value], [axes]; only constant 4-D pads of H and W.
        if len(pad.input) > 3 and pad.input[3] or pad.input[1] not in initializers:
            continue
        pads = numpy_helper.to_array(initializers[pad.input[1]]).astype(np.int64).tolist()
        if len(pads) != 8 or any(pads[i] for i in (0, 1, 4, 5)) or min(pads) < 0:
            continue
        k = len(replacements)
        prefix = f"stylert_nchwc_pad{k}"
        graph.initializer.extend([
            numpy_helper.from_array(np.array([0, channels // block, 0, 0, block], np.int64), f"{prefix}_shape5"),
            numpy_helper.from_array(np.array([0, 0, pads[2], pads[3], 0, 0, 0, pads[6], pads[7], 0], np.int64),
                                    f"{prefix}_pads"),
            numpy_helper.from_array(np.array([0, channels, 0, -1], np.int64), f"{prefix}_shape4"),
        ])
        pad_inputs = [f"{prefix}_5d", f"{prefix}_pads"] + ([pad.input[2]] if len(pad.input) > 2 else [])
        replacements[id(before)] = [
            helper.make_node("Reshape", [before.input[0], f"{prefix}_shape5"], [f"{prefix}_5d"], name=f"{prefix}_view5"),
            helper.make_node("Pad", pad_inputs, [f"{prefix}_padded"], name=f"{prefix}_pad", **attrs(pad)),
            helper.make_node("Reshape", [f"{prefix}_padded", f"{prefix}_shape4"], [reorder_in.output[0]],
                             name=f"{prefix}_view4"),
        ]
        removed.update((id(pad), id(reorder_in)))
    if not replacements:
        return 0
    nodes = []
    for node in graph.node:
        if id(node) in replacements:
            nodes.extend(replacements[id(node)])
        elif id(node) not in removed:
            nodes.append(node)
    del graph.node[:]
    graph.node.extend(nodes)
    return len(replacements)


def folded_model_bytes(path: str | os.PathLike, threads: int | None = None) -> tuple[bytes | None, int]:
    """ONNX Runtime's own CPU optimization of ``path``, with pad reorders folded.
    Returns (serialized model, folds); (None, 0) when there is nothing to fold here."""
    import onnx
    import onnxruntime as ort

    block = block_size()
    if block is None:
        return None, 0
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 4  # it warns that the saved graph is hardware-specific: it stays in memory here
    if threads:
        options.intra_op_num_threads = threads
    with tempfile.TemporaryDirectory(prefix="stylert-ort-") as tmp:
        options.optimized_model_filepath = os.path.join(tmp, "optimized.onnx")
        ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])
        model = onnx.load(options.optimized_model_filepath)
    folds = fold_pad_reorders(model, block)
    if not folds:
        return None, 0
    return model.SerializeToString(), folds
