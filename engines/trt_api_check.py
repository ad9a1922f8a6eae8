"""A static check that every TensorRT name stylert uses exists in the TensorRT versions it claims.

    python -m stylert.engines.trt_api_check --setup .ci/.trt-api     # once: the bindings of each version
    python -m stylert.engines.trt_api_check --envs .ci/.trt-api      # the check; exit 1 lists what is missing

No GPU and no TensorRT libraries are needed. TensorRT's Python bindings install from the
package index on their own (``tensorrt-cu12-bindings`` 10.x, ``tensorrt-cu13-bindings`` 11.x,
a few MB each, without ``libnvinfer``); their compiled module links nine functions of
``libnvinfer``/``libnvonnxparser``/``libnvinfer_plugin`` (the ``create*_INTERNAL`` factories, the
plugin registry), and none of them is called when the module is imported. ``--setup`` installs
each claimed version into its own folder (``pip install --no-deps --target``) with stand-in
libraries of those names that define those functions (compiled with ``cc``; they return 0 and
are never called), so the real bindings import and are inspected: every class, enum member,
method and property, and each method's return type from its pybind11 signature
(``deserialize_cuda_engine(self, ...) -> tensorrt.ICudaEngine``). Each version is inspected in a
separate process (they all provide ``tensorrt_bindings``).

What is checked (``collect_uses``, an AST walk of every module of the package outside tests):

* every attribute chain on the ``tensorrt`` module (``trt = import_tensorrt()``, ``import
  tensorrt as trt``): ``trt.BuilderFlag.VERSION_COMPATIBLE`` needs ``BuilderFlag`` and its member;
* attributes of objects of known TensorRT types: results of constructors (``trt.Runtime(...)``)
  and of methods whose signature names a TensorRT return type, followed through assignments
  (also ``self.x``), and parameters annotated ``"tensorrt.IBuilderConfig"`` or, in modules that
  bind ``tensorrt``, names of ``PARAMETER_TYPES`` (``network``, ``config``, ``layer``, ``ctx``...);
* the keywords given to Polygraphy's TensorRT loaders, as the TensorRT names Polygraphy then
  uses (``POLYGRAPHY_KEYWORDS``, read from ``polygraphy/backend/trt/config.py`` and
  ``loader.py``: ``CreateConfig(fp16=...)`` sets ``BuilderFlag.FP16``), and that each loader and
  keyword exists in the installed Polygraphy.

A name used under ``hasattr(x, "name")``, ``getattr(x, "name", default)`` or inside ``try: ...
except AttributeError`` in the same function is optional (the code has a fallback). Names on
objects of unknown type are not checked (``--verbose`` lists the names that are). A name the check finds
missing in any claimed version is printed with its file and line, and the exit status is 1.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

#: The TensorRT versions stylert claims, each with the bindings wheel that stands for it: the first
#: and the last 10.x, and the current 11.x (the package index's ``tensorrt`` is 11.4).
CLAIMED = (
    ("10.0", "tensorrt-cu12-bindings==10.0.1"),
    ("10.16", "tensorrt-cu12-bindings==10.16.1.11"),
    ("11.4", "tensorrt-cu13-bindings==11.4.0.106"),
)
ENVS_ENV = "STYLERT_TRT_API_ENVS"
#: Unannotated parameters with these names hold these TensorRT types (the project's convention).
#: Applied in modules that bind the ``tensorrt`` module only, to parameters and to local names the
#: walk could not type otherwise (``ctx = self.contexts[graph][p]``).
PARAMETER_TYPES = {"network": "INetworkDefinition", "config": "IBuilderConfig", "builder": "Builder",
                   "layer": "ILayer", "cuda_engine": "ICudaEngine", "ctx": "IExecutionContext"}
#: A name used where the same function guards another with ``hasattr`` counts as guarded too when both
#: came in the same release (checked against every claimed version: where the guard exists, so does it).
IMPLIED_BY = {("IExecutionContext", "set_device_memory"): ("ICudaEngine", "get_device_memory_size_for_profile_v2")}
#: Polygraphy loader keyword -> the TensorRT names it makes Polygraphy use when given (not None/False).
POLYGRAPHY_KEYWORDS = {
    ("NetworkFromOnnxPath", "strongly_typed"): ("NetworkDefinitionCreationFlag.STRONGLY_TYPED",),
    ("NetworkFromOnnxPath", "explicit_batch"): ("NetworkDefinitionCreationFlag.EXPLICIT_BATCH",),
    ("CreateNetwork", "strongly_typed"): ("NetworkDefinitionCreationFlag.STRONGLY_TYPED",),
    ("CreateNetwork", "explicit_batch"): ("NetworkDefinitionCreationFlag.EXPLICIT_BATCH",),
    ("CreateConfig", "fp16"): ("BuilderFlag.FP16",),
    ("CreateConfig", "bf16"): ("BuilderFlag.BF16",),
    ("CreateConfig", "int8"): ("BuilderFlag.INT8",),
    ("CreateConfig", "fp8"): ("BuilderFlag.FP8",),
    ("CreateConfig", "tf32"): ("BuilderFlag.TF32",),
    ("CreateConfig", "precision_constraints"): ("BuilderFlag.OBEY_PRECISION_CONSTRAINTS",
                                                "BuilderFlag.PREFER_PRECISION_CONSTRAINTS"),
    ("CreateConfig", "version_compatible"): ("BuilderFlag.VERSION_COMPATIBLE",),
    ("CreateConfig", "hardware_compatibility_level"): ("IBuilderConfig.hardware_compatibility_level",),
    ("CreateConfig", "profiling_verbosity"): ("IBuilderConfig.profiling_verbosity",),
    ("CreateConfig", "load_timing_cache"): ("IBuilderConfig.create_timing_cache", "IBuilderConfig.set_timing_cache"),
    ("CreateConfig", "profiles"): ("IBuilderConfig.add_optimization_profile", "Builder.create_optimization_profile"),
    ("EngineBytesFromNetwork", "save_timing_cache"): ("IBuilderConfig.get_timing_cache",),
}
MODULE, POLY = "<tensorrt>", "<polygraphy.backend.trt>"


@dataclass(frozen=True)
class Use:
    file: str
    line: int
    owner: str  # MODULE, POLY, a TensorRT class name, or "POLY:<Loader>" for a keyword
    name: str
    optional: bool = False

    def text(self) -> str:
        owner = {MODULE: "tensorrt", POLY: "polygraphy.backend.trt"}.get(self.owner, self.owner)
        return f"{self.file}:{self.line} {owner}.{self.name}"


# --------------------------------------------------------------------------------------
# The bindings of one version: install, import, describe (``--probe`` runs in a subprocess)
# --------------------------------------------------------------------------------------
_SIG = re.compile(r"^\s*(?:\d+\.\s*)?\w+\(.*\)\s*->\s*([\w.]+)")


def _returns(doc: str | None) -> list[str]:
    """TensorRT class names a pybind11 docstring's signature lines return (``-> tensorrt.ICudaEngine``)."""
    out = []
    for line in (doc or "").splitlines():
        m = _SIG.match(line)
        if m and "tensorrt" in m.group(1):
            out.append(m.group(1).rsplit(".", 1)[-1])
    return out


def describe(trt) -> dict:
    """The public API of an imported ``tensorrt`` module: ``{"version", "module": {name: kind},
    "classes": {name: {attr: [return types]}}, "values": {name: class name}}``."""
    classes, values, module = {}, {}, {}
    for name in dir(trt):
        if name.startswith("__") and name != "__version__":
            continue
        obj = getattr(trt, name)
        if isinstance(obj, type):
            module[name] = "class"
            members = {}
            for attr in dir(obj):
                if attr.startswith("__") and attr not in ("__init__", "__members__", "__enter__", "__exit__"):
                    continue
                try:
                    value = getattr(obj, attr)
                except Exception:  # a property that cannot be read on the class
                    value = None
                members[attr] = _returns(getattr(value, "__doc__", None)) if callable(value) else []
            classes[name] = members
        elif callable(obj):
            module[name] = "function"
            values[name] = None
            classes.setdefault("<functions>", {})[name] = _returns(obj.__doc__)
        else:
            module[name] = "value"
            values[name] = type(obj).__name__
    return {"version": getattr(trt, "__version__", "?"), "module": module, "classes": classes, "values": values}


def _probe(target: str) -> None:
    sys.path.insert(0, target)
    import tensorrt_bindings as trt

    json.dump(describe(trt), sys.stdout)


def _tensorrt_functions(so: Path) -> tuple[list[str], list[str]]:
    """(libraries ``so`` needs that are not on this machine, functions it takes from them)."""
    missing = [line.split()[0] for line in subprocess.run(["ldd", str(so)], capture_output=True, text=True).stdout
               .splitlines() if "not found" in line]
    symbols = subprocess.run(["nm", "-D", "--undefined-only", str(so)], capture_output=True, text=True,
                             check=True).stdout.split()
    functions = sorted({s for s in symbols if re.fullmatch(r"[A-Za-z_]\w*", s) and "@" not in s
                        and not s.startswith(("Py", "_Py", "_Z", "__")) and s not in ("U", "w", "v")
                        and s not in ("dlopen", "dlclose", "dlsym", "dlerror")})
    return missing, functions


def setup(root: Path, log=print) -> None:
    """Install each ``CLAIMED`` version's bindings under ``root/<version>`` with its stand-in libraries."""
    root.mkdir(parents=True, exist_ok=True)
    cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if cc is None:
        raise SystemExit("trt_api_check --setup: no C compiler (cc/gcc/clang) for the stand-in libraries; "
                         "apt-get install gcc")
    for version, spec in CLAIMED:
        target = root / version
        if (target / "api.json").is_file():
            log(f"{version}: {target} is ready")
            continue
        shutil.rmtree(target, ignore_errors=True)
        log(f"{version}: pip install --no-deps --target {target} {spec}")
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target), spec],
                       check=True)
        so = next(target.glob("tensorrt_bindings/tensorrt*.so"))
        missing, functions = _tensorrt_functions(so)
        stubs = target / "stand-in-libs"
        stubs.mkdir()
        source = stubs / "stand_in.c"
        source.write_text("/* Stand-ins so that TensorRT's bindings import for inspection; never called. */\n" +
                          "".join(f"void *{f}(void) {{ return 0; }}\n" for f in functions))
        for lib in missing:
            subprocess.run([cc, "-shared", "-fPIC", "-o", str(stubs / lib), str(source), f"-Wl,-soname,{lib}"],
                           check=True)
        api = probe(target)
        (target / "api.json").write_text(json.dumps(api))
        log(f"{version}: TensorRT {api['version']} bindings inspected ({len(api['classes'])} classes; stand-ins for "
            f"{', '.join(missing)})")


def probe(target: Path) -> dict:
    """``describe`` of the bindings installed under ``target``, in a subprocess."""
    env = {**os.environ, "LD_LIBRARY_PATH": str(target / "stand-in-libs")}
    done = subprocess.run([sys.executable, "-I", str(Path(__file__).resolve()), "--probe", str(target)],
                          capture_output=True, text=True, env=env)
    if done.returncode:
        raise SystemExit(f"TensorRT bindings under {target} do not import: {done.stderr.strip().splitlines()[-1:]}")
    return json.loads(done.stdout)


def load_apis(root: Path) -> dict[str, dict]:
    """claimed version -> its API description (``setup`` writes them); SystemExit naming the fix if absent."""
    apis = {}
    for version, _ in CLAIMED:
        path = root / version / "api.json"
        if not path.is_file():
            raise FileNotFoundError(f"{path} is missing (fix: python -m stylert.engines.trt_api_check --setup {root})")
        apis[version] = json.loads(path.read_text())
    return apis


# --------------------------------------------------------------------------------------
# The names the code uses
# --------------------------------------------------------------------------------------
def _annotation_type(node) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        text = node.value
    elif node is not None:
        text = ast.unparse(node)
    else:
        return None
    m = re.fullmatch(r"(?:tensorrt|trt)\.(\w+)", text.strip())
    return m.group(1) if m else None


class _Walker:
    """Walks one function (or module body) in order, typing names and recording uses (see the module doc)."""

    def __init__(self, api: dict, file: str, env: dict, uses: list, names: dict | None = None):
        self.api, self.file, self.env, self.uses = api, file, env, uses
        self.names = names or {}
        self.optional: set[tuple[str, str]] = set()
        self.in_try = 0

    # typing ------------------------------------------------------------------------
    def type_of(self, node, record: bool = True) -> str | None:
        if isinstance(node, ast.Name):
            return self.env.get(node.id) or self.names.get(node.id)
        if isinstance(node, ast.Attribute):
            if isinstance(node.value, ast.Name) and node.value.id == "self":
                return self.env.get(f"self.{node.attr}")
            owner = self.type_of(node.value, record)
            if owner is None:
                return None
            if record:
                self.use(node, owner, node.attr)
            return self.attr_type(owner, node.attr)
        if isinstance(node, ast.Call):
            if isinstance(node.func, ast.Name) and node.func.id == "import_tensorrt":
                return MODULE
            if isinstance(node.func, ast.Name) and node.func.id == "_polygraphy_trt":
                return POLY
            kind = self.type_of(node.func, record)
            if kind and kind.startswith("class:"):
                return kind[len("class:"):]
            if kind and kind.startswith("method:"):
                cls, meth = kind[len("method:"):].split(".", 1)
                returns = self.api["classes"].get(cls, {}).get(meth) or []
                return returns[0] if returns else None
            if kind and kind.startswith("poly:"):
                return None
        return None

    def attr_type(self, owner: str, attr: str) -> str | None:
        classes = self.api["classes"]
        if owner == MODULE:
            kind = self.api["module"].get(attr)
            if kind == "class":
                return f"class:{attr}"
            if kind == "function":
                return f"method:<functions>.{attr}"
            return self.api["values"].get(attr)
        if owner == POLY:
            return f"poly:{attr}"
        if owner.startswith("class:"):
            cls = owner[len("class:"):]
            members = classes.get(cls, {})
            if attr not in members:
                return None
            return cls if attr.isupper() else f"method:{cls}.{attr}"  # an enum member / constant, or a method
        if owner in classes:
            return f"method:{owner}.{attr}" if attr in classes[owner] else None
        return None

    def use(self, node, owner: str, name: str) -> None:
        if owner.startswith(("method:", "poly:")):
            return
        owner = owner[len("class:"):] if owner.startswith("class:") else owner
        self.uses.append(Use(self.file, node.lineno, owner, name, optional=bool(self.in_try)))

    # statements --------------------------------------------------------------------
    def assign(self, target, value_type) -> None:
        if value_type is None:
            return
        if isinstance(target, ast.Name):
            self.env[target.id] = value_type
        elif isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name) and target.value.id == "self":
            self.env[f"self.{target.attr}"] = value_type

    def visit(self, node) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            return  # walked on their own
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "tensorrt":
                    self.env[alias.asname or "tensorrt"] = MODULE
            return
        if isinstance(node, ast.Try):
            catches = any(h.type is not None and "AttributeError" in ast.unparse(h.type) for h in node.handlers)
            self.in_try += catches
            for child in node.body:
                self.visit(child)
            self.in_try -= catches
            for child in [*node.handlers, *node.orelse, *node.finalbody]:
                self.visit(child)
            return
        if isinstance(node, ast.Assign):
            self.visit(node.value)
            value_type = self.type_of(node.value, record=False)
            for target in node.targets:
                self.assign(target, value_type)
                if isinstance(target, ast.Attribute) and not (isinstance(target.value, ast.Name)
                                                              and target.value.id == "self"):
                    self.expr(target)
            return
        if isinstance(node, ast.Call):
            self.call(node)
        if isinstance(node, ast.Attribute):
            self.expr(node)
            for sub in ast.walk(node.value):  # arguments of calls inside the chain
                if isinstance(sub, ast.Call):
                    self.call(sub)
                    for arg in [*sub.args, *(k.value for k in sub.keywords)]:
                        self.visit(arg)
            return
        for child in ast.iter_child_nodes(node):
            self.visit(child)

    def expr(self, node) -> None:
        self.type_of(node, record=True)

    def call(self, node: ast.Call) -> None:
        fname = node.func.id if isinstance(node.func, ast.Name) else None
        if fname in ("hasattr", "getattr") and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant):
            owner = self.type_of(node.args[0], record=False)
            attr = node.args[1].value
            if owner and isinstance(attr, str):
                if fname == "hasattr" or len(node.args) == 3:
                    self.optional.add((owner[len("class:"):] if owner.startswith("class:") else owner, attr))
                else:
                    self.use(node, owner, attr)
        kind = self.type_of(node.func, record=False)
        if kind and kind.startswith("poly:"):
            loader = kind[len("poly:"):]
            for kw in node.keywords:
                if kw.arg is None:
                    continue
                self.uses.append(Use(self.file, node.lineno, f"POLY:{loader}", kw.arg))
                given = not (isinstance(kw.value, ast.Constant) and kw.value.value in (None, False))
                for full in POLYGRAPHY_KEYWORDS.get((loader, kw.arg), ()) if given else ():
                    cls, attr = full.split(".", 1)
                    self.uses.append(Use(self.file, node.lineno, MODULE, cls))
                    self.uses.append(Use(self.file, node.lineno, cls, attr))


def collect_uses(source: str, file: str, api: dict) -> list[Use]:
    """The TensorRT and Polygraphy names ``source`` uses, typed with ``api`` (one version's ``describe``).

    Functions are walked in source order; each starts from the module's names, its enclosing
    function's names (closures), the ``self.x`` its class's earlier methods typed, and its typed
    parameters."""
    tree = ast.parse(source)
    uses: list[Use] = []
    parent: dict = {}
    for node in ast.walk(tree):
        for child in ast.iter_child_nodes(node):
            parent[child] = node
    module_env: dict = {}
    binds_tensorrt = "import_tensorrt()" in source or re.search(r"^\s*import tensorrt\b", source, re.M) is not None
    top = _Walker(api, file, module_env, uses)
    for node in tree.body:
        top.visit(node)
    class_env: dict = {}
    function_env: dict = {}
    functions = sorted((n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))),
                       key=lambda n: (n.lineno, n.col_offset))
    for fn in functions:
        up = parent.get(fn)
        while up is not None and not isinstance(up, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Module)):
            up = parent.get(up)
        env = dict(module_env)
        if isinstance(up, (ast.FunctionDef, ast.AsyncFunctionDef)):
            env.update(function_env.get(up, {}))
        if isinstance(up, ast.ClassDef):
            env.update(class_env.setdefault(up, {}))
        for arg in [*fn.args.posonlyargs, *fn.args.args, *fn.args.kwonlyargs]:
            t = _annotation_type(arg.annotation) or (PARAMETER_TYPES.get(arg.arg) if binds_tensorrt else None)
            if t:
                env[arg.arg] = t
        walker = _Walker(api, file, env, [], PARAMETER_TYPES if binds_tensorrt else None)
        for stmt in fn.body:
            walker.visit(stmt)
        guarded = walker.optional | {k for k, v in IMPLIED_BY.items() if v in walker.optional}
        uses.extend(Use(u.file, u.line, u.owner, u.name, u.optional or (u.owner, u.name) in guarded)
                    for u in walker.uses)
        function_env[fn] = env
        if isinstance(up, ast.ClassDef):
            class_env[up].update({k: v for k, v in env.items() if k.startswith("self.")})
    return uses


def package_sources(root: Path | None = None) -> dict[str, str]:
    """Relative path -> source of every module of the package outside tests (this checker excluded)."""
    root = root or Path(__file__).resolve().parents[1]
    out = {}
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        if rel.startswith(("tests/", ".")) or "/." in rel or path.resolve() == Path(__file__).resolve():
            continue
        text = path.read_text(encoding="utf-8")
        if "tensorrt" in text or "polygraphy" in text:
            out[rel] = text
    return out


def missing_names(sources: dict[str, str], apis: dict[str, dict]) -> dict[str, list[str]]:
    """claimed version -> the uses of ``sources`` that its API lacks (one line each), required uses only."""
    out = {}
    for version, api in apis.items():
        bad = []
        for file, text in sources.items():
            for u in collect_uses(text, file, api):
                if u.optional or u.owner.startswith("POLY") or u.owner == POLY:
                    continue
                if u.owner == MODULE:
                    ok = u.name in api["module"]
                else:
                    ok = u.owner in api["classes"] and u.name in api["classes"][u.owner]
                if not ok:
                    bad.append(f"{u.text()}: not in TensorRT {api['version']}")
        classes = api["classes"]
        for (cls, name), (gcls, gname) in IMPLIED_BY.items():
            if gname in classes.get(gcls, {}) and name not in classes.get(cls, {}):
                bad.append(f"{cls}.{name} is treated as guarded by {gcls}.{gname}, but TensorRT {api['version']} has "
                           "the one without the other (IMPLIED_BY)")
        out[version] = sorted(set(bad))
    return out


def polygraphy_problems(sources: dict[str, str], api: dict) -> list[str]:
    """Loaders and keywords given to Polygraphy that the installed ``polygraphy.backend.trt`` lacks."""
    import inspect

    try:
        from polygraphy.backend import trt as poly_trt
    except ImportError:
        return ["polygraphy is not installed (pip install polygraphy)"]
    bad = []
    for file, text in sources.items():
        for u in collect_uses(text, file, api):
            if u.owner == POLY and not hasattr(poly_trt, u.name):
                bad.append(f"{u.text()}: not in polygraphy.backend.trt")
            elif u.owner.startswith("POLY:"):
                loader = getattr(poly_trt, u.owner[len("POLY:"):], None)
                if loader is None:
                    continue
                params = set()
                for cls in (loader.__mro__ if isinstance(loader, type) else ()):  # **kwargs go to the bases
                    if "__init__" in vars(cls) and cls.__module__.startswith("polygraphy"):
                        params |= set(inspect.signature(cls.__init__).parameters)
                if not isinstance(loader, type):
                    params = set(inspect.signature(loader).parameters)
                if u.name not in params:
                    bad.append(f"{u.file}:{u.line} {u.owner[len('POLY:'):]}({u.name}=...): no such parameter in "
                               "polygraphy")
    return sorted(set(bad))


def check(root: Path, sources: dict[str, str] | None = None) -> tuple[dict[str, list[str]], list[str]]:
    """(missing TensorRT names per claimed version, Polygraphy problems) for the package (or ``sources``)."""
    apis = load_apis(root)
    sources = package_sources() if sources is None else sources
    return missing_names(sources, apis), polygraphy_problems(sources, apis[CLAIMED[-1][0]])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stylert.engines.trt_api_check", description=__doc__.split("\n")[0])
    parser.add_argument("--envs", type=Path, default=Path(os.environ.get(ENVS_ENV, ".ci/.trt-api")),
                        help=f"where --setup put the bindings (default ${ENVS_ENV} or .ci/.trt-api)")
    parser.add_argument("--setup", type=Path, nargs="?", const=True, default=None, metavar="DIR",
                        help="install the claimed versions' bindings into DIR (default --envs), then check")
    parser.add_argument("--probe", metavar="DIR", help=argparse.SUPPRESS)
    parser.add_argument("--package", type=Path, default=None, metavar="DIR",
                        help="check the stylert package in DIR (another checkout) instead of this one")
    parser.add_argument("--verbose", action="store_true", help="also list every name checked")
    args = parser.parse_args(argv)
    if args.probe:
        _probe(args.probe)
        return 0
    root = args.envs if args.setup in (None, True) else args.setup
    if args.setup is not None:
        setup(root)
    try:
        missing, poly = check(root, package_sources(args.package) if args.package else None)
    except FileNotFoundError as err:
        print(f"trt_api_check: {err}", file=sys.stderr)
        return 2
    apis = load_apis(root)
    failed = False
    for version, lines in missing.items():
        print(f"TensorRT {apis[version]['version']}: " + (f"{len(lines)} name(s) missing" if lines else "every name found"))
        for line in lines:
            print(f"  {line}")
        failed |= bool(lines)
    print("polygraphy: " + ("; ".join(poly) if poly else "every loader and keyword found"))
    if args.verbose:
        api = apis[CLAIMED[-1][0]]
        for file, text in package_sources(args.package).items():
            for u in collect_uses(text, file, api):
                print(f"  uses {u.text()}{' (optional)' if u.optional else ''}")
    return 1 if failed or poly else 0


if __name__ == "__main__":
    sys.exit(main())
