"""``stylert evaluate run``: every content x style pair, stylized by each model at each alpha, scored.

A *model* is a labelled way of stylizing: the PyTorch reference (public weights or checkpoint
files) or an export directory on a runtime backend. The first model is the *baseline*: the
others' PSNR is measured against its output for the same pair and alpha, and the report gives
each model's mean metrics as ratios to the baseline's.

Everything is written into a temporary folder beside the output folder and moved into place
at the end (``stylert.runtime.images.replace_directory``): an interrupted run leaves nothing
half-written. The output folder holds

    report.json     every pair's metrics, the means per model and alpha, the exact inputs
                    (paths, SHA-256, sizes used), models (files and hashes, or export graphs),
                    the metric encoder, package versions and the machine
    report.md       a table per model (means; ratios to the baseline), and the figures
    grid.jpg        content | style | each model at each alpha, one row per pair shown
    tradeoff.png    mean content loss (relu4_1) against mean style loss over alpha, one line per model
    images/<model>/<content>_stylized_<style>_alpha<a>.png   (unless save_images is off)

Outputs are scored as saved: 8-bit, as ``stylert evaluate score`` reads them back.
"""

from __future__ import annotations

import datetime
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from ..errors import ModelError
from .metrics import CONTENT_TAPS, MetricEncoder, StyleTargets, json_number, score_features

REPORT_FORMAT = "stylert-evaluation"
REPORT_VERSION = 1


@dataclass
class ModelEntry:
    """A labelled stylizer and what identifies it (``info``: kind, family, files or export graphs)."""

    label: str
    stylizer: object  # stylert.runtime.stylizer.Stylizer
    info: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Inputs:
    contents: list[Path]
    styles: list[Path]
    alphas: tuple[float, ...]
    content_size: int = 512
    style_size: int = 512
    crop: bool = False
    paired: bool = False  # content i with style i (lists of the same length) instead of every combination

    def pairs(self) -> list[tuple[Path, Path]]:
        if self.paired:
            if len(self.contents) != len(self.styles):
                raise ModelError(f"paired evaluation needs as many contents as styles, got {len(self.contents)} "
                                 f"and {len(self.styles)}", fix="give the same number of -c and -s images, or "
                                                                  "drop --paired")
            return list(zip(self.contents, self.styles))
        return [(c, s) for c in self.contents for s in self.styles]


def file_record(path: Path, image: np.ndarray | None = None) -> dict:
    from ..core.files import sha256_of

    record = {"path": str(path.resolve()), "sha256": sha256_of(path)}
    if image is not None:
        record["size_used"] = [int(image.shape[1]), int(image.shape[0])]  # width, height
    return record


def versions() -> dict:
    import importlib

    from .. import __version__

    found = {"stylert": __version__}
    for module, name in (("torch", "torch"), ("onnxruntime", "onnxruntime"), ("numpy", "numpy"),
                         ("skimage", "scikit-image"), ("cv2", "opencv"), ("PIL", "pillow")):
        try:
            found[name] = getattr(importlib.import_module(module), "__version__", "installed")
        except ImportError:
            found[name] = None
    return found


def reference_entry(label: str, family: str | None, checkpoints: tuple[str, ...], device: str = "auto") -> ModelEntry:
    """The PyTorch reference: ``checkpoints`` of any known layout, or the public (``adain``) or shipped
    weights of ``family`` when there are none (as ``stylert stylize`` loads them)."""
    from ..models.pretrained import load_reference_model
    from ..models.stylize import ReferenceStylizer

    model = load_reference_model(family, tuple(checkpoints))
    stylizer = ReferenceStylizer(model, device)
    files = [file_record(Path(p)) for p in model.checkpoint_info["files"]]
    return ModelEntry(label, stylizer, {"kind": "reference", "family": model.family,
                                        "layout": model.checkpoint_info["layout"], "files": files,
                                        "device": str(stylizer.device)})


def engine_entry(label: str, export_dir: str | os.PathLike, backend: str = "onnxruntime",
                 device: str = "auto") -> ModelEntry:
    """An export directory (``stylert export``) run by the runtime pipeline on ``backend`` (a name of
    ``stylert.runtime.backends.BACKENDS``, ``auto``, or ``NAME@PRECISION`` such as ``openvino@f32``)."""
    from ..runtime.pipeline import Pipeline
    from ..runtime.stylizer import RuntimeStylizer

    backend, _, precision = backend.partition("@")
    pipeline = Pipeline.open(export_dir, backend, device, precision=precision or None).activate()
    graphs = {g: info["sha256"] for g, info in pipeline.manifest.data["graphs"].items()}
    return ModelEntry(label, RuntimeStylizer(pipeline), {
        "kind": "engine", "family": pipeline.family, "precision": pipeline.manifest.precision,
        "export": str(Path(export_dir).resolve()), "graphs_sha256": graphs, "backend": pipeline.backend,
        "device": pipeline.device, "runs_in": pipeline.precision, "auto": pipeline.choice})


def output_name(content: Path, style: Path, alpha: float) -> str:
    return f"{content.stem}_stylized_{style.stem}_alpha{alpha:g}.png"


def _mean_metrics(rows: list[dict]) -> dict:
    """Mean of each metric over ``rows`` (content loss per tap); psnr over the rows that have one."""
    mean = {"content_loss": {t: float(np.mean([r["content_loss"][t] for r in rows])) for t in CONTENT_TAPS}}
    for name in ("style_loss", "style_loss_relu5_1", "gram_loss", "ssim"):
        mean[name] = float(np.mean([r[name] for r in rows]))
    values = [r["psnr"] for r in rows if r["psnr"] is not None]
    mean["psnr"] = float(np.mean(values)) if values else None
    mean["psnr_min"] = float(np.min(values)) if values else None  # the worst pair
    return mean


def _ratios(mean: dict, base: dict) -> dict:
    """model mean / baseline mean for every loss and SSIM (PSNR has its own baseline already)."""
    def ratio(a, b):
        return None if b == 0 else a / b

    out = {"content_loss": {t: ratio(mean["content_loss"][t], base["content_loss"][t]) for t in CONTENT_TAPS}}
    for name in ("style_loss", "style_loss_relu5_1", "gram_loss", "ssim"):
        out[name] = ratio(mean[name], base[name])
    return out


def grid_pairs(n_contents: int, n_styles: int, rows: int) -> list[tuple[int, int]]:
    """Up to ``rows`` (content, style) index pairs for the grid, spread so that successive rows
    change both the content and the style: (0,0), (1,1), ... wrapping around each list."""
    total = n_contents * n_styles
    pairs, seen = [], set()
    k = 0
    while len(pairs) < min(rows, total):
        pair = (k % n_contents, (k + k // max(n_contents, n_styles)) % n_styles)
        if pair not in seen:
            seen.add(pair)
            pairs.append(pair)
        k += 1
        if k > 4 * total + rows:  # every pair seen
            break
    return pairs


def run_evaluation(models: list[ModelEntry], inputs: Inputs, out_dir: Path, encoder: MetricEncoder, *,
                   overwrite: bool = False, save_images: bool = True, grid_rows: int = 6,
                   progress: Callable[[int, int], None] | None = None, load=None) -> dict:
    """Stylize and score every content x style x model x alpha; write the report folder; return report.json's
    content. ``load(path, size)`` reads an image as float32 [H, W, 3] (default ``load_image`` with ``crop``).
    ``progress(done, total)`` is called after each stylization."""
    from ..core.files import building_directory, check_output_dir
    from ..core.grid import make_grid
    from ..core.images import load_image, save_image, to_uint8
    from ..core.stylize import StylizeOptions
    from .figures import tradeoff_chart

    if not models:
        raise ModelError("no model to evaluate")
    pairs = inputs.pairs()
    labels = [m.label for m in models]
    if len(set(labels)) != len(labels):
        raise ModelError(f"model labels must differ, got {labels}", fix="label each model: --engine fp16=DIR")
    out_dir = check_output_dir(out_dir, overwrite=overwrite, kind="report", what="evaluation report",
                               owned=is_report_dir, inputs=[*inputs.contents, *inputs.styles])
    if load is None:
        def load(path, size):
            return load_image(path, size=size, crop=inputs.crop)

    # Read every input before any work: a broken file stops the run with nothing written.
    contents = {p: load(p, inputs.content_size) for p in inputs.contents}
    styles = {p: load(p, inputs.style_size) for p in inputs.styles}

    with building_directory(out_dir, "the evaluation report") as tmp:  # recognised by report.json (is_report_dir)
        results = []
        outputs: dict[tuple, np.ndarray] = {}  # (label, content, style, alpha) -> uint8, grid pairs only
        if inputs.paired:
            shown = set(pairs[:grid_rows])
        else:
            shown = {(inputs.contents[i], inputs.styles[j])
                     for i, j in grid_pairs(len(contents), len(styles), grid_rows)}
        style_targets = {p: StyleTargets.of(encoder.features(img)) for p, img in styles.items()}
        total = len(pairs) * len(inputs.alphas) * len(models)
        done = 0
        features_of = None  # (content path, its features): pairs come grouped by content
        for cpath, spath in pairs:
            content, style = contents[cpath], styles[spath]
            if features_of is None or features_of[0] != cpath:
                features_of = (cpath, encoder.features(content, CONTENT_TAPS))
            content_feats = features_of[1]
            for alpha in inputs.alphas:
                baseline_out = None
                for model in models:
                    raw = model.stylizer.stylize(content, [style], StylizeOptions(alpha=alpha),
                                                 style_keys=[str(spath)])
                    pixels = to_uint8(raw)
                    out = pixels.astype(np.float32) / np.float32(255.0)
                    metrics = score_features(encoder.features(out), out, content_feats, content,
                                             style_targets[spath], baseline_out)
                    if baseline_out is None:
                        baseline_out = out
                    row = {"model": model.label, "content": cpath.name, "style": spath.name, "alpha": alpha,
                           "metrics": metrics}
                    if save_images:
                        rel = Path("images") / model.label / output_name(cpath, spath, alpha)
                        save_image(pixels, tmp / rel)
                        row["output"] = str(rel)
                    results.append(row)
                    if (cpath, spath) in shown:
                        outputs[(model.label, cpath, spath, alpha)] = pixels
                    done += 1
                    if progress is not None:
                        progress(done, total)

        means = []
        for model in models:
            for alpha in inputs.alphas:
                rows = [r["metrics"] for r in results if r["model"] == model.label and r["alpha"] == alpha]
                means.append({"model": model.label, "alpha": alpha, "pairs": len(rows), "metrics": _mean_metrics(rows)})
        base = {m["alpha"]: m["metrics"] for m in means if m["model"] == models[0].label}
        for m in means:
            m["ratio_to_baseline"] = _ratios(m["metrics"], base[m["alpha"]])

        from ..core.machine import machine_info

        report = {
            "format": REPORT_FORMAT,
            "version": REPORT_VERSION,
            "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "baseline": models[0].label,
            "inputs": {
                "contents": [file_record(p, img) for p, img in contents.items()],
                "styles": [file_record(p, img) for p, img in styles.items()],
                "alphas": list(inputs.alphas),
                "content_size": inputs.content_size,
                "style_size": inputs.style_size,
                "crop": inputs.crop,
                "paired": inputs.paired,
            },
            "models": [{"label": m.label, **m.info} for m in models],
            "metric_encoder": {"file": str(encoder.path.resolve()), "sha256": encoder.sha256,
                               "network": "normalised VGG19 (pytorch-AdaIN), relu1_1..relu5_1"},
            "versions": versions(),
            "machine": machine_info(),
            "means": means,
            "results": results,
        }
        (tmp / "report.json").write_text(json.dumps(json_number(report), indent=1, allow_nan=False) + "\n",
                                         encoding="utf-8")

        columns = [(m.label, a) for m in models for a in inputs.alphas]
        tiles, tile_labels = [], []
        for cpath, spath in sorted(shown, key=pairs.index):
            tiles += [contents[cpath], styles[spath]]
            tile_labels += [f"content {cpath.stem}", f"style {spath.stem}"]
            for label, alpha in columns:
                tiles.append(outputs[(label, cpath, spath, alpha)])
                tile_labels.append(f"{label} alpha {alpha:g}" if len(inputs.alphas) > 1 else label)
        grid = make_grid(tiles, tile_labels, columns=2 + len(columns), height=192)
        save_image(grid, tmp / "grid.jpg", quality=75)  # photographs: JPEG, a tenth of PNG's size

        series = {m.label: [(e["alpha"], e["metrics"]["style_loss"], e["metrics"]["content_loss"]["relu4_1"])
                            for e in means if e["model"] == m.label] for m in models}
        chart = tradeoff_chart(series, title=f"content-style trade-off over alpha (means of {len(results) // len(models) // len(inputs.alphas)} pairs)",
                               xlabel="style loss (mean/std, relu1_1..relu4_1)", ylabel="content loss relu4_1")
        chart.save(tmp / "tradeoff.png", format="PNG")
        (tmp / "report.md").write_text(format_markdown(report), encoding="utf-8")
    return report


def is_report_dir(path: Path) -> bool:
    """A report folder ``run_evaluation`` wrote before reports carried the marker: its report.json."""
    try:
        return json.loads((Path(path) / "report.json").read_text(encoding="utf-8")).get("format") == REPORT_FORMAT
    except (OSError, ValueError, AttributeError):
        return False


def _fmt(value, digits: int = 4) -> str:
    if value is None:
        return "-"
    if isinstance(value, str):  # "inf" as report.json stores it
        return value
    if isinstance(value, float) and not np.isfinite(value):
        return "inf" if value > 0 else str(value)
    return f"{value:.{digits}g}"


def format_markdown(report: dict) -> str:
    """report.md: inputs, one table per model (means, then ratios to the baseline), figures, machine."""
    inputs = report["inputs"]
    machine = report["machine"]
    baseline = report["baseline"]
    head = ("| alpha | pairs | content relu2_1 | content relu3_1 | content relu4_1 | style | style relu5_1 "
            "| Gram | SSIM | PSNR dB | PSNR worst pair |\n|---|---|---|---|---|---|---|---|---|---|---|\n")
    lines = [
        "# Evaluation report",
        "",
        (f"{len(inputs['contents'])} content/style pairs (content i with style i)" if inputs.get("paired") else
         f"{len(inputs['contents'])} content x {len(inputs['styles'])} style images") + ", alpha "
        f"{', '.join(f'{a:g}' for a in inputs['alphas'])}; content resized to {inputs['content_size'] or 'its own size'}, "
        f"style to {inputs['style_size'] or 'its own size'}{', center-cropped' if inputs['crop'] else ''}. "
        f"Baseline (ratios, PSNR): **{baseline}**. Created {report['created']}, stylert "
        f"{report['versions']['stylert']} ({machine.get('git_commit') or 'no git'}).",
        "",
        "Losses in squared activations of the normalised VGG (lower: closer to the content, or to the "
        "style); SSIM of the grey output to the grey content (1 = identical); PSNR against the baseline's output.",
        "",
    ]
    for model in report["models"]:
        label = model["label"]
        rows = [m for m in report["means"] if m["model"] == label]
        lines += [f"## {label}", "", _describe(model), "", head.rstrip("\n")]
        for m in rows:
            x = m["metrics"]
            cl = x["content_loss"]
            lines.append(f"| {m['alpha']:g} | {m['pairs']} | {_fmt(cl['relu2_1'])} | {_fmt(cl['relu3_1'])} | "
                         f"{_fmt(cl['relu4_1'])} | {_fmt(x['style_loss'])} | {_fmt(x['style_loss_relu5_1'])} | "
                         f"{_fmt(x['gram_loss'])} | {_fmt(x['ssim'])} | {_fmt(x['psnr'], 3)} | {_fmt(x.get('psnr_min'), 3)} |")
        if label != baseline:
            lines += ["", f"Ratios to {baseline} (same alpha):", "",
                      "| alpha | content relu2_1 | content relu3_1 | content relu4_1 | style | style relu5_1 | Gram | SSIM |",
                      "|---|---|---|---|---|---|---|---|"]
            for m in rows:
                r = m["ratio_to_baseline"]
                cl = r["content_loss"]
                ratios = [cl["relu2_1"], cl["relu3_1"], cl["relu4_1"], r["style_loss"], r["style_loss_relu5_1"],
                          r["gram_loss"], r["ssim"]]
                lines.append(f"| {m['alpha']:g} | " + " | ".join("-" if x is None else f"{x:.4f}" for x in ratios) + " |")
        lines.append("")
    gpu = machine.get("gpu")
    lines += [
        "## Figures", "",
        "![content | style | each model](grid.jpg)", "",
        "![content loss against style loss over alpha](tradeoff.png)", "",
        "## Machine", "",
        f"{machine['cpu']}, {machine['cores']} cores, {machine.get('memory_gb')} GB"
        + (f", {gpu['name']}" if gpu else ", no GPU") + f"; Python {machine['python']}; "
        + ", ".join(f"{k} {v}" for k, v in report["versions"].items() if v) + ".",
        "",
    ]
    return "\n".join(lines)


def _describe(model: dict) -> str:
    if model["kind"] == "engine":
        return (f"Export `{model['export']}` ({model['family']}, {model['precision']}) on {model['backend']} "
                f"({model['device']}).")
    files = ", ".join(f"`{Path(f['path']).name}`" for f in model.get("files", []))
    return (f"PyTorch reference, {model.get('family', '?')} ({model.get('layout', '?')}): {files or 'no files'}; "
            f"{model.get('device', '?')}.")
