"""Style codes: what the transform needs of one style, computed once and kept (in memory or a file).

A code is the encoder graph's outputs on the style image that the manifest routes into the
transform (``routing.transform[...] = {"graph": "encoder", "image": "style", ...}``): for the
AdaIN families the per-level mean and std (a few KB), for the attention families the style
taps. It is tied to the SHA-256 of the encoder graph that computed it: any export with that
very encoder can use it, and no other.

File format (``.npz``, read with ``allow_pickle=False``): one array per code entry, plus
``__meta__``, a JSON string with format, family, encoder SHA-256 and the source image.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import StylertError

CODE_FORMAT = "stylert-style-code"
CODE_VERSION = 1


class StyleCodeError(StylertError):
    """A style code file that cannot be read, or that belongs to another model."""


@dataclass
class StyleCode:
    """arrays: code entry -> float32 array [1, ...]; ``encoder_sha256`` of the graph that made it."""

    arrays: dict[str, np.ndarray]
    family: str
    encoder_sha256: str
    source: str = ""
    meta: dict = field(default_factory=dict)

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in self.arrays.values())

    def save(self, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
        from ..core.files import atomic_write

        path = Path(path)
        meta = {"format": CODE_FORMAT, "version": CODE_VERSION, "family": self.family,
                "encoder_sha256": self.encoder_sha256, "source": self.source, **self.meta}
        with atomic_write(path, overwrite=overwrite) as tmp:
            with open(tmp, "wb") as f:
                np.savez(f, __meta__=np.array(json.dumps(meta)), **self.arrays)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> "StyleCode":
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as data:
                meta = json.loads(str(data["__meta__"]))
                arrays = {k: data[k].astype(np.float32) for k in data.files if k != "__meta__"}
        except (OSError, ValueError, KeyError, json.JSONDecodeError) as err:
            raise StyleCodeError(f"not a readable style code ({type(err).__name__})", path=path,
                                 fix="make one with `stylert style encode`") from None
        if meta.get("format") != CODE_FORMAT:
            raise StyleCodeError("not a stylert style code", path=path, fix="make one with `stylert style encode`")
        if int(meta.get("version", 0)) > CODE_VERSION:
            raise StyleCodeError(f"style code version {meta.get('version')} is newer than this stylert reads",
                                 path=path, fix="upgrade stylert")
        return cls(arrays, meta["family"], meta["encoder_sha256"], meta.get("source", ""),
                   {k: v for k, v in meta.items() if k not in ("format", "version", "family", "encoder_sha256",
                                                              "source")})

    def check_for(self, family: str, encoder_sha256: str, where: str | os.PathLike | None = None) -> None:
        """Refuse a code made by another model."""
        if self.family != family or self.encoder_sha256 != encoder_sha256:
            raise StyleCodeError(
                f"was encoded by another model ({self.family}, encoder {self.encoder_sha256[:12]}...), "
                f"not this export ({family}, encoder {encoder_sha256[:12]}...)",
                path=where or self.source, fix="encode the style again with `stylert style encode --engine DIR`")


def blend(codes: list[StyleCode], weights: list[float]) -> StyleCode:
    """The weighted sum of codes (weights summing to 1): exact for codes that blend linearly."""
    arrays = {k: sum(np.float32(w) * c.arrays[k] for w, c in zip(weights, codes)).astype(np.float32)
              for k in codes[0].arrays}
    return StyleCode(arrays, codes[0].family, codes[0].encoder_sha256, "+".join(c.source for c in codes))
