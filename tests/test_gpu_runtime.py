"""The GPU runtime and serving paths without a GPU: per-family default profiles within TensorRT's
limits, Triton configs (engine cache, profile shapes, every TensorRT profile), ONNX Runtime provider
checks, stream ordering and device selection of the TensorRT runner (fakes that check the calls)."""

from __future__ import annotations

import pytest
from stylert.core.budget import Footprint
from stylert.errors import ProfileError
from stylert.runtime.profiles import (
    MAX_TENSOR_ELEMENTS,
    ShapeRange,
    attention_elements,
    default_profile,
    graph_profiles,
    make_profiles,
)

from test_engines import spec_manifest as _spec


def spec_manifest(family: str):
    """test_engines' manifest of a family, with its style representation (what ``footprint`` reads)."""
    from stylert.export.specs import get_export_spec
    from stylert.models import create_model

    m = _spec(family)
    m.data["style"] = {"representation": get_export_spec(create_model(family)).style_representation}
    return m


# --------------------------------------------------------------------------------------
# Default profiles per family
# --------------------------------------------------------------------------------------
def test_default_profiles_per_family_stay_within_tensorrt_limits():
    adain = spec_manifest("adain").footprint
    assert make_profiles(min_size=16, size_multiple=8, footprint=adain)[0].max == (1, 3, 2048, 2048)
    for family in ("sanet", "sanet-multilevel"):
        m = spec_manifest(family)
        (p,) = make_profiles(min_size=m.min_size, size_multiple=m.size_multiple, footprint=m.footprint)
        assert p.max[2] % m.size_multiple == 0 and p.max[2] < 2048
        assert all(e <= MAX_TENSOR_ELEMENTS for _, e in attention_elements(m.footprint, p.max))
        # the next size up would not be
        up = (1, 3, p.max[2] + m.size_multiple, p.max[3] + m.size_multiple)
        assert max(e for _, e in attention_elements(m.footprint, up)) > MAX_TENSOR_ELEMENTS
        # the largest derived tensors stay within the limit too
        ranges = graph_profiles(m, [p])
        for graph in ranges.values():
            for r in graph[0].values():
                n = 1
                for d in r.max:
                    n *= d
                assert n <= MAX_TENSOR_ELEMENTS
    # the old default: a 65536 x 65536 softmax
    assert dict(attention_elements(spec_manifest("sanet").footprint, (1, 3, 2048, 2048)))["relu4_1"] == 65536 ** 2


def test_default_profile_fits_the_gpu_memory():
    fp = Footprint(16, 32, (8, 16))
    roomy = default_profile(32, 16, fp, 80 * 10**9).max
    small = default_profile(32, 16, fp, 8 * 10**9)
    assert small.max[2] < roomy[2] and fp.estimate(small.max[2:], small.max[2:]).total <= 8 * 10**9
    assert small.opt == (1, 3, 512, 512) and small.min == (1, 3, 32, 32)


def test_a_refused_profile_names_the_limit_and_the_fix():
    m = spec_manifest("sanet")
    with pytest.raises(ProfileError, match=r"2\^31 - 1 elements per tensor") as err:
        make_profiles(maxs=["1x3x2048x2048"], min_size=m.min_size, size_multiple=m.size_multiple,
                      footprint=m.footprint)
    assert "\n" not in str(err.value) and "--max 1x3x1712x1712" in str(err.value)
    with pytest.raises(ProfileError, match="over the GPU's 4.0 GB"):
        make_profiles(maxs=["1x3x1088x1920"], min_size=m.min_size, size_multiple=m.size_multiple,
                      footprint=m.footprint, memory_bytes=4 * 10**9)
    # AdaIN takes the same request (no attention), batch 8 too
    adain = spec_manifest("adain")
    assert make_profiles(maxs=["8x3x2048x2048"], min_size=16, size_multiple=8, footprint=adain.footprint)
    # without a footprint (other engines), nothing changes
    assert make_profiles(min_size=16, size_multiple=8)[0] == ShapeRange((1, 3, 16, 16), (1, 3, 512, 512),
                                                                       (1, 3, 2048, 2048))


# --------------------------------------------------------------------------------------
# Triton configs
# --------------------------------------------------------------------------------------
def _config(family, graph, backend, **kw):
    from stylert.serving.repository import RepositoryOptions, config_from_dict, graph_config

    pytest.importorskip("tritonclient.grpc.model_config_pb2")
    m = spec_manifest(family)
    data = graph_config(m, graph, f"{family}_{graph}", RepositoryOptions(backend=backend, **kw.pop("opts", {})), **kw)
    return m, data, config_from_dict(data)  # a valid Triton ModelConfig


def _params(cfg) -> dict:
    (acc,) = cfg.optimization.execution_accelerators.gpu_execution_accelerator
    assert acc.name == "tensorrt"
    return dict(acc.parameters)


def test_triton_onnxruntime_gpu_has_no_whole_graph_fp16_and_caches_engines():
    _, _, cfg = _config("adain", "encoder", "onnxruntime", opts={"trt_cache": "/cache/"})
    p = _params(cfg)
    assert "precision_mode" not in p  # FP16 for the whole graph overflows the statistics
    assert p["trt_engine_cache_enable"] == "1" and p["trt_engine_cache_path"] == "/cache/adain_encoder"
    # one explicit profile: the family's default, batch 1..max_batch_size (8), every input named
    assert p["trt_profile_min_shapes"] == "image:1x3x16x16"
    assert p["trt_profile_opt_shapes"] == "image:1x3x512x512"
    assert p["trt_profile_max_shapes"] == "image:8x3x2048x2048"
    # the decoder's inputs are derived from the same image profile
    _, _, dec = _config("adain", "decoder", "onnxruntime")
    assert _params(dec)["trt_profile_max_shapes"] == "relu4_1:8x512x256x256"


def test_triton_onnxruntime_attention_profile_within_tensorrt_limits():
    m, _, cfg = _config("sanet", "transform", "onnxruntime")
    p = _params(cfg)
    shapes = dict(item.split(":") for item in p["trt_profile_max_shapes"].split(","))
    dynamic = {t["name"] for t in m.inputs("transform") if not all(isinstance(d, int) for d in t["shape"])}
    assert set(shapes) == dynamic and "content_relu4_1" in dynamic
    h = int(shapes["content_relu4_1"].split("x")[2])
    assert h * 8 == 1712 and (h * h) ** 2 <= MAX_TENSOR_ELEMENTS  # not 2048: a 4.3e9-element softmax
    # the CPU flavour has no accelerator
    _, data, _ = _config("adain", "encoder", "onnxruntime", opts={"device": "cpu"})
    assert "optimization" not in data


def test_triton_tensorrt_plan_lists_every_profile():
    _, _, cfg = _config("adain", "encoder", "tensorrt", max_batch=8, profiles=3)
    assert cfg.platform == "tensorrt_plan"
    assert list(cfg.instance_group[0].profile) == ["0", "1", "2"]  # unset, Triton uses profile 0 only
    _, _, one = _config("adain", "decoder", "tensorrt", max_batch=1)
    assert list(one.instance_group[0].profile) == ["0"]


# --------------------------------------------------------------------------------------
# ONNX Runtime on CUDA: libraries preloaded, provider checked, cuda:N honoured
# --------------------------------------------------------------------------------------
class FakeOrt:
    """The parts of the ``onnxruntime`` module the CUDA path uses, recording every call in order."""

    __version__ = "1.30.0"

    class GraphOptimizationLevel:
        ORT_ENABLE_ALL, ORT_DISABLE_ALL = 99, 0

    class SessionOptions:
        pass

    def __init__(self, keeps_cuda: bool, preload: bool = True):
        self.calls = []
        fake = self
        if preload:
            self.preload_dlls = lambda: fake.calls.append(("preload_dlls",))

        class Value:
            def __init__(self, where):
                self.where = where

            @staticmethod
            def ortvalue_from_numpy(array, device_type="cpu", device_id=0):
                fake.calls.append(("ortvalue", device_type, device_id))
                return Value((device_type, device_id))

        class Binding:
            def bind_ortvalue_input(self, name, value):
                fake.calls.append(("bind_input", name, value.where))

            def bind_output(self, name, device_type="cpu", device_id=0):
                fake.calls.append(("bind_output", name, device_type, device_id))

            def get_outputs(self):
                return [Value("out")]

        class Session:
            def __init__(self, model, sess_options=None, providers=None):
                fake.calls.append(("session", providers))

            def get_providers(self):
                return (["CUDAExecutionProvider"] if keeps_cuda else []) + ["CPUExecutionProvider"]

            def get_inputs(self):
                return [type("I", (), {"name": "image", "type": "tensor(float)"})()]

            def get_outputs(self):
                return [type("O", (), {"name": "relu4_1"})()]

            def io_binding(self):
                return Binding()

            def run_with_iobinding(self, binding):
                fake.calls.append(("run",))

        self.OrtValue, self.InferenceSession = Value, Session


@pytest.fixture
def fake_ort(monkeypatch):
    import stylert.core.providers as providers
    import stylert.runtime.backends.onnxrt as onnxrt

    def install(**kw):
        fake = FakeOrt(**kw)
        monkeypatch.setattr(providers, "onnxruntime", lambda: fake)
        monkeypatch.setattr(onnxrt, "onnxruntime", lambda: fake)
        providers.preload_cuda_libraries.cache_clear()
        return fake

    yield install
    providers.preload_cuda_libraries.cache_clear()


def test_cuda_session_preloads_libraries_and_honours_the_device_index(fake_ort, tmp_path):
    import numpy as np
    from stylert.runtime.backends.onnxrt import OnnxrtRunner, SessionFromOnnx

    fake = fake_ort(keeps_cuda=True)
    runner = OnnxrtRunner(SessionFromOnnx(tmp_path / "encoder.onnx", "cuda:1"), "encoder").activate()
    assert fake.calls[0] == ("preload_dlls",)  # before the session
    assert fake.calls[1] == ("session", [("CUDAExecutionProvider", {"device_id": "1"}), "CPUExecutionProvider"])
    fake.calls.clear()
    runner.infer({"image": np.zeros((1, 3, 16, 16), np.float32)}, keep_on_device=True)
    assert ("ortvalue", "cuda", 1) in fake.calls and ("bind_output", "relu4_1", "cuda", 1) in fake.calls
    assert ("bind_input", "image", ("cuda", 1)) in fake.calls


def test_cuda_session_that_fell_back_to_the_cpu_is_an_error(fake_ort, tmp_path):
    from stylert.errors import ModelError
    from stylert.runtime.backends.onnxrt import SessionFromOnnx

    fake = fake_ort(keeps_cuda=False, preload=False)  # an ONNX Runtime before 1.21: nothing to preload
    with pytest.raises(ModelError, match="did not keep the CUDA execution provider.*preload_dlls") as err:
        SessionFromOnnx(tmp_path / "decoder.onnx", "cuda")()
    assert "\n" not in str(err.value) and "--device cpu" in str(err.value)
    assert fake.calls == [("session", [("CUDAExecutionProvider", {"device_id": "0"}), "CPUExecutionProvider"])]
    # the CPU needs neither
    fake = fake_ort(keeps_cuda=False)
    SessionFromOnnx(tmp_path / "decoder.onnx", "cpu", fold_layout=False)()
    assert fake.calls == [("session", ["CPUExecutionProvider"])]


# --------------------------------------------------------------------------------------
# TensorRT runner: streams, device, one finite check per run (fakes of torch.cuda and TensorRT)
# --------------------------------------------------------------------------------------
class _Stream:
    def __init__(self, name, log):
        self.name, self.log, self.cuda_stream = name, log, id(self)

    def wait_stream(self, other):
        self.log.append(("wait", self.name, other.name))

    def synchronize(self):
        self.log.append(("sync", self.name))


class _Context:
    """An IExecutionContext that records its calls; ``execute_async_v3`` may write NaN everywhere."""

    def __init__(self, manifest, graph, log, session, nan=False):
        self.manifest, self.graph, self.log, self.session, self.nan = manifest, graph, log, session, nan
        self.shapes = {}

    def set_input_shape(self, name, shape):
        self.shapes[name] = tuple(shape)
        return True

    def set_tensor_address(self, name, address):
        return True

    def get_tensor_shape(self, name):
        from stylert.runtime.profiles import solve_symbols
        from stylert.export.manifest import evaluate_shape

        env = solve_symbols(self.manifest, self.graph, self.shapes)
        spec = next(t for t in self.manifest.outputs(self.graph) if t["name"] == name)["shape"]
        return evaluate_shape(spec, {**env, "Hs": env.get("H", 0), "Ws": env.get("W", 0)})

    def execute_async_v3(self, handle):
        self.log.append(("execute", self.graph, handle))
        if self.nan:
            self.session.arena.fill_(255)  # 0xFFFFFFFF: NaN in float32
        return True


@pytest.fixture
def trt_session(monkeypatch):
    import contextlib
    from pathlib import Path

    torch = pytest.importorskip("torch")
    from stylert.runtime.backends.buffers import plan_buffers
    from stylert.runtime.backends.tensorrt import TensorRTSession

    log = []

    @contextlib.contextmanager
    def device(d):
        log.append(("device", str(d)))
        yield

    @contextlib.contextmanager
    def stream(s):
        log.append(("enter", s.name))
        yield
        log.append(("exit", s.name))

    caller = _Stream("caller", log)
    monkeypatch.setattr(torch.cuda, "device", device)
    monkeypatch.setattr(torch.cuda, "stream", stream)
    monkeypatch.setattr(torch.cuda, "current_stream", lambda d=None: caller)

    def make(nan=False, family="adain"):
        m = spec_manifest(family)
        profile = ShapeRange((1, 3, 32, 32), (1, 3, 32, 32), (1, 3, 64, 64))
        s = TensorRTSession.__new__(TensorRTSession)
        s.export, s.device, s.cuda_graphs, s.check_finite = m, "cuda:1", False, True
        s.engine = type("E", (), {"precision": "fp16", "graph_file": lambda self, g: Path(f"/e/{g}.plan"),
                                  "profiles": [profile], "rebuild_command": lambda self, *a: "stylert build"})()
        s.plan = plan_buffers(m, [profile])
        s.profiles = graph_profiles(m, [profile])
        s._reset()
        s.stream = _Stream("engine", log)
        s.arena = torch.zeros(s.plan.total_bytes, dtype=torch.uint8)
        s.contexts = {g: [_Context(m, g, log, s, nan)] for g in ("encoder", "transform", "decoder")}
        return s

    return make, log


def test_tensorrt_run_orders_streams_and_uses_the_device(trt_session):
    import numpy as np

    make, log = trt_session
    s = make()
    out = s.run("encoder", {"image": np.zeros((1, 3, 32, 32), np.float32)}, keep_on_device=True)
    assert out["relu4_1"].shape == (1, 512, 4, 4)
    handle = s.stream.cuda_stream
    i_wait, i_exec, i_back = (log.index(e) for e in (("wait", "engine", "caller"), ("execute", "encoder", handle),
                                                     ("wait", "caller", "engine")))
    assert log[0] == ("device", "cuda:1") and i_wait < log.index(("enter", "engine")) < i_exec < i_back
    assert not any(e[0] == "sync" for e in log)  # keep_on_device: no host synchronization, finite check included


def test_tensorrt_nan_check_is_read_once_at_the_next_host_sync(trt_session):
    import numpy as np
    from stylert.errors import EngineOutputError

    make, log = trt_session
    s = make(nan=True)
    feed = {"image": np.zeros((1, 3, 32, 32), np.float32)}
    out = s.run("encoder", feed, keep_on_device=True)  # flagged on the device, not raised yet
    assert not any(e[0] == "sync" for e in log)
    with pytest.raises(EngineOutputError, match="tensorrt encoder engine .fp16. produced NaN or Inf in its output"):
        s.to_host(out["relu4_1"])
    assert s.finite_flags == {}
    with pytest.raises(EngineOutputError, match="encoder"):
        s.run("encoder", feed, keep_on_device=False)
    s.check_finite = False  # off: no check at all
    s.run("encoder", feed, keep_on_device=False)
    clean = make()
    clean.run("encoder", feed, keep_on_device=False)


def test_bench_cuda_events_are_recorded_on_the_engines_stream():
    from types import SimpleNamespace

    from stylert.benchmarks.harness import CudaEventTimer, measure_events

    log = []

    class Event:
        def __init__(self, enable_timing):
            assert enable_timing

        def record(self, stream=None):
            log.append(("record", stream))

        def synchronize(self):
            pass

        def elapsed_time(self, other):
            return 1.5

    timer = CudaEventTimer(SimpleNamespace(cuda=SimpleNamespace(Event=Event)))
    engine_stream = object()
    m = measure_events(lambda: log.append(("work",)), timer, 0.0, 0.0, 2, stream=engine_stream)
    assert m.samples_ms == [1.5, 1.5]
    assert log[:3] == [("record", engine_stream), ("work",), ("record", engine_stream)]
    assert all(e[1] is engine_stream for e in log if e[0] == "record")


def test_tensorrt_refusal_names_the_limit_when_no_engine_can_take_the_image(trt_session):
    import numpy as np
    from stylert.errors import EngineShapeError

    make, _ = trt_session
    s = make(family="sanet")
    with pytest.raises(EngineShapeError, match=r"2\^31 - 1 elements per tensor.*--content-size") as err:
        s.run("encoder", {"image": np.zeros((1, 3, 2048, 2048), np.float32)}, keep_on_device=True)
    assert "\n" not in str(err.value)
    with pytest.raises(EngineShapeError, match="stylert build"):  # within the limits: the rebuild command
        s.run("encoder", {"image": np.zeros((1, 3, 128, 128), np.float32)}, keep_on_device=True)
