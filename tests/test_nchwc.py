"""ONNX Runtime's blocked CPU layout kept across reflection pads (runtime/backends/nchwc.py):
the rewrite must fold the reorder pairs it is meant to, leave everything else, and change no bit."""

from __future__ import annotations

import numpy as np
import pytest

ort = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")

from onnx import TensorProto, helper, numpy_helper  # noqa: E402
from stylert.runtime.backends import nchwc  # noqa: E402
from stylert.runtime.backends.onnxrt import SessionFromOnnx  # noqa: E402


def _block():
    b = nchwc.block_size()
    if b is None:
        pytest.skip("this ONNX Runtime build or CPU has no NCHWc kernels: nothing to fold")
    return b


def _conv_pad_conv(path, *, pad_is_output=False, mode="reflect", channels=32):
    """conv -> relu -> pad -> conv: ONNX Runtime makes it NchwcConv -> ReorderOutput -> Pad -> ReorderInput."""
    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(rng.standard_normal((channels, 3, 3, 3)).astype(np.float32) * 0.3, "w1"),
             numpy_helper.from_array(rng.standard_normal((channels, channels, 3, 3)).astype(np.float32) * 0.1, "w2"),
             numpy_helper.from_array(np.array([0, 0, 1, 1, 0, 0, 1, 1], np.int64), "pads")]
    nodes = [helper.make_node("Conv", ["x", "w1"], ["c1"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c1"], ["r1"]),
             helper.make_node("Pad", ["r1", "pads"], ["p1"], mode=mode),
             helper.make_node("Conv", ["p1", "w2"], ["y"])]
    outputs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)]
    if pad_is_output:
        outputs.append(helper.make_tensor_value_info("p1", TensorProto.FLOAT, None))
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, None, None])],
                              outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 8
    onnx.save(model, path)
    return path


def _outputs(path, fold, x):
    loader = SessionFromOnnx(path, "cpu", fold_layout=fold)
    session = loader()
    return loader.folds, session.run(None, {"x": x})


def test_block_size_is_read_from_onnxruntime():
    b = _block()
    print(f"\nONNX Runtime NCHWc block on this CPU: {b} channels")
    assert b in (4, 8, 16, 32)


# Zero padding is fused into the convolution by ONNX Runtime itself: nothing left to fold.
@pytest.mark.parametrize("mode,expected", [("reflect", 1), ("edge", 1), ("constant", 0)])
def test_fold_is_bit_identical_on_a_small_graph(tmp_path, mode, expected):
    _block()
    path = _conv_pad_conv(tmp_path / "g.onnx", mode=mode)
    x = np.random.default_rng(1).random((1, 3, 21, 34), np.float32)
    folds, folded = _outputs(path, True, x)
    unfolded_folds, plain = _outputs(path, False, x)
    assert folds == expected and unfolded_folds == 0
    assert np.array_equal(folded[0], plain[0])


def test_fold_leaves_a_pad_someone_reads(tmp_path):
    """A padded tensor that is also a graph output must stay NCHW: nothing is folded."""
    _block()
    path = _conv_pad_conv(tmp_path / "g.onnx", pad_is_output=True)
    x = np.random.default_rng(2).random((1, 3, 16, 16), np.float32)
    folds, folded = _outputs(path, True, x)
    _, plain = _outputs(path, False, x)
    assert folds == 0
    for a, b in zip(folded, plain):
        assert np.array_equal(a, b)


def test_fold_rewrites_the_reorder_pair(tmp_path):
    b = _block()
    path = _conv_pad_conv(tmp_path / "g.onnx")
    model_bytes, folds = nchwc.folded_model_bytes(path)
    ops = [n.op_type for n in onnx.load_from_string(model_bytes).graph.node]
    assert folds == 1
    assert "ReorderInput" not in ops  # the 3-channel input needs none, the pad's was folded
    assert ops.count("Reshape") == 2 and ops.count("Pad") == 1
    pad = next(n for n in onnx.load_from_string(model_bytes).graph.node if n.op_type == "Pad")
    assert helper.get_attribute_value(pad.attribute[0]) == b"reflect"
    print(f"\nfolded graph ({b}-channel blocks): {ops}")


def test_real_adain_graphs_fold_and_agree_bit_for_bit(adain_export):
    """The VGG encoder and decoder: every pad between blocked convolutions folds; identical outputs."""
    _block()
    rng = np.random.default_rng(3)
    feeds = {"encoder": {"image": rng.random((1, 3, 96, 128), np.float32)},
             "decoder": {"relu4_1": np.maximum(rng.standard_normal((1, 512, 12, 16)), 0).astype(np.float32)}}
    for graph, feed in feeds.items():
        path = adain_export / f"{graph}.onnx"
        folded_loader, plain_loader = SessionFromOnnx(path, "cpu", fold_layout=True), SessionFromOnnx(path, "cpu",
                                                                                                      fold_layout=False)
        folded, plain = folded_loader().run(None, feed), plain_loader().run(None, feed)
        print(f"\n{graph}: {folded_loader.folds} pads folded; max |folded - ORT graph| "
              f"{max(float(np.abs(a - b).max()) for a, b in zip(folded, plain)):.1e}")
        # encoder: conv1_2..conv4_1 inputs (the first pad reads the 3-channel image); decoder: all but the input's
        assert folded_loader.folds == 8
        assert plain_loader.folds == 0
        for a, b in zip(folded, plain):
            assert np.array_equal(a, b)


def test_fold_failure_falls_back_to_onnxruntime_graph(tmp_path, monkeypatch):
    path = _conv_pad_conv(tmp_path / "g.onnx")

    def broken(*a, **k):
        raise RuntimeError("simulated")

    monkeypatch.setattr(nchwc, "folded_model_bytes", broken)
    loader = SessionFromOnnx(path, "cpu", fold_layout=True)
    session = loader()
    assert loader.folds == 0 and "simulated" in loader.fold_error
    assert session.run(None, {"x": np.zeros((1, 3, 8, 8), np.float32)})[0].shape == (1, 32, 8, 8)


def test_fold_env_switch(tmp_path, monkeypatch):
    monkeypatch.setenv("STYLERT_ORT_FOLD", "0")
    assert SessionFromOnnx(tmp_path / "g.onnx", "cpu").fold_layout is False
    monkeypatch.setenv("STYLERT_ORT_FOLD", "1")
    assert SessionFromOnnx(tmp_path / "g.onnx", "cpu").fold_layout is True
