"""The export manifest (``manifest.json``): read, check, route and show it. No torch here.

An export directory holds ``encoder.onnx``, ``transform.onnx``, ``decoder.onnx`` and
``manifest.json``. The manifest is self-describing, so that a script with no stylert code can
run the graphs: ``format`` / ``format_version``; ``family``; ``precision``; ``opset`` and
``ir_version``; ``size_multiple`` and ``min_size``; ``symbols`` (what ``N``, ``H``, ``Hs``,
``H/8`` mean); ``preprocessing`` / ``postprocessing``; ``graphs`` (per graph: ``file``,
``sha256``, ``bytes``, ``parameters``, ``inputs`` and ``outputs`` as ``{name, dtype, shape}``);
``routing`` (for each graph input, where its value comes from); ``style`` (how to compute and
blend the style representation); ``alpha`` (levels and semantics); ``tolerances`` and
``validation`` (measured differences); ``versions`` (torch, onnx, onnxruntime...).

Routing, as ``routing[graph][input] = source``, with ``source`` one of

    {"runtime": "image"}                                    the (padded) content or style image
    {"runtime": "alpha"}                                    the alpha values, ordered as alpha.levels
    {"graph": "encoder", "image": "content", "output": T}  encoder output T on the content image
    {"graph": "encoder", "image": "style", "output": T}    encoder output T on the style image
    {"graph": "transform", "output": T}                     transform output T

and ``routing["result"] = {"graph": "decoder", "output": "image"}``. :func:`chain` runs it.

``load_manifest(dir)`` checks the format version, that the routing only names outputs that
the graphs produce, that the files are present and match their SHA-256, and (with ``onnx``
importable) that each graph's real input and output names are those the manifest lists.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ..core.files import sha256_of
from ..core.images import padded_size, style_padded_size
from .errors import ManifestError
from .routing import Routing, chain  # noqa: F401  (chain: the runner of the routing, re-exported)

FORMAT = "stylert-onnx-export"
FORMAT_VERSION = 1
MANIFEST_NAME = "manifest.json"
GRAPH_NAMES = ("encoder", "transform", "decoder")
#: ``style.representation`` of families whose style codes blend linearly (AdaIN statistics).
STATISTICS = "statistics"
REQUIRED_KEYS = (
    "format", "format_version", "family", "precision", "opset", "ir_version", "size_multiple", "min_size",
    "graphs", "routing", "style", "alpha", "preprocessing", "postprocessing",
)
_REEXPORT = "re-export with `stylert export`"

_TENSOR = {"type": "object", "required": ["name", "dtype", "shape"], "properties": {
    "name": {"type": "string", "minLength": 1},
    "dtype": {"type": "string", "minLength": 1},
    "shape": {"type": "array", "items": {"anyOf": [{"type": "integer", "minimum": 1},
                                                   {"type": "string", "minLength": 1}]}}}}
_GRAPH = {"type": "object", "required": ["file", "sha256", "inputs", "outputs"], "properties": {
    "file": {"type": "string", "minLength": 1},
    "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
    "bytes": {"type": "integer", "minimum": 1},
    "inputs": {"type": "array", "minItems": 1, "items": _TENSOR},
    "outputs": {"type": "array", "minItems": 1, "items": _TENSOR}}}
#: The manifest's JSON Schema (draft 2020-12): the types and ranges every reader relies on, checked on
#: load with ``jsonschema`` before anything else reads a value (a ``size_multiple`` of 0 would divide by
#: zero; a ``min_size`` of 0 pads nothing and ONNX Runtime fails on the graphs' reflection pads).
#: ``check_manifest`` checks what a schema cannot say (routing names, ``min_size`` a multiple of
#: ``size_multiple``).
SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": list(REQUIRED_KEYS),
    "properties": {
        "format": {"const": FORMAT},
        "format_version": {"type": "integer"},
        "family": {"type": "string", "minLength": 1},
        "precision": {"enum": ["fp32", "fp16", "int8"]},
        "opset": {"type": "integer", "minimum": 1},
        "ir_version": {"type": "integer", "minimum": 1},
        "size_multiple": {"type": "integer", "minimum": 1},
        "min_size": {"type": "integer", "minimum": 1},
        "graphs": {"type": "object", "properties": {g: _GRAPH for g in GRAPH_NAMES}},
        "routing": {"type": "object"},
        "style": {"type": "object", "required": ["representation"],
                  "properties": {"representation": {"type": "string"}}},
        "alpha": {"type": "object", "required": ["levels"],
                  "properties": {"levels": {"type": "array", "minItems": 1, "items": {"type": "string"}}}},
        "preprocessing": {"type": "object"},
        "postprocessing": {"type": "object"},
    },
}


def _check_schema(data: Mapping, where) -> None:
    """``SCHEMA`` on ``data``: the first violation as one ManifestError line, with its JSON path."""
    import jsonschema

    error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(SCHEMA).iter_errors(data))
    if error is not None:
        at = ".".join(str(p) for p in error.absolute_path) or "the top level"
        raise ManifestError(f"{at}: {error.message}", path=where, fix=_REEXPORT)


def evaluate_shape(shape, env: Mapping[str, int]) -> tuple[int, ...]:
    """A manifest shape (ints and symbols: ``N``, ``H``, ``W``, ``Hs``, ``Ws``, ``H/8`` = ceil(H/8))
    at the symbol values ``env``. ManifestError for a symbol ``env`` lacks."""
    out = []
    for dim in shape:
        if isinstance(dim, int) or str(dim).isdigit():
            out.append(int(dim))
            continue
        base, _, stride = str(dim).partition("/")
        if base not in env:
            raise ManifestError(f"unknown shape symbol {dim!r} in the manifest", fix=_REEXPORT)
        out.append(-(-int(env[base]) // (int(stride) if stride else 1)))
    return tuple(out)


def _shape_text(shape) -> str:
    return "[" + ",".join(str(d) for d in shape) + "]"


@dataclass(frozen=True)
class Manifest:
    """A checked manifest and the directory it lives in (``data`` is the parsed JSON)."""

    root: Path
    data: dict

    @property
    def family(self) -> str:
        return self.data["family"]

    @property
    def precision(self) -> str:
        return self.data["precision"]

    @property
    def size_multiple(self) -> int:
        return int(self.data["size_multiple"])

    @property
    def min_size(self) -> int:
        """The smallest height and width the graphs take (pixels)."""
        return int(self.data["min_size"])

    @property
    def routing(self) -> dict:
        return self.data["routing"]

    @property
    def route(self) -> Routing:
        """The routing as typed views (``stylert.export.routing.Routing``)."""
        return Routing(self.data["routing"])

    @property
    def codes_blend_linearly(self) -> bool:
        """Whether style codes of several styles can be blended before one transform (AdaIN's
        statistics) or the transform must run per style and its outputs be blended (attention)."""
        return self.data["style"]["representation"] == STATISTICS

    @property
    def encoder_sha256(self) -> str:
        """The SHA-256 of the encoder graph: style codes are tied to it."""
        return self.data["graphs"]["encoder"]["sha256"]

    @property
    def footprint(self):
        """What a run's memory grows with (``stylert.core.budget.Footprint``), from the manifest alone."""
        from ..core.budget import Footprint

        return Footprint.of(self.size_multiple, self.min_size, self.route.content_inputs.values(),
                            attention=not self.codes_blend_linearly)

    def padded_size(self, height: int, width: int) -> tuple[int, int]:
        """The size the graphs see for a content image of (height, width): reflect-padded up to the
        size multiple (``stylert.core.images.padded_size``)."""
        return padded_size(height, width, self.size_multiple, self.min_size)

    def style_size(self, height: int, width: int) -> tuple[int, int]:
        """The size the encoder sees for a style image (``stylert.core.images.style_padded_size``)."""
        return style_padded_size(height, width, self.size_multiple, self.min_size)

    def input_shapes(self, batch: int, size_hw, style_hw=None) -> dict[str, dict[str, tuple[int, ...]]]:
        """graph -> input name -> concrete shape for ``batch`` contents of ``size_hw`` (padded as the
        runtime pads them) and a style of ``style_hw`` (default: the content's size)."""
        h, w = self.padded_size(*size_hw)
        hs, ws = self.style_size(*(style_hw or size_hw))
        env = {"N": batch, "H": h, "W": w, "Hs": hs, "Ws": ws}
        return {g: {t["name"]: evaluate_shape(t["shape"], env) for t in self.inputs(g)} for g in GRAPH_NAMES}

    @property
    def alpha_levels(self) -> list[str]:
        return list(self.data["alpha"]["levels"])

    def graph_path(self, graph: str) -> Path:
        return self.root / self.data["graphs"][graph]["file"]

    def inputs(self, graph: str) -> list[dict]:
        return self.data["graphs"][graph]["inputs"]

    def outputs(self, graph: str) -> list[dict]:
        return self.data["graphs"][graph]["outputs"]


def check_format(data, fmt: str, version: int, *, what: str, where, error=None, remake: str = _REEXPORT) -> None:
    """The header every stylert manifest shares (exports and engines): a JSON object whose
    ``format`` is ``fmt`` and whose ``format_version`` is ``version``. A newer version asks for a
    newer stylert (or ``remake`` with this one), an older or unreadable one for ``remake``."""
    error = error or ManifestError
    if not isinstance(data, Mapping):
        raise error("is not a JSON object", path=where, fix=remake)
    if data.get("format") != fmt:
        raise error(f"is not a stylert {what} (format {data.get('format')!r})", path=where, fix=remake)
    found = data.get("format_version")
    if not isinstance(found, int) or isinstance(found, bool):
        raise error(f"format_version {found!r} is not an integer", path=where, fix=remake)
    if found > version:
        raise error(f"format_version {found} is newer than this stylert reads ({version})", path=where,
                    fix=f"upgrade stylert, or {remake} with this one")
    if found < version:
        raise error(f"format_version {found} is older than this stylert reads ({version})", path=where, fix=remake)


def check_manifest(data: Mapping, where: str | os.PathLike = MANIFEST_NAME) -> None:
    """Check the structure and the routing of a parsed manifest (files are not looked at)."""
    check_format(data, FORMAT, FORMAT_VERSION, what="ONNX export manifest", where=where)
    missing = [k for k in REQUIRED_KEYS if k not in data]
    if missing:
        raise ManifestError(f"lacks {', '.join(missing)}", path=where, fix=_REEXPORT)
    _check_schema(data, where)
    if data["min_size"] % data["size_multiple"]:
        raise ManifestError(f"min_size {data['min_size']} is not a multiple of size_multiple {data['size_multiple']}",
                            path=where, fix=_REEXPORT)
    graphs = data["graphs"]
    if not isinstance(graphs, Mapping) or sorted(graphs) != sorted(GRAPH_NAMES):
        raise ManifestError(f"graphs must be exactly {', '.join(GRAPH_NAMES)}", path=where, fix=_REEXPORT)
    names: dict[str, dict[str, set[str]]] = {}
    for g in GRAPH_NAMES:
        info = graphs[g]
        for key in ("file", "sha256", "inputs", "outputs"):
            if key not in info:
                raise ManifestError(f"graph {g} lacks {key!r}", path=where, fix=_REEXPORT)
        for side in ("inputs", "outputs"):
            for t in info[side]:
                if not {"name", "dtype", "shape"} <= set(t):
                    raise ManifestError(f"graph {g}: an entry of {side} lacks name, dtype or shape: {t}",
                                        path=where, fix=_REEXPORT)
        names[g] = {side: {t["name"] for t in info[side]} for side in ("inputs", "outputs")}
    routing = data["routing"]
    for g in GRAPH_NAMES:
        feeds = routing.get(g)
        if not isinstance(feeds, Mapping):
            raise ManifestError(f"routing has no entry for graph {g}", path=where, fix=_REEXPORT)
        unrouted = sorted(names[g]["inputs"] - set(feeds))
        if unrouted:
            raise ManifestError(f"routing says nowhere where {g} input(s) {', '.join(unrouted)} come from",
                                path=where, fix=_REEXPORT)
        for name, src in feeds.items():
            if name not in names[g]["inputs"]:
                raise ManifestError(f"routing feeds {g} input {name!r}, which {graphs[g]['file']} does not have "
                                    f"(inputs: {', '.join(sorted(names[g]['inputs']))})", path=where, fix=_REEXPORT)
            _check_source(src, f"{g} input {name!r}", names, graphs, where)
    _check_source(routing.get("result"), "the result", names, graphs, where)
    levels = data["alpha"].get("levels") if isinstance(data["alpha"], Mapping) else None
    if not isinstance(levels, list) or not levels:
        raise ManifestError("alpha.levels must list the alpha levels", path=where, fix=_REEXPORT)


def _check_source(src, what: str, names, graphs, where) -> None:
    if not isinstance(src, Mapping):
        raise ManifestError(f"routing of {what} is not an object: {src!r}", path=where, fix=_REEXPORT)
    if "runtime" in src:
        if src["runtime"] not in ("image", "alpha"):
            raise ManifestError(f"routing of {what}: unknown runtime value {src['runtime']!r}", path=where,
                                fix=_REEXPORT)
        return
    graph, output = src.get("graph"), src.get("output")
    if graph not in names:
        raise ManifestError(f"routing of {what} names graph {graph!r}, not one of {', '.join(GRAPH_NAMES)}",
                            path=where, fix=_REEXPORT)
    if output not in names[graph]["outputs"]:
        raise ManifestError(
            f"routing of {what} names {graph} output {output!r}, which {graphs[graph]['file']} does not produce "
            f"(outputs: {', '.join(sorted(names[graph]['outputs']))})", path=where, fix=_REEXPORT)
    if graph == "encoder" and src.get("image") not in ("content", "style"):
        raise ManifestError(f"routing of {what}: an encoder output needs image 'content' or 'style'", path=where,
                            fix=_REEXPORT)


def _graph_io(path: Path) -> tuple[list[str], list[str]] | None:
    """The real input and output names of an ONNX file (None where onnx is not installed)."""
    try:
        import onnx
    except ImportError:
        return None
    model = onnx.load(str(path), load_external_data=False)
    inits = {i.name for i in model.graph.initializer}
    return [i.name for i in model.graph.input if i.name not in inits], [o.name for o in model.graph.output]


def load_manifest(directory: str | os.PathLike, *, verify_hashes: bool = True, check_graphs: bool = True) -> Manifest:
    """Read and check ``directory/manifest.json`` and the graph files it names.

    Raises ``ManifestError`` naming the file and the fix: no manifest, bad JSON, another
    format or format version, inconsistent routing, a missing graph file, a SHA-256 that does
    not match (a modified graph), or (``check_graphs``) graph inputs/outputs that are not the
    manifest's.
    """
    root = Path(directory)
    path = root / MANIFEST_NAME
    if not root.exists():
        raise ManifestError("no such export directory", path=root,
                            fix="pass the directory `stylert export -o` wrote, or make one with `stylert export -o DIR`")
    if not root.is_dir():
        raise ManifestError("is a file, not an export directory", path=root,
                            fix="pass the directory `stylert export -o` wrote")
    if not path.is_file():
        raise ManifestError("no manifest.json: not a stylert export directory", path=root,
                            fix="pass the directory `stylert export -o` wrote")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ManifestError(f"cannot be read as JSON ({err})", path=path, fix=_REEXPORT) from err
    check_manifest(data, path)
    for g in GRAPH_NAMES:
        info = data["graphs"][g]
        file = root / info["file"]
        if Path(info["file"]).name != info["file"]:
            raise ManifestError(f"graph {g}: file {info['file']!r} is not a plain file name", path=path,
                                fix=_REEXPORT)
        if not file.is_file():
            raise ManifestError(f"the {g} graph named by the manifest is missing", path=file, fix=_REEXPORT)
        if verify_hashes:
            actual = sha256_of(file)
            if actual != info["sha256"]:
                raise ManifestError(
                    f"does not match its SHA-256 in manifest.json (expected {info['sha256'][:16]}..., "
                    f"found {actual[:16]}...): the graph was modified or is corrupt", path=file, fix=_REEXPORT)
        if check_graphs:
            io = _graph_io(file)
            if io is not None:
                for side, real in zip(("inputs", "outputs"), io):
                    listed = [t["name"] for t in info[side]]
                    if sorted(real) != sorted(listed):
                        raise ManifestError(
                            f"manifest lists {g} {side} {', '.join(listed)}, but the graph has {', '.join(real)}",
                            path=file, fix=_REEXPORT)
    return Manifest(root, data)


# --------------------------------------------------------------------------------------
# A readable view, for `stylert inspect DIR`
# --------------------------------------------------------------------------------------
def format_manifest(manifest: Manifest) -> str:
    """The manifest as text: what was exported, and the routing as a diagram."""
    d = manifest.data
    lines = [
        f"stylert ONNX export: {d['family']} ({d['precision']}, opset {d['opset']}, IR version {d['ir_version']}, "
        f"format {d['format_version']})  {manifest.root}",
        f"  sizes:           H, W multiples of {d['size_multiple']}, at least {d['min_size']}; "
        f"padding: {d.get('padding', 'reflect')}",
        f"  preprocessing:   {d['preprocessing']['where']}; input {d['preprocessing']['input']}",
        f"  postprocessing:  {d['postprocessing']['steps']}",
        f"  style:           {d['style']['representation']}: {d['style']['description']}",
        f"  style blending:  {d['style']['blend']}",
        f"  alpha:           [{', '.join(d['alpha']['levels'])}]: {d['alpha']['semantics']}",
        "  graphs:",
    ]
    for g in GRAPH_NAMES:
        info = d["graphs"][g]
        size = f"{info.get('bytes', 0) / 2**20:.1f} MB"
        params = f"{info['parameters']:,} parameters" if "parameters" in info else ""
        lines.append(f"    {info['file']:16s} {size:>9s}  {params}  sha256 {info['sha256'][:12]}...")
    shapes = {(g, side, t["name"]): _shape_text(t["shape"]) for g in GRAPH_NAMES
              for side in ("inputs", "outputs") for t in d["graphs"][g][side]}
    lines.append("  routing:")
    rows = []
    for g in GRAPH_NAMES:
        for name, src in d["routing"][g].items():
            if "runtime" in src:
                left = ("content image (padded) or style image" if src["runtime"] == "image"
                        else f"alpha ({', '.join(d['alpha']['levels'])})")
            else:
                img = f"({src['image']}) " if src.get("image") else ""
                left = f"{src['graph']}.{src['output']} {img}{shapes[(src['graph'], 'outputs', src['output'])]}"
            rows.append((left, f"{g}.{name} {shapes[(g, 'inputs', name)]}"))
    res = d["routing"]["result"]
    rows.append((f"{res['graph']}.{res['output']} {shapes[(res['graph'], 'outputs', res['output'])]}",
                 "clamp 0..1, crop the padding -> result"))
    width = max(len(left) for left, _ in rows)
    lines += [f"    {left:{width}s} --> {right}" for left, right in rows]
    validation = d.get("validation")
    if validation:
        lines.append(f"  validation:      {validation.get('summary', '')}")
    versions = d.get("versions")
    if versions:
        lines.append("  versions:        " + ", ".join(f"{k} {v}" for k, v in versions.items()))
    return "\n".join(lines)
