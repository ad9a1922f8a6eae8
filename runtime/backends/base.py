"""The runner base class every backend derives from (after polygraphy/backend/base/runner.py).

Public ``activate``/``infer``/``deactivate`` wrap ``*_impl`` methods; a runner is a context
manager; it touches the device only in ``activate``; ``infer`` takes and returns
``{name: array}`` and records ``inference_time`` (seconds, host wall clock of the last call).
"""

from __future__ import annotations

import time
from typing import Any


class BaseRunner:
    def __init__(self, name: str):
        self.name = name
        self.is_active = False
        self.inference_time: float | None = None

    # -- to implement -------------------------------------------------------------------
    def activate_impl(self) -> None:
        raise NotImplementedError

    def infer_impl(self, feed: dict[str, Any], keep_on_device: bool) -> dict[str, Any]:
        raise NotImplementedError

    def deactivate_impl(self) -> None:
        raise NotImplementedError

    def input_names(self) -> list[str]:
        raise NotImplementedError

    def output_names(self) -> list[str]:
        raise NotImplementedError

    def to_host(self, value):
        """A value ``infer`` returned (maybe still on the device) -> numpy array on the host."""
        return value

    # -- public -------------------------------------------------------------------------
    def activate(self) -> "BaseRunner":
        if not self.is_active:
            self.activate_impl()
            self.is_active = True
        return self

    def infer(self, feed: dict[str, Any], keep_on_device: bool = False) -> dict[str, Any]:
        """``feed``: name -> numpy array (or a value this runner returned). With ``keep_on_device``
        outputs may stay on the device (pass them to the next graph; ``to_host`` fetches them)."""
        if not self.is_active:
            raise RuntimeError(f"runner {self.name} must be activated before infer()")
        missing = [n for n in self.input_names() if n not in feed]
        if missing:
            raise KeyError(f"runner {self.name}: missing inputs {missing}; it takes {self.input_names()}")
        start = time.perf_counter()
        out = self.infer_impl(feed, keep_on_device)
        self.inference_time = time.perf_counter() - start
        return out

    def deactivate(self) -> None:
        if self.is_active:
            self.deactivate_impl()
            self.is_active = False

    def __enter__(self):
        return self.activate()

    def __exit__(self, *exc):
        self.deactivate()
