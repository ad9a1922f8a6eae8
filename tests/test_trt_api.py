"""The static TensorRT name check (``engines/trt_api_check.py``): the walk that collects the names,
on a small API description, and the package against the real bindings of every claimed version
(installed by ``python -m stylert.engines.trt_api_check --setup``; CI's .ci/run does it)."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest
from stylert.engines import trt_api_check as chk

ROOT = Path(os.environ.get(chk.ENVS_ENV) or Path(__file__).resolve().parents[1] / ".ci" / ".trt-api")

#: A tiny API in ``describe``'s form: TensorRT 11-like (no FP16 flag, no layer precision).
API11 = {
    "version": "11.x-test",
    "module": {"__version__": "value", "BuilderFlag": "class", "Runtime": "class", "ICudaEngine": "class",
               "IExecutionContext": "class", "INetworkDefinition": "class", "ILayer": "class", "float32": "value"},
    "values": {"__version__": "str", "float32": "DataType"},
    "classes": {
        "BuilderFlag": {"VERSION_COMPATIBLE": [], "TF32": []},
        "Runtime": {"deserialize_cuda_engine": ["ICudaEngine"], "engine_host_code_allowed": []},
        "ICudaEngine": {"create_execution_context": ["IExecutionContext"], "num_optimization_profiles": []},
        "IExecutionContext": {"execute_async_v3": []},
        "INetworkDefinition": {"get_layer": ["ILayer"], "num_layers": []},
        "ILayer": {"name": [], "get_output": []},
    },
}
API10 = {**API11, "version": "10.x-test",
         "classes": {**API11["classes"], "BuilderFlag": {"FP16": [], "VERSION_COMPATIBLE": [], "TF32": [],
                                                         "OBEY_PRECISION_CONSTRAINTS": [],
                                                         "PREFER_PRECISION_CONSTRAINTS": []},
                     "ILayer": {"name": [], "get_output": [], "precision": []}}}

OLD_BUILD = textwrap.dedent('''
    from ..core.providers import import_tensorrt

    def pin(network, plan):
        trt = import_tensorrt()
        for i in range(network.num_layers):
            layer = network.get_layer(i)
            layer.precision = trt.float32

    def build(path):
        trt = import_tensorrt()
        poly_trt = _polygraphy_trt()
        config = poly_trt.CreateConfig(fp16=True, precision_constraints="obey")
        flag = trt.BuilderFlag.FP16
''')


def _missing(source: str, api: dict) -> list[str]:
    return chk.missing_names({"x.py": source}, {"v": api})["v"]


def test_names_removed_in_11_are_reported_with_file_and_line():
    """Today's code before the strongly typed build: BuilderFlag.FP16 (also through Polygraphy's
    CreateConfig(fp16=...)) and ILayer.precision exist in 10 and are gone in 11."""
    assert _missing(OLD_BUILD, API10) == []
    missing = _missing(OLD_BUILD, API11)
    assert missing == ["x.py:13 BuilderFlag.FP16: not in TensorRT 11.x-test",  # CreateConfig(fp16=True)
                       "x.py:13 BuilderFlag.OBEY_PRECISION_CONSTRAINTS: not in TensorRT 11.x-test",  # ="obey"
                       "x.py:13 BuilderFlag.PREFER_PRECISION_CONSTRAINTS: not in TensorRT 11.x-test",
                       "x.py:14 BuilderFlag.FP16: not in TensorRT 11.x-test",  # trt.BuilderFlag.FP16
                       "x.py:8 ILayer.precision: not in TensorRT 11.x-test"]


def test_types_follow_constructors_return_types_and_self():
    source = textwrap.dedent('''
        import tensorrt as trt

        class Session:
            def open(self, data):
                self.runtime = trt.Runtime(None)
                self.runtime.engine_host_code_allowed = True
                engine = self.runtime.deserialize_cuda_engine(data)
                ctx = engine.create_execution_context()
                ctx.execute_async_v4(0)

            def run(self):
                self.runtime.no_such_method()
    ''')
    assert _missing(source, API11) == ["x.py:10 IExecutionContext.execute_async_v4: not in TensorRT 11.x-test",
                                       "x.py:13 Runtime.no_such_method: not in TensorRT 11.x-test"]


def test_guarded_names_are_optional():
    source = textwrap.dedent('''
        def f(network):
            trt = import_tensorrt()
            if hasattr(trt.BuilderFlag, "FP16"):
                flag = trt.BuilderFlag.FP16
            layer = network.get_layer(0)
            try:
                layer.precision = trt.float32
            except AttributeError:
                pass
            kind = getattr(trt, "NoSuchThing", None)

        def g():
            trt = import_tensorrt()
            return trt.NoSuchThing  # not guarded in this function
    ''')
    assert _missing(source, API11) == ["x.py:15 tensorrt.NoSuchThing: not in TensorRT 11.x-test"]


def test_polygraphy_keywords_exist_in_the_installed_polygraphy():
    pytest.importorskip("polygraphy")
    source = "def f():\n    p = _polygraphy_trt()\n    p.CreateConfig(fp16=None, no_such_option=1)\n    p.NoSuchLoader()\n"
    problems = chk.polygraphy_problems({"x.py": source}, API11)
    assert problems == ["x.py:3 CreateConfig(no_such_option=...): no such parameter in polygraphy",
                        "x.py:4 polygraphy.backend.trt.NoSuchLoader: not in polygraphy.backend.trt"]


@pytest.fixture(scope="module")
def apis():
    try:
        return chk.load_apis(ROOT)
    except FileNotFoundError as err:
        if os.environ.get("STYLERT_REQUIRE_TRT_API"):
            pytest.fail(str(err))
        pytest.skip(str(err))


def test_every_tensorrt_name_the_package_uses_exists_in_each_claimed_version(apis):
    assert [a["version"] for a in apis.values()] == ["10.0.1", "10.16.1.11", "11.4.0.106"]
    missing, poly = chk.check(ROOT)
    assert missing == {v: [] for v, _ in chk.CLAIMED} and poly == []
    # the walk does see the build and the runtime (not a check of nothing)
    uses = {(u.owner, u.name) for f, s in chk.package_sources().items() for u in chk.collect_uses(s, f, apis["11.4"])}
    assert {("NetworkDefinitionCreationFlag", "STRONGLY_TYPED"), ("IBuilderConfig", "get_flag"),
            ("IExecutionContext", "execute_async_v3"), ("Runtime", "deserialize_cuda_engine")} <= uses


def test_the_real_11_bindings_lack_the_weakly_typed_names(apis):
    """What the check stands on: TensorRT 11's bindings have no FP16/INT8/precision-constraint flags
    and no layer precision; 10.16's still do."""
    for version, present in (("10.16", True), ("11.4", False)):
        classes = apis[version]["classes"]
        assert ("FP16" in classes["BuilderFlag"]) is present and ("INT8" in classes["BuilderFlag"]) is present
        assert ("OBEY_PRECISION_CONSTRAINTS" in classes["BuilderFlag"]) is present
        assert ("precision" in classes["ILayer"]) is present
        assert "STRONGLY_TYPED" in classes["NetworkDefinitionCreationFlag"]
    assert len(_missing(OLD_BUILD, apis["11.4"])) >= 3 and _missing(OLD_BUILD, apis["10.16"]) == []
