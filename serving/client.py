"""A client of the ``stylize`` model of a repository written by ``stylert triton``.

    client = StylizeClient("http://127.0.0.1:8000")      # or grpc://127.0.0.1:8001, or host:port (HTTP)
    out = client.stylize(content_uint8, style=style_uint8, alpha=0.8)          # uint8 [H, W, 3]
    out = client.stylize(content_uint8, style_name=["starry"], alpha=[0.6, 0.8, 1.0])

``ServerStylizer`` is the same behind ``stylert.runtime.stylizer.Stylizer``, so that
``stylert stylize --server URL`` treats colour preservation and alpha as the local paths do.
Every failure is a one-line ``ServingError``: no server at the URL, no ``stylize`` model, the
server's refusal (with its cause), or the connection lost during a request.
"""

from __future__ import annotations

import numpy as np

from ..core.stylize import Stylizer
from ..errors import MissingDependencyError
from .errors import ServingError

MODEL = "stylize"
_START = "start one with `stylert serve REPO`, or check the URL"


def parse_url(url: str) -> tuple[str, str]:
    """``http://host:port``, ``grpc://host:port`` or ``host:port`` (HTTP) -> (protocol, "host:port")."""
    text = url.strip()
    protocol = "http"
    for scheme in ("http", "grpc"):
        if text.lower().startswith(scheme + "://"):
            protocol, text = scheme, text[len(scheme) + 3:]
    if text.lower().startswith("https://"):
        raise ServingError(f"{url}: https is not supported by this client", fix="use http:// or grpc://")
    text = text.rstrip("/")
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or "/" in text:
        raise ServingError(f"{url!r} is not a server URL", fix="use http://HOST:PORT or grpc://HOST:PORT")
    return protocol, text


def _modules(protocol: str):
    try:
        if protocol == "grpc":
            import tritonclient.grpc as client
        else:
            import tritonclient.http as client
        from tritonclient.utils import InferenceServerException
    except ImportError:
        raise MissingDependencyError("tritonclient", "pip install 'stylert[serve]'", "--server") from None
    return client, InferenceServerException


class StylizeClient:
    """The ``stylize`` model at ``url``; ``timeout``: seconds per request (network, not queueing)."""

    def __init__(self, url: str, *, model: str = MODEL, timeout: float = 600.0, check: bool = True):
        self.url = url
        self.protocol, self.address = parse_url(url)
        self.model = model
        self.timeout = timeout
        self._tc, self._error = _modules(self.protocol)
        kwargs = {"network_timeout": timeout, "connection_timeout": 10.0} if self.protocol == "http" else {}
        try:
            self._client = self._tc.InferenceServerClient(self.address, **kwargs)
        except Exception as err:
            raise ServingError(f"cannot reach {url}: {_first_line(err)}", fix=_START) from None
        if check:
            self.check()

    def check(self) -> None:
        """A live server with a ready ``stylize`` model, or a one-line error saying which is missing."""
        try:
            live = self._client.is_server_live()
        except Exception as err:
            raise ServingError(f"no Triton server answers at {self.url} ({_first_line(err)})", fix=_START) from None
        if not live:
            raise ServingError(f"the Triton server at {self.url} is not live", fix=_START)
        try:
            ready = self._client.is_model_ready(self.model)
        except Exception as err:
            raise ServingError(f"the server at {self.url} did not answer for model {self.model!r} "
                               f"({_first_line(err)})", fix=_START) from None
        if not ready:
            raise ServingError(f"the server at {self.url} has no ready model {self.model!r}",
                               fix="serve a repository written by `stylert triton EXPORT_DIR -o REPO`")

    def alpha_levels(self) -> tuple[str, ...]:
        """The export's alpha levels (e.g. relu2_1,relu3_1,relu4_1), from the stylize model's config."""
        try:
            config = self._client.get_model_config(self.model, **({"as_json": True} if self.protocol == "grpc" else {}))
        except Exception as err:
            raise ServingError(f"the server at {self.url} did not give the config of {self.model!r} "
                               f"({_first_line(err)})", fix=_START) from None
        config = config.get("config", config)
        text = config.get("parameters", {}).get("alpha_levels", {}).get("string_value", "")
        levels = tuple(t for t in text.split(",") if t and not t.isdigit())
        if not levels:
            raise ServingError(f"the {self.model!r} model at {self.url} does not name its alpha levels",
                               fix="rewrite the repository with this stylert: stylert triton EXPORT_DIR -o REPO")
        return levels

    def _input(self, name: str, array: np.ndarray, dtype: str):
        tensor = self._tc.InferInput(name, list(array.shape), dtype)
        tensor.set_data_from_numpy(array)
        return tensor

    def stylize(self, content: np.ndarray, *, style: np.ndarray | None = None,
                style_name: str | list[str] | None = None, alpha=None, weights=None) -> np.ndarray:
        """content uint8 [H, W, 3] (+ a style image and/or named styles) -> stylized uint8 [H, W, 3]."""
        inputs = [self._input("content", _uint8_image(content, "content"), "UINT8")]
        if style is not None:
            inputs.append(self._input("style", _uint8_image(style, "style"), "UINT8"))
        if style_name is not None:
            names = [style_name] if isinstance(style_name, str) else list(style_name)
            inputs.append(self._input("style_name", np.array([n.encode() for n in names], dtype=np.object_), "BYTES"))
        if alpha is not None:
            inputs.append(self._input("alpha", np.atleast_1d(np.asarray(alpha, dtype=np.float32)), "FP32"))
        if weights is not None:
            inputs.append(self._input("weights", np.atleast_1d(np.asarray(weights, dtype=np.float32)), "FP32"))
        outputs = [self._tc.InferRequestedOutput("stylized")]
        kwargs = {"client_timeout": self.timeout} if self.protocol == "grpc" else {}
        try:
            result = self._client.infer(self.model, inputs, outputs=outputs, **kwargs)
        except self._error as err:
            raise self._failed(err) from None
        except Exception as err:  # connection reset / refused mid-request (HTTP client raises socket errors)
            raise ServingError(f"the server at {self.url} stopped answering during a request "
                               f"({type(err).__name__}: {_first_line(err)})", fix=_START) from None
        out = result.as_numpy("stylized")
        if out is None or out.dtype != np.uint8 or out.shape != inputs_shape(content):
            raise ServingError(f"the server at {self.url} answered without a complete 'stylized' image",
                               fix="check the server log")
        return out

    def _failed(self, err) -> ServingError:
        message = _first_line(err)
        status = str(getattr(err, "status", lambda: "")() or "")
        lost = any(s in message.lower() for s in ("unavailable", "connection", "socket closed", "reset", "broken pipe",
                                                   "failed to connect", "eof"))
        if lost or status in ("StatusCode.UNAVAILABLE", "StatusCode.CANCELLED"):
            return ServingError(f"the server at {self.url} stopped answering during a request ({message})", fix=_START)
        return ServingError(f"the server at {self.url} refused the request: {message}",
                            fix="check the inputs against the stylize model's interface (repository README)")

    def close(self) -> None:
        self._client.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def inputs_shape(content: np.ndarray) -> tuple[int, ...]:
    return tuple(np.asarray(content).shape)


def _uint8_image(image: np.ndarray, name: str) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ServingError(f"{name} must be [H, W, 3], got shape {list(image.shape)}")
    if image.dtype != np.uint8:
        from ..core.images import to_uint8

        image = to_uint8(image)
    return np.ascontiguousarray(image)


def _first_line(err) -> str:
    message = err.message() if callable(getattr(err, "message", None)) else None
    text = str(message or err)
    return (text.strip().splitlines() or [type(err).__name__])[0]


class ServerStylizer(Stylizer):
    """``Stylizer`` over the ``stylize`` model: a style's "code" is its uint8 image, sent per request.

    Images in and out are float32 [H, W, 3] 0..1 like the local stylizers; they travel as uint8
    (``to_uint8``), which is exact for images read from 8-bit files."""

    def __init__(self, client: StylizeClient):
        super().__init__()
        self.client = client
        self.family = "served"
        self.alpha_levels = client.alpha_levels()

    def encode(self, style: np.ndarray) -> np.ndarray:
        return _uint8_image(style, "style")

    def apply(self, content, codes, options, temporal=None, decoder_hook=None):
        if decoder_hook is not None:
            raise ServingError("the stylize model runs whole on the server: its decoder's inputs cannot be blended",
                               fix="--temporal-blend-space image, or run locally with --engine DIR")
        if options.mask is not None:
            raise ServingError("masks are not served by the stylize model", fix="run the mask locally with --engine DIR")
        if len(codes) != 1:
            raise ServingError(f"the stylize model takes one style image per request, got {len(codes)}",
                               fix="interpolate styles locally with --engine DIR, or with named styles through the "
                                   "client API")
        out = self.client.stylize(_uint8_image(content, "content"), style=codes[0], alpha=options.alpha)
        return out.astype(np.float32) / np.float32(255.0)


def open_server_stylizer(url: str, say=lambda message: None) -> ServerStylizer:
    """``stylert stylize --server URL``: the checked client behind the Stylizer interface."""
    client = StylizeClient(url)
    say(f"server {url}: model {client.model} ready ({client.protocol})")
    return ServerStylizer(client)
