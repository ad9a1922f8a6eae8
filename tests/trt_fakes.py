"""Stand-ins for ``tensorrt`` and ``polygraphy.backend.trt`` that record and check the calls the
strongly typed build makes (no TensorRT here). They follow the documented interfaces:

* Polygraphy 0.53 ``NetworkFromOnnxPath(path, strongly_typed=...)`` -> a loader returning
  ``(builder, network, parser)``; ``PostprocessNetwork(network, func, name)`` calls
  ``func(network=network)``; ``CreateConfig(...)`` -> a loader ``(builder, network) -> config``;
  ``PostprocessConfig(config, func)`` calls ``func(builder, network, config)``;
  ``EngineBytesFromNetwork(network, config=..., save_timing_cache=...)()`` -> plan bytes;
  ``Profile().add(name, min=, opt=, max=)``.
* TensorRT: ``BuilderFlag`` members per version (11 has no FP16/INT8/precision-constraint flags),
  ``NetworkDefinitionCreationFlag.STRONGLY_TYPED``, ``INetworkDefinition.get_flag/num_layers/
  get_layer``, ``ILayer.num_outputs/get_output``, ``ITensor.dtype``, ``IBuilderConfig.get_flag``.

The fake network is the ONNX graph itself, typed as a strongly typed parse types it: one layer
per node, each output of the type ONNX shape inference gives it.
"""

from __future__ import annotations

import enum
import sys
import types

#: TensorRT's BuilderFlag members that matter here, per major version (11.4's bindings lack the first four).
_WEAK = ["FP16", "BF16", "INT8", "OBEY_PRECISION_CONSTRAINTS", "PREFER_PRECISION_CONSTRAINTS"]
_COMMON = ["TF32", "VERSION_COMPATIBLE", "REFIT"]

_ONNX_TO_TRT = {1: "FLOAT", 10: "HALF", 3: "INT8", 2: "UINT8", 6: "INT32", 7: "INT64", 9: "BOOL"}


class Recorder:
    """What the fakes received: ``networks`` (path, strongly_typed), ``configs`` (CreateConfig kwargs),
    ``builds`` (the flags set on each built config)."""

    def __init__(self):
        self.networks: list[tuple[str, bool]] = []
        self.configs: list[dict] = []
        self.builds: list[dict] = []


def fake_tensorrt(version: str) -> types.ModuleType:
    major = int(version.split(".")[0])
    trt = types.ModuleType("tensorrt")
    trt.__version__ = version
    trt.BuilderFlag = enum.Enum("BuilderFlag", (_WEAK if major < 11 else []) + _COMMON)
    trt.NetworkDefinitionCreationFlag = enum.Enum("NetworkDefinitionCreationFlag", ["STRONGLY_TYPED"])
    trt.DataType = enum.Enum("DataType", sorted(set(_ONNX_TO_TRT.values())))
    trt.HardwareCompatibilityLevel = enum.Enum("HardwareCompatibilityLevel", ["NONE", "AMPERE_PLUS"])
    trt.ProfilingVerbosity = enum.Enum("ProfilingVerbosity", ["LAYER_NAMES_ONLY", "DETAILED", "NONE"])
    return trt


class _Tensor:
    def __init__(self, name, dtype):
        self.name, self.dtype = name, dtype


class _Layer:
    def __init__(self, name, outputs):
        self.name, self._outputs = name, outputs

    @property
    def num_outputs(self):
        return len(self._outputs)

    def get_output(self, j):
        return self._outputs[j]


class _Network:
    def __init__(self, trt, path: str, flags: set):
        import onnx

        model = onnx.shape_inference.infer_shapes(onnx.load(path, load_external_data=False))
        g = model.graph
        types_ = {v.name: v.type.tensor_type.elem_type for v in (*g.value_info, *g.input, *g.output)}
        types_.update({i.name: i.data_type for i in g.initializer})
        self.path, self.flags = path, flags
        self.layers = [_Layer(n.name, [_Tensor(o, trt.DataType[_ONNX_TO_TRT.get(types_.get(o, 1), "FLOAT")])
                                       for o in n.output]) for n in g.node]

    @property
    def num_layers(self):
        return len(self.layers)

    def get_layer(self, i):
        return self.layers[i]

    def get_flag(self, flag):
        return flag in self.flags


class _Config:
    def __init__(self, flags: set):
        self.flags = flags

    def get_flag(self, flag):
        return flag in self.flags


class PolygraphyException(Exception):
    pass


def fake_polygraphy(trt, rec: Recorder) -> types.ModuleType:
    poly = types.ModuleType("polygraphy.backend.trt")

    def NetworkFromOnnxPath(path, strongly_typed=None, **unexpected):
        assert not unexpected, unexpected
        rec.networks.append((path, bool(strongly_typed)))
        # TensorRT 11: STRONGLY_TYPED "is retained for API compatibility but is ignored" (always on)
        ignored = int(trt.__version__.split(".")[0]) >= 11
        flags = {trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED} if strongly_typed and not ignored else set()
        return lambda: ("builder", _Network(trt, path, flags), "parser")

    def PostprocessNetwork(network, func, name=None):
        def load():
            builder, net, parser = network()
            func(network=net)
            return builder, net, parser
        return load

    def CreateConfig(**kwargs):
        known = {"tf32", "fp16", "int8", "fp8", "bf16", "precision_constraints", "profiles", "load_timing_cache",
                 "version_compatible", "hardware_compatibility_level", "profiling_verbosity"}
        assert set(kwargs) <= known, set(kwargs) - known
        rec.configs.append(dict(kwargs))
        flags = set()
        # Polygraphy's _configure_flags: try_set_flag(name) -> getattr(trt.BuilderFlag, name); missing: it fails
        for key, name in (("fp16", "FP16"), ("int8", "INT8"), ("bf16", "BF16")):
            if kwargs.get(key):
                flags.add(getattr(trt.BuilderFlag, name))  # AttributeError on TensorRT 11, as there
        if kwargs.get("precision_constraints") == "obey":
            flags.add(trt.BuilderFlag.OBEY_PRECISION_CONSTRAINTS)
        if kwargs.get("version_compatible"):
            flags.add(trt.BuilderFlag.VERSION_COMPATIBLE)
        return lambda builder, network: _Config(flags)

    def PostprocessConfig(config, func):
        def load(builder, network):
            cfg = config(builder, network)
            func(builder, network, cfg)
            return cfg
        return load

    class Profile(dict):
        def add(self, name, min, opt, max):
            self[name] = (min, opt, max)
            return self

    def EngineBytesFromNetwork(network, config=None, save_timing_cache=None):
        def build():
            builder, net, _ = network()
            cfg = config(builder, net)
            rec.builds.append({"path": net.path, "flags": sorted(f.name for f in cfg.flags),
                               "timing_cache": save_timing_cache})
            return f"plan of {net.path}".encode()
        return build

    for f in (NetworkFromOnnxPath, PostprocessNetwork, CreateConfig, PostprocessConfig, Profile,
              EngineBytesFromNetwork):
        setattr(poly, f.__name__, f)
    return poly


def install(monkeypatch, version: str, gpu: bool = True) -> Recorder:
    """Put the fakes in ``sys.modules`` (TensorRT ``version``) and, with ``gpu``, a CUDA GPU in torch's
    view and as the build's machine; returns the recorder."""
    import torch
    from stylert.engines import build as build_module
    from stylert.runtime.engine_manifest import Machine

    rec = Recorder()
    trt = fake_tensorrt(version)
    poly = fake_polygraphy(trt, rec)
    backend = types.ModuleType("polygraphy.backend")
    backend.trt = poly
    exc = types.ModuleType("polygraphy.exception")
    exc.PolygraphyException = PolygraphyException
    monkeypatch.setitem(sys.modules, "tensorrt", trt)
    monkeypatch.setitem(sys.modules, "polygraphy.backend", backend)
    monkeypatch.setitem(sys.modules, "polygraphy.backend.trt", poly)
    monkeypatch.setitem(sys.modules, "polygraphy.exception", exc)
    if not gpu:
        return rec
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    gpu = Machine("cuda", "NVIDIA H100 80GB HBM3", "9.0", None, "x86_64",
                  {"tensorrt": version, "torch": torch.__version__, "cuda": "12.8"})
    monkeypatch.setattr(build_module, "current_machine", lambda backend, device: gpu)
    return rec
