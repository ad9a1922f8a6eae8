"""Start, watch and stop a local ``tritonserver`` on a model repository.

Where the binary comes from: ``--tritonserver PATH``, else ``tritonserver`` on PATH (an NGC
container: its own backends), else the one inside the ``nvidia-pytriton`` wheel (``pip install
stylert[serve]``), which carries the ``python`` backend only.

The wheel's python-backend stub embeds CPython in *isolated* mode, so it ignores PYTHONPATH and
PYTHONHOME: its ``sys.prefix`` is found from the first ``python3`` on PATH (a virtual
environment's ``pyvenv.cfg`` is honoured) and its ``libpython3.X.so`` from LD_LIBRARY_PATH. It was
built against NumPy 1.x: with NumPy 2 it misreads every tensor (inputs read with stride 0,
outputs sent empty). So the stub runs in a *Python environment* (``python_env``: the running
interpreter's by default) that must have ``numpy<2`` and ``onnxruntime``; :func:`check_python_env`
says so before the server starts.

The server gets its own process group; :meth:`TritonServer.stop` sends SIGTERM (Triton unloads
the models, the stubs exit and remove their shared-memory regions), waits, then kills what is
left of that group by its id and removes the shared-memory regions its stubs had opened.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from .errors import ServingError

DEFAULT_ADDRESS = "127.0.0.1"
DEFAULT_PORTS = {"http": 8000, "grpc": 8001, "metrics": 8002}
SHM_PREFIX = "triton_python_backend_shm_region_"
_STUB = "triton_python_backend_stub"
_ENV_FIX = ("python -m venv --system-site-packages ENV && ENV/bin/pip install onnxruntime 'numpy<2'; "
            "then pass --python-env ENV")


@dataclass(frozen=True)
class TritonBinary:
    """executable; ``wheel_root``: the nvidia-pytriton ``tritonserver`` folder (None: a full install)."""

    executable: Path
    wheel_root: Path | None
    source: str

    @property
    def needs_stub_env(self) -> bool:
        return self.wheel_root is not None


def find_tritonserver(explicit: str | os.PathLike | None = None) -> TritonBinary:
    """The ``tritonserver`` to run: ``explicit``, else PATH, else the nvidia-pytriton wheel."""
    if explicit:
        path = Path(explicit)
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise ServingError("is not an executable tritonserver", path=path,
                               fix="pass the tritonserver binary, or drop --tritonserver to use PATH or nvidia-pytriton")
        wheel = path.parent.parent if (path.parent.parent / "python_backend_stubs").is_dir() else None
        return TritonBinary(path, wheel, str(path))
    on_path = shutil.which("tritonserver")
    if on_path:
        return TritonBinary(Path(on_path), None, f"{on_path} (PATH)")
    spec = importlib.util.find_spec("pytriton")
    if spec is not None and spec.origin:
        root = Path(spec.origin).parent / "tritonserver"
        exe = root / "bin" / "tritonserver"
        if exe.is_file():
            return TritonBinary(exe, root, f"nvidia-pytriton wheel ({exe})")
    raise ServingError("no tritonserver found (not on PATH, no nvidia-pytriton wheel installed)",
                       fix="pip install --no-deps nvidia-pytriton==0.7.0 (CPU, python backend), or run in the NGC "
                           "tritonserver container")


@dataclass(frozen=True)
class PythonEnv:
    """The Python environment the python-backend stub runs in."""

    prefix: Path
    python: Path
    version: str        # "3.11"
    numpy: str
    libdir: Path        # holds libpython3.X.so.1.0


def check_python_env(prefix: str | os.PathLike | None = None) -> PythonEnv:
    """Check that ``prefix`` (a virtual environment or Python install; default: this interpreter's)
    can host the wheel's python-backend stub: bin/python3, a shared libpython, onnxruntime, numpy<2."""
    prefix = Path(prefix) if prefix else Path(sys.prefix)
    python = prefix / "bin" / "python3"
    if not python.exists():
        raise ServingError("has no bin/python3: not a Python environment", path=prefix,
                           fix="pass a virtual environment: " + _ENV_FIX)
    probe = ("import json, sys, sysconfig\n"
             "out = {'version': '%d.%d' % sys.version_info[:2], 'libdir': sysconfig.get_config_var('LIBDIR') or '',\n"
             "       'soname': sysconfig.get_config_var('INSTSONAME') or '', 'missing': []}\n"
             "for m in ('numpy', 'onnxruntime'):\n"
             "    try:\n"
             "        out[m] = __import__(m).__version__\n"
             "    except Exception as err:\n"
             "        out['missing'].append('%s (%s)' % (m, type(err).__name__))\n"
             "print(json.dumps(out))\n")
    try:
        done = subprocess.run([str(python), "-c", probe], capture_output=True, text=True, timeout=120)
        info = json.loads(done.stdout.strip().splitlines()[-1])
    except (OSError, subprocess.TimeoutExpired, ValueError, IndexError):
        raise ServingError("its python3 does not run", path=python, fix="pass a working environment: " + _ENV_FIX) \
            from None
    if info["missing"]:
        raise ServingError(f"lacks {', '.join(info['missing'])}, which the python-backend models import", path=prefix,
                           fix=f"{python} -m pip install onnxruntime 'numpy<2', or pass --python-env: {_ENV_FIX}")
    if int(info["numpy"].split(".")[0]) >= 2:
        raise ServingError(f"has NumPy {info['numpy']}; the python backend stub of nvidia-pytriton 0.7.0 was built "
                           "against NumPy 1.x and misreads every tensor under NumPy 2", path=prefix, fix=_ENV_FIX)
    libdir = Path(info["libdir"])
    if not (libdir / info["soname"]).is_file() and not (libdir / f"libpython{info['version']}.so.1.0").is_file():
        raise ServingError(f"Python {info['version']} here has no shared libpython{info['version']}.so, which the "
                           "python backend stub links to", path=prefix,
                           fix="use a Python built with --enable-shared (distribution packages and pyenv with "
                               "PYTHON_CONFIGURE_OPTS=--enable-shared are)")
    return PythonEnv(prefix, python, info["version"], info["numpy"], libdir)


def free_port(address: str = DEFAULT_ADDRESS) -> int:
    """A TCP port free on ``address`` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((address, 0))
        return s.getsockname()[1]


def _port_in_use(address: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((address, port))
        except OSError:
            return True
    return False


def _children(pid: int) -> list[int]:
    """Processes whose parent is ``pid`` (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _cmdline(pid: int) -> list[str]:
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return []


class TritonServer:
    """A ``tritonserver`` on ``repository``, bound to ``address``. Use as a context manager, or
    ``start()`` / ``stop()``. ``python_env``: the environment for the wheel's python-backend stub."""

    def __init__(self, repository: str | os.PathLike, *, address: str = DEFAULT_ADDRESS,
                 http_port: int = DEFAULT_PORTS["http"], grpc_port: int = DEFAULT_PORTS["grpc"],
                 metrics_port: int = DEFAULT_PORTS["metrics"], python_env: str | os.PathLike | None = None,
                 executable: str | os.PathLike | None = None, log_file: str | os.PathLike | None = None,
                 extra_args: tuple[str, ...] = ()):
        self.repository = Path(repository).resolve()
        self.address = address
        self.ports = {"http": int(http_port), "grpc": int(grpc_port), "metrics": int(metrics_port)}
        self.python_env = python_env
        self.executable = executable
        self.extra_args = tuple(extra_args)
        self._log_file = Path(log_file) if log_file else None
        self.process: subprocess.Popen | None = None
        self.binary: TritonBinary | None = None
        self._run_dir: Path | None = None
        self._extra_dirs: list[Path] = []
        self._shm: set[str] = set()

    # -- facts ---------------------------------------------------------------------------
    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    @property
    def log_path(self) -> Path:
        """The server's log: ``log_file``, else ``<tmp>/stylert-triton-XXXX.log`` (kept after stop)."""
        return self._log_file or Path(f"{self._run_dir}.log")

    def _host(self) -> str:
        return "127.0.0.1" if self.address in ("0.0.0.0", "") else self.address

    @property
    def http_url(self) -> str:
        return f"http://{self._host()}:{self.ports['http']}"

    @property
    def grpc_url(self) -> str:
        return f"grpc://{self._host()}:{self.ports['grpc']}"

    @property
    def metrics_url(self) -> str:
        return f"http://{self._host()}:{self.ports['metrics']}/metrics"

    # -- lifecycle -----------------------------------------------------------------------
    def _served_path(self) -> Path:
        """The repository as the server is given it: a link without spaces (in the run folder) where the
        real path has whitespace, which the python backend's stub command line cannot carry (its
        arguments are split on spaces: the stub dies parsing them, ``stol``, and the server never
        gets ready)."""
        if not any(ch.isspace() for ch in str(self.repository)) or self._run_dir is None:
            return self.repository
        base = self._run_dir if not any(ch.isspace() for ch in str(self._run_dir)) else \
            Path(tempfile.mkdtemp(prefix="stylert-triton-", dir="/tmp"))
        link = base / "repository"
        if not link.is_symlink():
            link.symlink_to(self.repository, target_is_directory=True)
        if base != self._run_dir:
            self._extra_dirs.append(base)
        return link

    def command(self, backend_dir: Path | None) -> list[str]:
        cmd = [str(self.binary.executable), f"--model-repository={self._served_path()}",
               f"--http-address={self.address}", f"--http-port={self.ports['http']}",
               f"--grpc-address={self.address}", f"--grpc-port={self.ports['grpc']}",
               f"--metrics-address={self.address}", f"--metrics-port={self.ports['metrics']}",
               "--exit-timeout-secs=10", "--strict-readiness=true"]
        if backend_dir is not None:
            cmd.append(f"--backend-directory={backend_dir}")
        return cmd + list(self.extra_args)

    def start(self, timeout: float = 180.0) -> "TritonServer":
        if not (self.repository / "stylize" / "config.pbtxt").is_file() and not any(self.repository.glob("*/config.pbtxt")):
            raise ServingError("is not a Triton model repository (no */config.pbtxt)", path=self.repository,
                               fix="write one with `stylert triton EXPORT_DIR -o REPO`")
        by_port: dict[int, list[str]] = {}
        for kind, port in self.ports.items():
            by_port.setdefault(port, []).append(f"--{kind}-port")
        for port, options in by_port.items():
            if len(options) > 1:
                raise ServingError(f"{' and '.join(options)} are both {port}: each endpoint needs a port of its own",
                                   fix=f"give {options[1]} another port")
        _check_repository(self.repository)
        for kind, port in self.ports.items():
            if _port_in_use(self.address, port):
                raise ServingError(f"the {kind} port {port} on {self.address} is in use",
                                   fix=f"pass another --{kind}-port, or stop the server holding it")
        self.binary = find_tritonserver(self.executable)
        if self.binary.needs_stub_env:
            other = sorted({f"{d.parent.name} ({b})" for d, b in _backends(self.repository).items() if b != "python"})
            if other:
                raise ServingError(f"the nvidia-pytriton tritonserver has the python backend only; these models need "
                                   f"another: {', '.join(other)}", path=self.repository,
                                   fix="write the repository with `stylert triton --backend python`, or serve it in "
                                       "the NGC tritonserver container")
        env = dict(os.environ)
        self._run_dir = Path(tempfile.mkdtemp(prefix="stylert-triton-"))
        backend_dir = None
        if self.binary.needs_stub_env:
            py = check_python_env(self.python_env)
            stub = self.binary.wheel_root / "python_backend_stubs" / py.version / _STUB
            if not stub.is_file():
                have = sorted(p.name for p in (self.binary.wheel_root / "python_backend_stubs").iterdir())
                raise ServingError(f"nvidia-pytriton has python backend stubs for Python {', '.join(have)}, "
                                   f"not {py.version}", path=py.prefix, fix="pass --python-env with one of those")
            backend_dir = self._run_dir / "backends"
            (backend_dir / "python").mkdir(parents=True)
            for f in (self.binary.wheel_root / "backends" / "python").iterdir():
                if f.is_file():
                    (backend_dir / "python" / f.name).symlink_to(f)
            (backend_dir / "python" / _STUB).symlink_to(stub)
            env["PATH"] = f"{py.prefix / 'bin'}{os.pathsep}{env.get('PATH', '')}"
            env["LD_LIBRARY_PATH"] = os.pathsep.join(filter(None, [str(py.libdir), env.get("LD_LIBRARY_PATH")]))
            for var in ("PYTHONHOME", "PYTHONPATH"):
                env.pop(var, None)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        before = set(_shm_names())
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(self.command(backend_dir), stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, env=env, start_new_session=True)
        try:
            self._wait_ready(timeout)
        except BaseException:
            self.stop()
            raise
        self._note_shm()
        self._shm |= {n for n in _shm_names() if n not in before and n.startswith(SHM_PREFIX)}
        return self

    def _note_shm(self) -> None:
        """Remember the python backend's shared-memory regions of this server (and its stubs): the ones
        its processes map or name on their command lines; ``stop`` removes them, even after a failed start."""
        if self.process is None:
            return
        pids = [self.process.pid, *_children(self.process.pid)]
        for pid in pids:
            self._shm |= {a for a in _cmdline(pid) if a.startswith(SHM_PREFIX)}
            self._shm |= _mapped_shm(pid)

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            code = self.process.poll()
            if code is not None:
                raise ServingError(f"tritonserver exited with code {code} while loading the repository: "
                                   f"{self.last_error()}", path=self.repository, fix=f"see {self.log_path}")
            self._note_shm()
            if self.ready():
                return
            if time.monotonic() > deadline:
                raise ServingError(f"tritonserver was not ready after {timeout:.0f} s: {self.last_error()}",
                                   path=self.repository, fix=f"see {self.log_path}")
            time.sleep(0.25)

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.http_url}/v2/health/ready", timeout=2) as r:
                return r.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def models(self) -> list[dict]:
        """The repository index: [{name, version, state, reason}]."""
        req = urllib.request.Request(f"{self.http_url}/v2/repository/index", data=b"{}", method="POST")
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read())

    def last_error(self) -> str:
        """The last error line of the server log (or its last line)."""
        try:
            lines = [ln.strip() for ln in self.log_path.read_text(errors="replace").splitlines() if ln.strip()]
        except OSError:
            return "no log"
        errors = [ln for ln in lines if ln.startswith("E") or "error" in ln.lower()]
        text = (errors or lines or ["empty log"])[-1]
        return text if len(text) < 400 else text[:400] + "..."

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM, wait up to ``timeout``, then SIGKILL the server's process group; remove its
        leftover shared-memory regions and its run folder. Returns the exit code."""
        code = None
        if self.process is not None:
            pgid = self.process.pid  # start_new_session: the server leads its own group
            self._note_shm()
            if self.process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    self.process.send_signal(signal.SIGTERM)
                try:
                    self.process.wait(timeout)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(pgid, signal.SIGKILL)
                    self.process.wait(10)
            code = self.process.returncode
            deadline = time.monotonic() + 10
            while _group_alive(pgid) and time.monotonic() < deadline:  # stubs exit after their parent
                time.sleep(0.1)
            if _group_alive(pgid):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pgid, signal.SIGKILL)
            for name in self._shm:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(f"/dev/shm/{name}")
        if self._run_dir is not None:  # the backend links; the log stays (next to it, or where asked)
            shutil.rmtree(self._run_dir, ignore_errors=True)
        for folder in self._extra_dirs:
            shutil.rmtree(folder, ignore_errors=True)
        return code

    def __enter__(self) -> "TritonServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _check_repository(repository: Path) -> None:
    """Every model the repository's ``stylize`` model calls is in the repository, before the server starts:
    a missing graph model would otherwise load as "ready" and fail at the first request."""
    spec_path = repository / "stylize" / "1" / "stylize.json"
    if not spec_path.is_file():
        return
    try:
        spec = json.loads(spec_path.read_text(encoding="utf-8"))
        wanted = sorted(set(spec.get("models", {}).values())) if isinstance(spec.get("models"), dict) else []
    except (OSError, ValueError):
        raise ServingError("is not a readable stylize model spec", path=spec_path,
                           fix="write the repository again with `stylert triton EXPORT_DIR -o REPO --overwrite`") from None
    missing = [m for m in wanted if not (repository / m / "config.pbtxt").is_file()]
    if missing:
        raise ServingError(f"the stylize model calls {', '.join(missing)}, which the repository does not hold",
                           path=repository, fix="write the repository again with `stylert triton EXPORT_DIR -o REPO "
                                                "--overwrite`")


def _backends(repository: Path) -> dict[Path, str]:
    """config.pbtxt -> the backend it names (``platform`` mapped to its backend)."""
    import re

    platforms = {"onnxruntime_onnx": "onnxruntime", "tensorrt_plan": "tensorrt", "pytorch_libtorch": "pytorch",
                 "tensorflow_savedmodel": "tensorflow", "tensorflow_graphdef": "tensorflow"}
    found = {}
    for config in repository.glob("*/config.pbtxt"):
        text = config.read_text(encoding="utf-8", errors="replace")
        backend = re.search(r'^\s*backend\s*:\s*"([^"]+)"', text, re.M)
        platform = re.search(r'^\s*platform\s*:\s*"([^"]+)"', text, re.M)
        if backend:
            found[config] = backend.group(1)
        elif platform:
            found[config] = platforms.get(platform.group(1), platform.group(1))
        elif (config.parent / "1" / "model.py").is_file():
            found[config] = "python"
        else:
            found[config] = "unknown"
    return found


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # zombies count as gone: look for a live member
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid and fields[0] != "Z":
                return True
    return False


def _mapped_shm(pid: int) -> set[str]:
    """The python backend's shared-memory regions process ``pid`` maps (``/proc/PID/maps``)."""
    try:
        text = Path(f"/proc/{pid}/maps").read_text(errors="replace")
    except OSError:
        return set()
    found = set()
    for line in text.splitlines():
        path = line.rsplit(None, 1)[-1] if "/dev/shm/" in line else ""
        name = path.removeprefix("/dev/shm/")
        if name.startswith(SHM_PREFIX):
            found.add(name)
    return found


def _shm_names() -> list[str]:
    try:
        return os.listdir("/dev/shm")
    except OSError:
        return []
