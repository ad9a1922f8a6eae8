"""Triton python-backend BLS model ``stylize``: what stylert's runtime does around the three graphs.

    content UINT8 [H, W, 3]                 required
    style UINT8 [h, w, 3]                   optional: a style image, encoded per request
    style_name BYTES [K]                    optional: styles encoded when the repository was written
    alpha FP32 [L]                          optional: 1 value or one per level (default 1)
    weights FP32 [S]                        optional: interpolation weights, one per style
                                            (named styles first, then the style image)
    -> stylized UINT8 [H, W, 3]

Steps (as ``stylert.runtime.pipeline.Pipeline``): content / 255 -> reflect-pad to the size
multiple -> ``<name>_encoder`` -> style codes (named: read from ``styles/*.npz``; image: encoder
on the style, padded to the minimum size if smaller) blended by the weights where codes blend
linearly, else one transform per style with the outputs blended -> ``<name>_transform`` (alpha
per level) -> ``<name>_decoder`` -> clamp 0..1 -> crop the padding -> uint8 as
``clip(x * 255 + 0.5)``. The graph models are called by name (BLS), so any backend serves them.

A request it cannot serve gets an error naming the cause; the model keeps serving. Copied to
``stylize/1/model.py`` by ``stylert triton``; reads ``stylize.json`` beside it. numpy only.
"""

import json
import os

import numpy as np
import triton_python_backend_utils as pb_utils


class RequestError(Exception):
    """The request is wrong: answered with INVALID_ARG."""


def pad_to_multiple(image, multiple, min_size=0):
    """[H, W, C] padded at the bottom and right to multiples of ``multiple``, each side at least ``min_size``
    (``stylert.core.images.padded_size``; reflect, repeated where the pad is longer; edge for 1 pixel)."""
    height, width = image.shape[:2]
    for axis, length in ((0, height), (1, width)):
        pad = max(-(-length // multiple) * multiple, min_size) - length
        if pad:
            widths = [(0, 0)] * image.ndim
            widths[axis] = (0, pad)
            image = np.pad(image, widths, mode="reflect" if length > 1 else "edge")
    return image


def to_uint8(image):
    values = image.astype(np.float32)
    return np.clip(values * np.float32(255.0) + np.float32(0.5), 0, 255).astype(np.uint8)


class TritonPythonModel:
    def initialize(self, args):
        here = os.path.join(args["model_repository"], args["model_version"])
        with open(os.path.join(here, "stylize.json"), encoding="utf-8") as f:
            self.spec = json.load(f)
        spec = self.spec
        self.models = spec["models"]
        self.dtypes = {g: {n: np.dtype(d) for n, d in inputs.items()} for g, inputs in spec["graph_inputs"].items()}
        self.levels = spec["alpha_levels"]
        self.multiple = int(spec["size_multiple"])
        self.min_size = int(spec["min_size"])
        self.max_pixels = int(spec["max_pixels"])
        self.linear = spec["representation"] == "statistics"
        self.styles = {}
        for name, rel in spec["styles"].items():
            with np.load(os.path.join(here, rel), allow_pickle=False) as data:
                self.styles[name] = {k: data[k].astype(np.float32) for k in data.files if k != "__meta__"}
        self.cpu = None
        if hasattr(pb_utils, "PreferredMemory"):
            self.cpu = pb_utils.PreferredMemory(pb_utils.TRITONSERVER_MEMORY_CPU, 0)

    # -- graphs ------------------------------------------------------------------------
    def _run(self, graph, feeds, outputs):
        dtypes = self.dtypes[graph]
        tensors = [pb_utils.Tensor(n, np.ascontiguousarray(v, dtype=dtypes.get(n, v.dtype))) for n, v in feeds.items()]
        kwargs = {"preferred_memory": self.cpu} if self.cpu is not None else {}
        request = pb_utils.InferenceRequest(model_name=self.models[graph], requested_output_names=list(outputs),
                                            inputs=tensors, **kwargs)
        response = request.exec()
        if response.has_error():
            raise RuntimeError(f"{self.models[graph]}: {response.error().message()}")
        return {o: pb_utils.get_output_tensor_by_name(response, o).as_numpy() for o in outputs}

    def _encode(self, image, outputs):
        feeds = {n: image.transpose(2, 0, 1)[None] for n in self.spec["encoder_inputs"]}
        return self._run("encoder", feeds, outputs)

    def _style_code(self, image):
        h, w = image.shape[:2]
        if min(h, w) < self.min_size:
            image = pad_to_multiple(image, max(self.min_size, self.multiple))
        outs = sorted(set(self.spec["code_inputs"].values()))
        return {k: v.astype(np.float32) for k, v in self._encode(image, outs).items()}

    # -- requests ----------------------------------------------------------------------
    def _image(self, request, name, required):
        tensor = pb_utils.get_input_tensor_by_name(request, name)
        if tensor is None:
            if required:
                raise RequestError(f"input '{name}' is missing")
            return None
        image = tensor.as_numpy()
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise RequestError(f"'{name}' must be UINT8 [H, W, 3], got {image.dtype} {list(image.shape)}")
        h, w = image.shape[:2]
        if h < 1 or w < 1:
            raise RequestError(f"'{name}' is empty ({w}x{h})")
        if h * w > self.max_pixels:
            raise RequestError(f"'{name}' is {w}x{h} = {h * w} pixels, over this server's limit of "
                               f"{self.max_pixels} (max_pixels in stylize.json)")
        return image.astype(np.float32) / np.float32(255.0)

    def _floats(self, request, name):
        tensor = pb_utils.get_input_tensor_by_name(request, name)
        if tensor is None:
            return None
        values = np.asarray(tensor.as_numpy(), dtype=np.float32).reshape(-1)
        if not np.isfinite(values).all():
            raise RequestError(f"'{name}' holds NaN or Inf: {values.tolist()}")
        return values

    def _alpha(self, request):
        values = self._floats(request, "alpha")
        if values is None:
            values = np.ones(1, np.float32)
        if values.size == 1:
            values = np.repeat(values, len(self.levels))
        if values.size != len(self.levels):
            raise RequestError(f"'alpha' takes {_count(len(self.levels))} ({', '.join(self.levels)}), "
                               f"got {values.size}")
        if ((values < 0) | (values > 1)).any():
            raise RequestError(f"'alpha' values must be in [0, 1], got {values.tolist()}")
        return values.astype(np.float32)

    def _codes(self, request):
        codes = []
        names = pb_utils.get_input_tensor_by_name(request, "style_name")
        if names is not None:
            for raw in np.asarray(names.as_numpy(), dtype=object).reshape(-1):
                name = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
                if name not in self.styles:
                    known = ", ".join(sorted(self.styles)) or "none: write the repository with --style"
                    raise RequestError(f"no style named '{name}' on this server (named styles: {known})")
                codes.append(self.styles[name])
        style = self._image(request, "style", required=False)
        if style is not None:
            codes.append(self._style_code(style))
        if not codes:
            raise RequestError("no style: send a style image ('style') or a named style ('style_name')")
        weights = self._floats(request, "weights")
        if weights is None:
            weights = [1.0 / len(codes)] * len(codes) if len(codes) > 1 else [1.0]
        else:
            weights = [float(x) for x in weights]
            if len(weights) != len(codes):
                raise RequestError(f"{len(codes)} styles but {len(weights)} interpolation weights")
            if any(x < 0 for x in weights) or sum(weights) <= 0:
                raise RequestError(f"interpolation weights must be >= 0 with a positive sum, got {weights}")
            weights = [x / sum(weights) for x in weights]
        return codes, weights

    def _stylize(self, request):
        content = self._image(request, "content", required=True)
        alpha = self._alpha(request)
        codes, weights = self._codes(request)
        h, w = content.shape[:2]
        enc = self._encode(pad_to_multiple(content, self.multiple, self.min_size),
                           sorted(set(self.spec["content_inputs"].values())))
        transform_outputs = sorted(set(self.spec["decoder_inputs"].values()))

        def transform(code):
            feeds = {n: enc[o] for n, o in self.spec["content_inputs"].items()}
            feeds.update({n: code[o] for n, o in self.spec["code_inputs"].items()})
            feeds.update({n: alpha for n in self.spec["alpha_inputs"]})
            return self._run("transform", feeds, transform_outputs)

        if len(codes) == 1:
            t = transform(codes[0])
        elif self.linear:
            t = transform({k: sum(np.float32(wt) * c[k] for wt, c in zip(weights, codes)).astype(np.float32)
                           for k in codes[0]})
        else:
            parts = [transform(c) for c in codes]
            t = {k: sum(np.float32(wt) * p[k] for wt, p in zip(weights, parts)) for k in parts[0]}
        result = self.spec["result"]
        dec = self._run("decoder", {n: t[o] for n, o in self.spec["decoder_inputs"].items()}, [result])
        image = np.clip(dec[result], 0.0, 1.0).transpose(0, 2, 3, 1)[0][:h, :w].astype(np.float32)
        if not np.isfinite(image).all():
            raise RuntimeError("the decoder produced NaN or Inf")
        return pb_utils.InferenceResponse([pb_utils.Tensor("stylized", np.ascontiguousarray(to_uint8(image)))])

    def execute(self, requests):
        responses = []
        for request in requests:
            try:
                responses.append(self._stylize(request))
            except RequestError as err:
                responses.append(pb_utils.InferenceResponse(error=_error(str(err), "INVALID_ARG")))
            except Exception as err:  # a graph model's failure: answer this request, keep serving
                responses.append(pb_utils.InferenceResponse(
                    error=_error(f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}", "INTERNAL")))
        return responses


def _error(message, code):
    code = getattr(pb_utils.TritonError, code, None)
    return pb_utils.TritonError(message, code) if code is not None else pb_utils.TritonError(message)


def _count(levels):
    return "1 value" if levels == 1 else f"1 or {levels} values"
