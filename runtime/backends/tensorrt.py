"""The ``tensorrt`` runtime backend: the three plans of an export on one GPU, in the runner interface.

One :class:`TensorRTSession` holds what the three runners share: one ``trt.Runtime``, one CUDA
stream, the deserialized engines, one execution context per (graph, optimization profile),
one scratch buffer for the contexts' activations (they run one after another on the stream),
and one arena of I/O buffers planned from the engine manifest (``buffers.plan_buffers``), all
allocated through torch's CUDA allocator in ``activate`` and freed in ``deactivate``.

A call (``TrtRunner.infer``): the input shapes are checked against the manifest's relations
and the profiles (``profiles.match_profile``), which picks the context; tensors are bound by
name -- ``set_input_shape``, ``set_tensor_address`` (inputs that are outputs of the previous
engine are bound where they lie; host inputs are copied into their slot), output shapes read
back with ``get_tensor_shape`` -- and ``execute_async_v3(stream)`` enqueues the work. With
``keep_on_device`` the outputs are arena views that the next engine reads in place; otherwise
they are copied to the host once, after one stream synchronization. Optionally
(``STYLERT_TRT_CUDA_GRAPHS=1``) the enqueue of a shape seen before is captured into a CUDA
graph and replayed.

Streams and devices: everything runs under ``torch.cuda.device(device)`` (``cuda:N`` is GPU N:
plans are deserialized, buffers allocated and contexts run there). The session's stream first
waits for the caller's current stream (``wait_stream``: CUDA tensors the caller just wrote are
complete before an engine reads them, and ``record_stream`` keeps them alive until it has), and
the caller's stream waits for the session's stream after the enqueue, so work the caller queues
next (or CUDA events it records) comes after the engine's.

NaN/Inf: per run, one device-side reduction over the outputs (``isfinite(...).all()`` per
output, or-ed into a per-graph flag on the device, no host synchronization); the flags are read
once, at the next point where the host synchronizes anyway (a run with ``keep_on_device=False``,
``to_host``), and an error names the graph and outputs. ``check_finite = False`` (per session,
or ``STYLERT_TRT_CHECK_FINITE=0``) skips it, e.g. for timing.

A device output of ``keep_on_device`` is valid until the same graph runs again (its slot is
reused): the session tags slot views with a generation and refuses a stale one.

Documentation followed: the TensorRT Python API of ``IExecutionContext`` (``set_input_shape``,
``set_tensor_address``, ``get_tensor_shape``, ``execute_async_v3``,
``set_optimization_profile_async``, ``set_device_memory``) and ``ICudaEngine``
(``create_execution_context(ExecutionContextAllocationStrategy.USER_MANAGED)``,
``get_device_memory_size_for_profile_v2``, ``num_optimization_profiles``),
https://docs.nvidia.com/deeplearning/tensorrt/latest/_static/python-api/infer/Core/ExecutionContext.html;
TensorRT's ``samples/python/common_runtime.py`` (tensors by name); Polygraphy's
``TrtRunner`` (``polygraphy/backend/trt/runner.py``: profile switch on the runner's stream,
user-managed context memory). Not runnable on machines without TensorRT.
"""

from __future__ import annotations

import os

import numpy as np

from ...core.providers import import_tensorrt
from ...errors import EngineError, EngineOutputError, nan_fix
from ...export.manifest import GRAPH_NAMES, Manifest
from ..engine_manifest import EngineManifest
from ..profiles import ShapeRange, limit_problem, match_profile, widened
from ..staleness import open_engine
from .base import BaseRunner
from .buffers import BufferPlan, plan_buffers

CUDA_GRAPHS_ENV = "STYLERT_TRT_CUDA_GRAPHS"
CHECK_FINITE_ENV = "STYLERT_TRT_CHECK_FINITE"


class TensorRTSession:
    """The state the three TensorRT runners of one export share (see the module doc)."""

    def __init__(self, export: Manifest, engine: EngineManifest, device: str = "cuda", cuda_graphs: bool = False):
        self.export = export
        self.engine = engine
        self.device = device
        self.cuda_graphs = cuda_graphs
        self.plan: BufferPlan = plan_buffers(export, engine.profiles)
        self.profiles = {g: engine.graph_profiles(g) for g in GRAPH_NAMES}
        self.check_finite = os.environ.get(CHECK_FINITE_ENV, "1") != "0"
        self.users = 0
        self._reset()

    def _reset(self):
        self.runtime = self.stream = self.arena = self.scratch = None
        self.engines: dict = {}
        self.contexts: dict[str, list] = {}
        self.generation: dict[tuple, int] = {}
        self.graph_seen: dict[tuple, int] = {}
        self.cuda_graph_cache: dict[tuple, object] = {}
        self.finite_flags: dict[str, object] = {}  # graph -> device bool tensor, one per output: all finite so far

    # -- lifecycle ------------------------------------------------------------------------
    def acquire(self) -> None:
        if self.users == 0:
            self._activate()
        self.users += 1

    def release(self) -> None:
        self.users = max(0, self.users - 1)
        if self.users == 0:
            self._deactivate()

    def _activate(self) -> None:
        import torch

        with torch.cuda.device(torch.device(self.device)):  # cuda:N: deserialize and allocate on GPU N
            self._activate_on_device()

    def _activate_on_device(self) -> None:
        trt = import_tensorrt()
        import torch

        fix = self.engine.rebuild_command(self.export.root)
        device = torch.device(self.device)
        self.logger = trt.Logger(trt.Logger.WARNING)
        self.runtime = trt.Runtime(self.logger)
        if self.engine.data.get("builder", {}).get("version_compatible"):
            self.runtime.engine_host_code_allowed = True  # the plan carries its lean runtime
        self.stream = torch.cuda.Stream(device=device)
        scratch = 0
        for g in GRAPH_NAMES:
            cuda_engine = self.runtime.deserialize_cuda_engine(self.engine.graph_file(g).read_bytes())
            if cuda_engine is None:
                raise EngineError("TensorRT could not deserialize the plan (see its log above)",
                                  path=self.engine.graph_file(g), fix=fix)
            self.engines[g] = cuda_engine
            if hasattr(cuda_engine, "get_device_memory_size_for_profile_v2"):
                for p in range(cuda_engine.num_optimization_profiles):
                    scratch = max(scratch, cuda_engine.get_device_memory_size_for_profile_v2(p))
        user_managed = scratch > 0 and hasattr(trt, "ExecutionContextAllocationStrategy")
        self.arena = torch.empty(self.plan.total_bytes, dtype=torch.uint8, device=device)
        if user_managed:  # one activation buffer for every context: they run one at a time on one stream
            self.scratch = torch.empty(scratch, dtype=torch.uint8, device=device)
        for g, cuda_engine in self.engines.items():
            contexts = []
            for p in range(cuda_engine.num_optimization_profiles):
                if user_managed:
                    ctx = cuda_engine.create_execution_context(trt.ExecutionContextAllocationStrategy.USER_MANAGED)
                else:
                    ctx = cuda_engine.create_execution_context()
                if ctx is None:
                    raise EngineError(f"TensorRT could not create an execution context for the {g} plan",
                                      path=self.engine.graph_file(g), fix="free GPU memory, or build smaller profiles")
                if user_managed:
                    ctx.set_device_memory(self.scratch.data_ptr(), self.scratch.numel())
                if not ctx.set_optimization_profile_async(p, self.stream.cuda_stream):
                    raise EngineError(f"TensorRT refused optimization profile {p} of the {g} plan",
                                      path=self.engine.graph_file(g), fix=fix)
                contexts.append(ctx)
            self.contexts[g] = contexts
        self.stream.synchronize()

    def _deactivate(self) -> None:
        import torch

        if self.stream is not None:
            self.stream.synchronize()
        self.cuda_graph_cache.clear()
        self.contexts.clear()  # contexts before engines, engines before the runtime
        self.engines.clear()
        self._reset()
        torch.cuda.empty_cache()

    # -- running --------------------------------------------------------------------------
    def _rebuild(self, image_shape) -> str:
        """The fix of a shape no profile takes: the build command of an engine that takes it, or,
        where no TensorRT engine can (``profiles.limit_problem``: the attention softmax over 2^31 - 1
        elements), that limit and the way out."""
        profiles = self.engine.profiles
        if image_shape is not None:
            why = limit_problem(self.export.footprint, image_shape)
            if why:
                return (f"no TensorRT engine can take a {'x'.join(map(str, image_shape))} image as content and "
                        f"style: {why}; use smaller images (--content-size, --style-size)")
            profiles = [widened(profiles[-1], image_shape)] if len(profiles) == 1 else profiles + [
                ShapeRange(tuple(image_shape), tuple(image_shape), tuple(image_shape))]
        return self.engine.rebuild_command(self.export.root, profiles)

    def _bind_input(self, graph: str, name: str, value, shape):
        """Device address of input ``name``: a fresh arena output in place, a CUDA tensor as is
        (``record_stream``: its memory is not reused before the session's stream has read it),
        host data copied (on the session's stream) into the input's slot."""
        import torch

        if isinstance(value, torch.Tensor) and value.is_cuda:
            if value.dtype != torch.float32:
                raise EngineError(f"{graph}: input {name} is {value.dtype}, the plan takes float32")
            tag = getattr(value, "_stylert_slot", None)
            if tag is not None and self.generation.get(tag[0]) != tag[1]:
                raise EngineError(f"{graph}: input {name} is a device output of {tag[0][0]} that has been "
                                  "overwritten since (its graph ran again)",
                                  fix="use each kept output before running its graph again, or keep_on_device=False")
            value = value.contiguous()
            if tag is None:  # the caller's memory (arena views belong to the session)
                value.record_stream(self.stream)
            return value
        array = np.ascontiguousarray(value.numpy() if isinstance(value, torch.Tensor) else value, dtype=np.float32)
        slot = self.plan.view(self.arena, graph, "inputs", name, shape)
        slot.copy_(torch.from_numpy(array), non_blocking=True)
        return slot

    def _execute(self, ctx, key) -> None:
        import torch

        if not self.cuda_graphs:
            if not ctx.execute_async_v3(self.stream.cuda_stream):
                raise EngineError(f"TensorRT execute_async_v3 failed for {key[0]} (see its log above)")
            return
        graph = self.cuda_graph_cache.get(key)
        if graph is None:
            self.graph_seen[key] = self.graph_seen.get(key, 0) + 1
            # The first call of a shape runs normally (TensorRT's shape-dependent setup happens outside
            # any capture); the second captures the enqueue into a CUDA graph, replayed from then on.
            if not ctx.execute_async_v3(self.stream.cuda_stream):
                raise EngineError(f"TensorRT execute_async_v3 failed for {key[0]} (see its log above)")
            if self.graph_seen[key] < 2:
                return
            graph = torch.cuda.CUDAGraph()
            self.stream.synchronize()
            with torch.cuda.graph(graph, stream=self.stream, capture_error_mode="thread_local"):
                ctx.execute_async_v3(self.stream.cuda_stream)
            self.cuda_graph_cache[key] = graph
            return
        graph.replay()

    def _flag_finite(self, graph: str, outputs: dict) -> None:
        """Or the outputs' non-finite state into the graph's device flag: no host synchronization."""
        import torch

        flags = torch.stack([torch.isfinite(v).all() for v in outputs.values()])
        old = self.finite_flags.get(graph)
        self.finite_flags[graph] = flags if old is None else old & flags

    def check_outputs(self) -> None:
        """Read every graph's finite flags in one device-to-host copy (the stream is synchronized
        there anyway); EngineOutputError naming the graph and outputs with NaN or Inf."""
        import torch

        if not self.finite_flags:
            return
        graphs = list(self.finite_flags)
        flags = torch.cat([self.finite_flags[g] for g in graphs]).cpu().tolist()
        self.finite_flags.clear()
        i, bad = 0, []
        for g in graphs:
            names = [t["name"] for t in self.export.outputs(g)]
            bad += [(g, n) for n, ok in zip(names, flags[i:i + len(names)]) if not ok]
            i += len(names)
        if bad:
            g = bad[0][0]
            raise EngineOutputError(f"the tensorrt {g} engine ({self.engine.precision}) produced NaN or Inf in "
                                    f"its output {', '.join(n for gg, n in bad if gg == g)}",
                                    path=self.engine.graph_file(g),
                                    fix=nan_fix(self.engine.precision))

    def run(self, graph: str, feed: dict, keep_on_device: bool) -> dict:
        import torch

        names = [t["name"] for t in self.export.inputs(graph)]
        shapes = {n: tuple(int(d) for d in np.shape(feed[n])) for n in names}
        p = match_profile(self.export, graph, shapes, self.profiles[graph], rebuild=self._rebuild)
        ctx = self.contexts[graph][p]
        keep_alive = []
        device = torch.device(self.device)
        with torch.cuda.device(device):
            caller = torch.cuda.current_stream(device)
            self.stream.wait_stream(caller)  # the caller's writes to its CUDA inputs come first
            outputs = self._run_on_stream(graph, feed, shapes, names, p, ctx, keep_alive)
            caller.wait_stream(self.stream)  # what the caller queues next comes after the engine
        if keep_on_device:
            return outputs
        self.stream.synchronize()
        self.check_outputs()
        return {n: v.cpu().numpy() for n, v in outputs.items()}

    def _run_on_stream(self, graph, feed, shapes, names, p, ctx, keep_alive) -> dict:
        import torch

        with torch.cuda.stream(self.stream):
            addresses = []
            for n in names:
                tensor = self._bind_input(graph, n, feed[n], shapes[n])
                keep_alive.append(tensor)
                if not ctx.set_input_shape(n, shapes[n]):
                    raise EngineError(f"TensorRT refused shape {shapes[n]} for {graph} input {n}",
                                      fix=self._rebuild(None))
                if not ctx.set_tensor_address(n, tensor.data_ptr()):
                    raise EngineError(f"TensorRT refused the address of {graph} input {n}")
                addresses.append(tensor.data_ptr())
            outputs = {}
            for t in self.export.outputs(graph):
                n = t["name"]
                shape = tuple(ctx.get_tensor_shape(n))
                if any(d < 0 for d in shape):
                    raise EngineError(f"TensorRT could not infer the shape of {graph} output {n}")
                view = self.plan.view(self.arena, graph, "outputs", n, shape)
                if not ctx.set_tensor_address(n, view.data_ptr()):
                    raise EngineError(f"TensorRT refused the address of {graph} output {n}")
                outputs[n] = view
            self._execute(ctx, (graph, p, tuple(shapes[n] for n in names), tuple(addresses)))
            for n, view in outputs.items():
                key = (graph, n)
                self.generation[key] = self.generation.get(key, 0) + 1
                view._stylert_slot = (key, self.generation[key])
            if self.check_finite:
                self._flag_finite(graph, outputs)
        return outputs

    def to_host(self, value):
        import torch

        if isinstance(value, torch.Tensor):
            self.stream.synchronize()
            self.check_outputs()
            return value.detach().cpu().numpy()
        return value


class TrtRunner(BaseRunner):
    """One graph of a :class:`TensorRTSession` (the session is activated with its first runner)."""

    def __init__(self, session: TensorRTSession, graph: str):
        super().__init__(f"tensorrt:{graph}")
        self.session = session
        self.graph = graph
        self.precision = session.engine.precision
        self._inputs = [t["name"] for t in session.export.inputs(graph)]
        self._outputs = [t["name"] for t in session.export.outputs(graph)]

    def activate_impl(self):
        self.session.acquire()

    def deactivate_impl(self):
        self.session.release()

    def input_names(self):
        return self._inputs

    def output_names(self):
        return self._outputs

    def infer_impl(self, feed, keep_on_device):
        return self.session.run(self.graph, feed, keep_on_device)

    def to_host(self, value):
        return self.session.to_host(value)

    @property
    def cuda_stream(self):
        """The torch CUDA stream the engine runs on (where CUDA events that time it belong)."""
        return self.session.stream

    @property
    def check_finite(self) -> bool:
        return self.session.check_finite

    @check_finite.setter
    def check_finite(self, value: bool) -> None:
        self.session.check_finite = bool(value)


def tensorrt_runners(manifest: Manifest, device: str, cuda_graphs: bool = False) -> dict[str, BaseRunner]:
    """The three TensorRT runners of an export: one-line errors for a missing ``tensorrt`` package,
    a CPU device, no engine, or a stale one (with the rebuild command)."""
    import_tensorrt()
    if not str(device).startswith("cuda"):
        raise EngineError("TensorRT engines run on CUDA GPUs, and this run is on the CPU",
                          fix="--device cuda on a GPU machine, or --backend onnxruntime / inductor on the CPU")
    engine, _ = open_engine(manifest, "tensorrt", device)
    session = TensorRTSession(manifest, engine, device,
                              cuda_graphs=cuda_graphs or os.environ.get(CUDA_GRAPHS_ENV) == "1")
    runners = {g: TrtRunner(session, g) for g in GRAPH_NAMES}
    for runner in runners.values():
        runner.supports_cuda_graph = session.cuda_graphs
    return runners
