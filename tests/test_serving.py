"""Serving: a Triton model repository from a real AdaIN export, served by a real tritonserver.

The server is the CPU one in the nvidia-pytriton wheel (python backend: each graph in ONNX
Runtime inside a python-backend model) or a ``tritonserver`` on PATH, bound to 127.0.0.1 on free
ports and stopped by its PID. Its python-backend stub needs a Python environment with numpy<2
(``STYLERT_TRITON_PYTHON_ENV``; .ci/run makes one). Without a server these tests skip, unless
STYLERT_REQUIRE_SERVING=1 (set by .ci/run), where they fail.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from conftest import psnr

pytestmark = pytest.mark.serving

MIN_PSNR = 60.0
ENV = os.environ.get("STYLERT_TRITON_PYTHON_ENV") or None


def _require(condition_error):
    if os.environ.get("STYLERT_REQUIRE_SERVING"):
        pytest.fail(f"{condition_error} (STYLERT_REQUIRE_SERVING is set)")
    pytest.skip(condition_error)


@pytest.fixture(scope="module")
def serving_ready():
    """tritonclient, a tritonserver and a Python environment its python-backend stub can use."""
    from stylert.errors import StylertError

    try:
        import tritonclient.http  # noqa: F401
        from stylert.serving.server import check_python_env, find_tritonserver

        binary = find_tritonserver()
        if binary.needs_stub_env:
            check_python_env(ENV)
    except (ImportError, StylertError) as err:
        _require(f"cannot serve here: {err}")
    return binary


def _u8(image):
    from stylert.core.images import to_uint8

    return to_uint8(image)


def _image(shared_images, name, size, kind="content"):
    from stylert.core.images import load_image

    return _u8(load_image(shared_images / kind / name, size=size))


def _psnr(a, b):
    assert a.shape == b.shape and a.dtype == np.uint8 == b.dtype
    return psnr(a.astype(np.float32) / 255, b.astype(np.float32) / 255)


def _start(repo, **kwargs):
    from stylert.serving.server import TritonServer, free_port

    server = TritonServer(repo, python_env=ENV, http_port=free_port(), grpc_port=free_port(),
                          metrics_port=free_port(), **kwargs)
    return server.start(timeout=120)


def _stub_pids(server_pid):
    from stylert.serving.server import _children

    return [p for p in _children(server_pid) if "triton_python_backend_stub" in " ".join(_cmdline(p))]


def _cmdline(pid):
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return []


def _assert_clean(pids, shm):
    """No process of ``pids`` alive (zombies aside) and no shared-memory region of ``shm`` left."""
    deadline = time.monotonic() + 15
    alive = pids
    while time.monotonic() < deadline:
        alive = [p for p in pids if Path(f"/proc/{p}").exists()
                 and Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"]
        if not alive:
            break
        time.sleep(0.2)
    assert not alive, f"stub processes left: {alive}"
    left = [n for n in shm if Path("/dev/shm", n).exists()]
    assert not left, f"shared-memory regions left: {left}"


@pytest.fixture(scope="module")
def style_path(shared_images):
    return shared_images / "style" / "mondrian.jpg"


@pytest.fixture(scope="module")
def adain_repo(serving_ready, adain_export, style_path, tmp_path_factory):
    from stylert.serving.repository import RepositoryOptions, write_repository

    out = tmp_path_factory.mktemp("triton") / "repo"
    opts = RepositoryOptions(backend="python", styles=[("mondrian", style_path)], style_size=256,
                             max_pixels=300 * 300)
    return write_repository(adain_export, out, opts)


@pytest.fixture(scope="module")
def server(adain_repo):
    server = _start(adain_repo)
    yield server
    stubs = _stub_pids(server.pid)
    assert server.stop() == 0
    _assert_clean(stubs, server._shm)


@pytest.fixture(scope="module")
def pipeline(adain_export):
    from stylert.runtime.pipeline import Pipeline

    with Pipeline.open(adain_export, "onnxruntime", "cpu") as p:
        yield p


def _runtime(pipeline, content_u8, style_u8=None, code=None, alpha=1.0, weights=None, codes=None):
    """What `stylert stylize --engine` computes on the same uint8 inputs."""
    x = content_u8.astype(np.float32) / np.float32(255)
    if codes is None:
        codes = [code if code is not None else pipeline.encode_style(style_u8.astype(np.float32) / np.float32(255))]
    return _u8(pipeline.stylize(x, codes, alpha=alpha, weights=weights))


def _raw_infer(server, inputs, model="stylize"):
    """tritonclient directly: [(name, array, datatype)] -> stylized, or the server's exception."""
    import tritonclient.http as http

    client = http.InferenceServerClient(server.http_url.split("//", 1)[1])
    try:
        tensors = []
        for name, array, dtype in inputs:
            t = http.InferInput(name, list(array.shape), dtype)
            t.set_data_from_numpy(array)
            tensors.append(t)
        return client.infer(model, tensors).as_numpy("stylized")
    finally:
        client.close()


# --------------------------------------------------------------------------------------
# The repository (no server)
# --------------------------------------------------------------------------------------
def test_repository_configs_are_triton_model_configs(serving_ready, adain_repo, adain_export, tmp_path):
    from stylert.errors import StylertError
    from stylert.serving.repository import RepositoryOptions, validate_config, validate_repository, write_repository

    pb = pytest.importorskip("tritonclient.grpc.model_config_pb2")
    configs = validate_repository(adain_repo)
    assert sorted(configs) == ["adain_decoder", "adain_encoder", "adain_transform", "stylize"]
    enc, tr = configs["adain_encoder"], configs["adain_transform"]
    assert enc.backend == "python" and enc.max_batch_size == 8 and enc.HasField("dynamic_batching")
    assert [list(i.dims) for i in enc.input] == [[3, -1, -1]] and enc.input[0].data_type == pb.TYPE_FP32
    assert tr.max_batch_size == 0 and [list(i.dims) for i in tr.input if i.name == "alpha"] == [[1]]
    assert enc.instance_group[0].kind == pb.ModelInstanceGroup.KIND_CPU
    st = configs["stylize"]
    assert {i.name: (pb.DataType.Name(i.data_type), list(i.dims), i.optional) for i in st.input} == {
        "content": ("TYPE_UINT8", [-1, -1, 3], False), "style": ("TYPE_UINT8", [-1, -1, 3], True),
        "style_name": ("TYPE_STRING", [-1], True), "alpha": ("TYPE_FP32", [-1], True),
        "weights": ("TYPE_FP32", [-1], True)}
    assert (adain_repo / "stylize/1/styles/mondrian.npz").is_file() and (adain_repo / "README.md").is_file()

    # the GPU flavour: onnxruntime backend with the TensorRT accelerator, pinned GPUs
    ort_repo = write_repository(adain_export, tmp_path / "ort", RepositoryOptions(backend="onnxruntime", instances=2,
                                                                                 gpus=(0, 1)))
    enc = validate_repository(ort_repo)["adain_encoder"]
    assert enc.platform == "onnxruntime_onnx" and (ort_repo / "adain_encoder/1/model.onnx").is_file()
    assert list(enc.instance_group[0].gpus) == [0, 1] and enc.instance_group[0].count == 2
    assert enc.optimization.execution_accelerators.gpu_execution_accelerator[0].name == "tensorrt"
    assert not (ort_repo / "adain_encoder/1/model.py").exists()
    if serving_ready.needs_stub_env:  # the wheel's server: refused before it starts, with the fix
        from stylert.serving.server import TritonServer, free_port

        with pytest.raises(StylertError, match="python backend only.*adain_encoder \\(onnxruntime\\).*--backend python"):
            TritonServer(ort_repo, http_port=free_port(), grpc_port=free_port(), metrics_port=free_port()).start()

    # a broken config is refused, naming the file
    model_dir = ort_repo / "adain_decoder"
    text = (model_dir / "config.pbtxt").read_text()
    with pytest.raises(StylertError, match="config.pbtxt.*is not a Triton ModelConfig"):
        validate_config(text + "\nno_such_field: 1\n", model_dir)
    with pytest.raises(StylertError, match=r"dims \[0"):
        validate_config(text.replace("dims: 3", "dims: 0", 1), model_dir)
    with pytest.raises(StylertError, match="already exists"):
        write_repository(adain_export, ort_repo, RepositoryOptions(backend="onnxruntime"))


# --------------------------------------------------------------------------------------
# Served images equal the runtime's
# --------------------------------------------------------------------------------------
def test_served_image_equals_runtime_http_and_grpc(server, pipeline, shared_images, style_path):
    from stylert.serving.client import StylizeClient

    content = _image(shared_images, "cornell.jpg", 150)  # 150 x 200: padded to the size multiple and back
    style = _image(shared_images, "mondrian.jpg", 128, "style")
    expected = _runtime(pipeline, content, style)
    for url in (server.http_url, server.grpc_url):
        with StylizeClient(url) as client:
            out = client.stylize(content, style=style, alpha=0.7)
        assert _psnr(out, _runtime(pipeline, content, style, alpha=0.7)) >= MIN_PSNR, url
    with StylizeClient(server.http_url) as client:
        assert _psnr(client.stylize(content, style=style), expected) >= MIN_PSNR


def test_named_style_and_interpolation(server, pipeline, shared_images, style_path):
    from stylert.core.images import load_image
    from stylert.serving.client import StylizeClient

    content = _image(shared_images, "sailboat.jpg", 96)
    other = _image(shared_images, "la_muse.jpg", 96, "style")
    named = pipeline.encode_style(load_image(style_path, size=256))  # as `stylert triton --style-size 256` did
    with StylizeClient(server.http_url) as client:
        out = client.stylize(content, style_name="mondrian")
        assert _psnr(out, _runtime(pipeline, content, code=named)) >= MIN_PSNR
        mixed = client.stylize(content, style_name="mondrian", style=other, weights=[1, 3])
    other_code = pipeline.encode_style(other.astype(np.float32) / np.float32(255))
    expected = _runtime(pipeline, content, codes=[named, other_code], weights=[1, 3])
    assert _psnr(mixed, expected) >= MIN_PSNR
    assert _psnr(mixed, out) < 40  # the interpolation changed the image


def test_concurrent_requests_of_different_sizes(server, pipeline, shared_images):
    from stylert.serving.client import StylizeClient

    style = _image(shared_images, "la_muse.jpg", 96, "style")
    names = ["chicago.jpg", "flowers.jpg", "golden_gate.jpg", "modern.jpg", "cornell.jpg", "sailboat.jpg"]
    contents = [_image(shared_images, n, s) for n, s in zip(names, (64, 72, 80, 88, 64, 100))]
    assert len({c.shape for c in contents}) >= 5

    def one(content):
        with StylizeClient(server.grpc_url) as client:
            return client.stylize(content, style=style)

    with ThreadPoolExecutor(6) as pool:
        outs = list(pool.map(one, contents))
    for content, out in zip(contents, outs):
        assert out.shape == content.shape
        assert _psnr(out, _runtime(pipeline, content, style)) >= MIN_PSNR


def test_malformed_requests_get_the_cause_and_the_server_keeps_serving(server, shared_images):
    from stylert.errors import StylertError
    from stylert.serving.client import StylizeClient
    from tritonclient.utils import InferenceServerException

    content = _image(shared_images, "modern.jpg", 64)
    style = _image(shared_images, "mondrian.jpg", 64, "style")
    cases = [
        ([("content", content.astype(np.float32), "FP32"), ("style", style, "UINT8")], "(?i)data ?type|FP32|UINT8"),
        ([("content", content[..., 0], "UINT8"), ("style", style, "UINT8")], "(?i)shape|dims|rank"),
        ([("content", np.zeros((32, 32, 4), np.uint8), "UINT8"), ("style", style, "UINT8")], r"(?i)shape|dims|\[32,32,4\]"),
        ([("content", content, "UINT8"), ("style_name", np.array([b"nope"], dtype=object), "BYTES")],
         "no style named 'nope'.*mondrian"),
        ([("content", np.zeros((301, 300, 3), np.uint8), "UINT8"), ("style", style, "UINT8")],
         "301 = 90300 pixels, over this server's limit of 90000"),
        ([("content", content, "UINT8")], "no style"),
        ([("content", content, "UINT8"), ("style", style, "UINT8"), ("alpha", np.array([1.5], np.float32), "FP32")],
         r"alpha.*\[0, 1\]"),
        ([("content", content, "UINT8"), ("style", style, "UINT8"), ("alpha", np.ones(2, np.float32), "FP32")],
         "takes 1 value"),
    ]
    for inputs, pattern in cases:
        with pytest.raises(InferenceServerException, match=pattern):
            _raw_infer(server, inputs)
        ok = _raw_infer(server, [("content", content, "UINT8"), ("style", style, "UINT8")])
        assert ok.shape == content.shape and ok.dtype == np.uint8
    # the client turns a refusal into a one-line error with the server's cause
    with StylizeClient(server.http_url) as client, pytest.raises(StylertError, match="refused the request: .*nope"):
        client.stylize(content, style_name="nope")


def test_client_errors_without_server_or_model(server, adain_repo):
    from stylert.errors import StylertError
    from stylert.serving.client import StylizeClient
    from stylert.serving.server import free_port

    with pytest.raises(StylertError, match=r"no Triton server answers at http://127\.0\.0\.1:\d+.*stylert serve"):
        StylizeClient(f"http://127.0.0.1:{free_port()}")
    with pytest.raises(StylertError, match="has no ready model 'nope'"):
        StylizeClient(server.http_url, model="nope")
    with pytest.raises(StylertError, match="is not a server URL"):
        StylizeClient("http://nohost")


# --------------------------------------------------------------------------------------
# A multi-level export: alpha per level
# --------------------------------------------------------------------------------------
def test_alpha_per_level_multilevel(serving_ready, exports, tmp_path):
    from stylert.runtime.pipeline import Pipeline
    from stylert.serving.client import StylizeClient
    from stylert.serving.repository import RepositoryOptions, write_repository

    _, export_dir = exports("adain-multilevel")
    repo = write_repository(export_dir, tmp_path / "repo", RepositoryOptions(backend="python", max_batch_size=4))
    rng = np.random.default_rng(0)
    content = rng.integers(0, 256, (40, 56, 3), dtype=np.uint8)
    style = rng.integers(0, 256, (48, 48, 3), dtype=np.uint8)
    server = _start(repo)
    try:
        with Pipeline.open(export_dir, "onnxruntime", "cpu") as p, StylizeClient(server.grpc_url) as client:
            outs = {}
            for alpha in ([0.2, 0.6, 1.0], [1.0, 0.3, 0.0], 0.5):
                outs[str(alpha)] = out = client.stylize(content, style=style, alpha=alpha)
                assert _psnr(out, _runtime(p, content, style, alpha=alpha)) >= MIN_PSNR, alpha
            assert _psnr(outs["[0.2, 0.6, 1.0]"], outs["[1.0, 0.3, 0.0]"]) < 50
            with pytest.raises(Exception, match=r"takes 1 or 3 values \(relu2_1, relu3_1, relu4_1\), got 2"):
                client.stylize(content, style=style, alpha=[0.5, 0.5])
    finally:
        assert server.stop() == 0


# --------------------------------------------------------------------------------------
# The python flavour with OpenVINO inside the graph models (`stylert triton --runtime openvino`)
# --------------------------------------------------------------------------------------
def test_openvino_python_flavour_serves_the_runtimes_image(serving_ready, adain_export, shared_images, tmp_path):
    """The served image equals the runtime's on the openvino backend at the same precision (the public
    AdaIN weights; bf16 where the CPU has it), and stays within the bf16 floor of the float32 image."""
    pytest.importorskip("openvino")
    from stylert.core.checks import MIN_PSNR_DB
    from stylert.runtime.backends.openvino import resolve_precision
    from stylert.runtime.pipeline import Pipeline
    from stylert.serving.client import StylizeClient
    from stylert.serving.repository import RepositoryOptions, write_repository

    precision = resolve_precision("auto")
    repo = write_repository(adain_export, tmp_path / "repo", RepositoryOptions(
        backend="python", runtime="openvino", precision=precision, max_batch_size=4))
    assert 'key: "runtime"' in (repo / "adain_encoder" / "config.pbtxt").read_text()
    content = _image(shared_images, "cornell.jpg", 150)
    style = _image(shared_images, "mondrian.jpg", 128, "style")
    server = _start(repo)
    try:
        with StylizeClient(server.http_url) as client:
            served = client.stylize(content, style=style, alpha=0.8)
    finally:
        assert server.stop() == 0
    with Pipeline.open(adain_export, "openvino", "cpu", precision=precision) as p:
        same = _runtime(p, content, style, alpha=0.8)
    with Pipeline.open(adain_export, "onnxruntime", "cpu") as p:
        fp32 = _runtime(p, content, style, alpha=0.8)
    got_same, got_fp32 = _psnr(served, same), _psnr(served, fp32)
    print(f"served (openvino {precision}) vs runtime openvino {precision}: {got_same:.1f} dB; "
          f"vs runtime float32: {got_fp32:.1f} dB")
    assert got_same >= (MIN_PSNR if precision == "f32" else 45.0)  # bf16: thread count changes the sums' order
    assert got_fp32 >= (MIN_PSNR if precision == "f32" else MIN_PSNR_DB["bf16"])


# --------------------------------------------------------------------------------------
# The commands: stylert triton, serve (SIGTERM), stylize --server, a server killed mid-request
# --------------------------------------------------------------------------------------
def _cli(*args, **kwargs):
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2]) + os.pathsep
           + os.environ.get("PYTHONPATH", "")}
    return subprocess.Popen([sys.executable, "-m", "stylert", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, **kwargs)


def test_cli_triton_serve_stylize_and_sigterm(serving_ready, adain_export, pipeline, shared_images, tmp_path):
    from stylert.serving.server import free_port

    repo = tmp_path / "repo"
    done = _cli("triton", adain_export, "-o", repo, "--backend", "python")
    out, err = done.communicate(timeout=120)
    assert done.returncode == 0, err
    assert f"wrote {repo}" in out
    ports = [free_port() for _ in range(3)]
    serve = _cli("serve", repo, "--http-port", ports[0], "--grpc-port", ports[1], "--metrics-port", ports[2],
                 *(["--python-env", ENV] if ENV else []))
    try:
        lines = []
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not any(ln.startswith("  log") for ln in lines):
            line = serve.stdout.readline()
            if not line:
                break
            lines.append(line)
        text = "".join(lines)
        assert f"HTTP     http://127.0.0.1:{ports[0]}" in text and "stylize (READY)" in text, text + serve.stderr.read()
        server_pid = int(text.split(", pid ")[1].split()[0])
        stubs = _stub_pids(server_pid)
        shm = {a for p in stubs for a in _cmdline(p) if a.startswith("triton_python_backend_shm_region_")}
        assert len(stubs) == 4 and len(shm) == 4

        content, style = shared_images / "content" / "flowers.jpg", shared_images / "style" / "sketch.png"
        target = tmp_path / "served.png"
        client = _cli("stylize", "--server", f"grpc://127.0.0.1:{ports[1]}", "-c", content, "-s", style,
                      "-o", target, "--content-size", 96, "--style-size", 96)
        _, err = client.communicate(timeout=120)
        assert client.returncode == 0, err
        from stylert.core.images import load_image

        c = _image(shared_images, "flowers.jpg", 96)
        s = _u8(load_image(style, size=96))
        assert _psnr(_u8(load_image(target)), _runtime(pipeline, c, s)) >= MIN_PSNR
    finally:
        serve.send_signal(signal.SIGTERM)
        _, err = serve.communicate(timeout=60)
    assert serve.returncode == 0, err
    assert "tritonserver stopped (exit code 0)" in err
    _assert_clean([server_pid, *stubs], shm)


def _pending(server, model):
    """Triton's gauge of requests waiting for an instance of ``model`` (metrics endpoint)."""
    import urllib.request

    try:
        with urllib.request.urlopen(server.metrics_url, timeout=5) as r:
            text = r.read().decode()
    except OSError:
        return 0
    key = f'nv_inference_pending_request_count{{model="{model}",version="1"}} '
    return sum(int(float(line[len(key):])) for line in text.splitlines() if line.startswith(key))


def test_server_killed_mid_request(serving_ready, adain_repo, shared_images, tmp_path):
    """SIGKILL to tritonserver while requests run: the client says so in one line, no output is written,
    and stop() leaves no stub process and no shared-memory region behind."""
    import json
    import shutil

    from stylert.core.images import save_image
    from stylert.errors import StylertError
    from stylert.serving.client import StylizeClient

    big_repo = tmp_path / "repo"  # the same models with a larger size limit, so that requests take seconds
    shutil.copytree(adain_repo, big_repo)
    spec = json.loads((big_repo / "stylize/1/stylize.json").read_text())
    spec["max_pixels"] = 4096 * 4096
    (big_repo / "stylize/1/stylize.json").write_text(json.dumps(spec))
    doomed = _start(big_repo)
    stubs = _stub_pids(doomed.pid)
    content = np.tile(_image(shared_images, "chicago.jpg", 512), (2, 2, 1))  # ~1024 x 1300: seconds on CPU
    style = _image(shared_images, "mondrian.jpg", 64, "style")
    content_file = tmp_path / "big.png"
    save_image(content, content_file)
    target = tmp_path / "never.png"
    errors = []

    def in_process():  # keeps the one stylize instance busy, a bounded number of requests
        try:
            with StylizeClient(doomed.http_url) as client:
                for _ in range(30):
                    client.stylize(content, style=style)
        except StylertError as err:
            errors.append(str(err))

    thread = threading.Thread(target=in_process)
    thread.start()
    cli = _cli("stylize", "--server", doomed.grpc_url, "-c", content_file, "-s", shared_images / "style/mondrian.jpg",
               "-o", target, "--content-size", 0, "--style-size", 64)
    # kill once the CLI's request waits behind a running one: both are in flight
    deadline = time.monotonic() + 120
    queued = False
    while not queued and time.monotonic() < deadline and cli.poll() is None:
        queued = _pending(doomed, "stylize") >= 1
        time.sleep(0.1)
    assert queued and thread.is_alive() and cli.poll() is None, "the requests finished before the kill"
    os.kill(doomed.pid, signal.SIGKILL)
    thread.join(60)
    _, err = cli.communicate(timeout=60)
    try:
        assert errors and "stopped answering during a request" in errors[0], errors
        assert cli.returncode == 1 and "stopped answering during a request" in err, err
        assert err.strip().splitlines()[-1].startswith("Error: ")
        assert not target.exists() and not list(tmp_path.glob(".never.png*"))
    finally:
        doomed.stop()
    _assert_clean(stubs, doomed._shm)
