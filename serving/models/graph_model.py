"""Triton python-backend model: one ONNX graph of a stylert export, run with ONNX Runtime or OpenVINO.

Copied as ``<name>_<graph>/1/model.py`` beside ``model.onnx`` by ``stylert triton --backend
python``, for servers without the onnxruntime backend. Needs numpy and onnxruntime (or openvino) in
the stub's Python; no stylert code. Dynamic batching: the requests of one ``execute`` call whose
inputs have the same shapes past the batch dimension are concatenated and run at once, then split again.
Parameters (config.pbtxt): ``intra_op_threads`` (0: the runtime's default); ``runtime``
(``onnxruntime``, default, or ``openvino``: OpenVINO's CPU plugin, as stylert's openvino backend);
``precision`` (openvino: ``auto`` = bf16 where ``OPTIMIZATION_CAPABILITIES`` lists BF16, else f32; or
``bf16`` / ``f32``).
"""

import json
import os

import numpy as np
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def initialize(self, args):
        config = json.loads(args["model_config"])
        self.batched = int(config.get("max_batch_size", 0)) > 0
        self.outputs = [o["name"] for o in config["output"]]
        params = {k: v.get("string_value", "") for k, v in config.get("parameters", {}).items()}
        threads = int(params.get("intra_op_threads") or 0)
        path = os.path.join(args["model_repository"], args["model_version"], "model.onnx")
        self.runtime = params.get("runtime") or "onnxruntime"
        if self.runtime == "openvino":
            self._open_openvino(path, threads, params.get("precision") or "auto")
            return
        import onnxruntime as ort

        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        providers = ["CPUExecutionProvider"]
        gpu = args.get("model_instance_kind") == "GPU" and "CUDAExecutionProvider" in ort.get_available_providers()
        if gpu:
            if hasattr(ort, "preload_dlls"):  # ONNX Runtime >= 1.21: CUDA/cuDNN from pip wheels
                ort.preload_dlls()
            providers = [("CUDAExecutionProvider", {"device_id": int(args["model_instance_device_id"])}),
                         "CPUExecutionProvider"]
        self.session = ort.InferenceSession(path, options, providers=providers)
        if gpu and "CUDAExecutionProvider" not in self.session.get_providers():
            raise RuntimeError(f"{path}: ONNX Runtime fell back to the CPU on a GPU instance (CUDA/cuDNN libraries "
                               "did not load): pip install 'onnxruntime-gpu[cuda,cudnn]' in the server's Python")
        self.inputs = [i.name for i in self.session.get_inputs()]
        self.dtypes = {i.name: _NP.get(i.type, np.float32) for i in self.session.get_inputs()}
        self.run = self.session.run

    def _open_openvino(self, path, threads, precision):
        import openvino as ov

        core = ov.Core()
        if precision == "auto":
            precision = "bf16" if "BF16" in core.get_property("CPU", "OPTIMIZATION_CAPABILITIES") else "f32"
        config = {"INFERENCE_PRECISION_HINT": precision, "PERFORMANCE_HINT": "LATENCY"}
        if threads:
            config["INFERENCE_NUM_THREADS"] = threads
        self.session = core.compile_model(path, "CPU", config)
        self.request = self.session.create_infer_request()
        self.inputs = [p.get_any_name() for p in self.session.inputs]
        self.dtypes = {p.get_any_name(): p.get_element_type().to_dtype() for p in self.session.inputs}

        def run(outputs, feeds):
            self.request.infer(feeds)
            return [np.array(self.request.get_tensor(n).data) for n in outputs]

        self.run = run

    def _feeds(self, request):
        feeds = {}
        for name in self.inputs:
            tensor = pb_utils.get_input_tensor_by_name(request, name)
            if tensor is None:
                raise ValueError(f"input {name!r} is missing")
            feeds[name] = np.ascontiguousarray(tensor.as_numpy(), dtype=self.dtypes[name])
        return feeds

    def execute(self, requests):
        responses = [None] * len(requests)
        groups = {}
        for i, request in enumerate(requests):
            try:
                feeds = self._feeds(request)
            except ValueError as err:
                responses[i] = pb_utils.InferenceResponse(error=pb_utils.TritonError(str(err)))
                continue
            key = tuple((n, feeds[n].shape[1:] if self.batched else feeds[n].shape) for n in self.inputs)
            groups.setdefault(key if self.batched else i, []).append((i, feeds))
        for members in groups.values():
            try:
                if len(members) == 1:
                    outs = [self.run(self.outputs, members[0][1])]
                else:
                    joined = {n: np.concatenate([f[n] for _, f in members]) for n in self.inputs}
                    run = self.run(self.outputs, joined)
                    bounds = np.cumsum([f[self.inputs[0]].shape[0] for _, f in members])[:-1]
                    parts = [np.split(o, bounds) for o in run]
                    outs = [[p[k] for p in parts] for k in range(len(members))]
            except Exception as err:  # a runtime failure answers these requests, the model keeps serving
                for i, _ in members:
                    responses[i] = pb_utils.InferenceResponse(
                        error=pb_utils.TritonError(f"{self.runtime}: {str(err).splitlines()[0]}"))
                continue
            for (i, _), values in zip(members, outs):
                responses[i] = pb_utils.InferenceResponse(
                    [pb_utils.Tensor(n, np.ascontiguousarray(v)) for n, v in zip(self.outputs, values)])
        return responses

    def finalize(self):
        self.session = None
        self.request = None


_NP = {"tensor(float)": np.float32, "tensor(float16)": np.float16, "tensor(double)": np.float64,
       "tensor(int64)": np.int64, "tensor(int32)": np.int32, "tensor(uint8)": np.uint8}
