"""Choose the attention warm start's gain and temperature on TRAINING pairs (never the holdout).

    python -m stylert.benchmarks.warm_start_grid --family sanet --gains 4,16,1e6 --temperatures 0.02,1

Six train-v1 pairs (content files 7, 257, ... and style files 5, 115, ... in name order), short side 256
px cropped to multiples of 16, stylized at step 0 (``initial_model(from_pretrained=True)`` then
``attention_warm_start(gain, temperature)``) and scored with ``stylert.evaluation.metrics.score``
(the metrics of ``stylert evaluate``); AdaIN (public weights) on the same pairs is the reference.
Prints one line per setting: mean content loss relu4_1, style loss and Gram loss, and their ratios
to AdaIN's; ``--json`` writes them.
"""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path

import numpy as np

TRAIN_V1 = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "train-v1"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--family", default="sanet", choices=("sanet", "sanet-multilevel"))
    parser.add_argument("--gains", default="4,16,1e6")
    parser.add_argument("--temperatures", default="0.02,1")
    parser.add_argument("--data", type=Path, default=TRAIN_V1)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)

    import torch

    from stylert.core.images import collect_images, load_image
    from stylert.evaluation.metrics import MetricEncoder, score
    from stylert.models.pretrained import load_reference_model
    from stylert.training.initial import attention_warm_start, initial_model

    contents = sorted(collect_images([args.data / "content"]))[7::250][:6]
    styles = sorted(collect_images([args.data / "style"]))[5::110][:6]

    def tensor(p):
        x = torch.from_numpy(load_image(p, size=256)).permute(2, 0, 1)[None].contiguous()
        return x[..., : x.shape[-2] // 16 * 16, : x.shape[-1] // 16 * 16]

    pairs = [(tensor(c), tensor(s)) for c, s in zip(contents, styles)]
    encoder = MetricEncoder(None, "cpu")
    as_np = lambda t: t[0].permute(1, 2, 0).numpy()  # noqa: E731

    def run(model):
        rows = []
        with torch.no_grad():
            for c, s in pairs:
                o = model.decode(model.transfer(model.encode(c), model.encode_style(s), 1.0)).clamp(0, 1)
                m = score(encoder, as_np(c), as_np(s), as_np(o))
                rows.append((m["content_loss"]["relu4_1"], m["style_loss"], m["gram_loss"]))
        return np.mean(rows, axis=0)

    base = run(load_reference_model("adain"))
    results = {"adain": base.tolist()}
    print(f"adain: content {base[0]:.3f} style {base[1]:.3f} gram {base[2]:.3g}", flush=True)
    model = initial_model(args.family, from_pretrained=True, log=lambda _: None)
    for gain, tau in itertools.product([float(g) for g in args.gains.split(",")],
                                       [float(t) for t in args.temperatures.split(",")]):
        attention_warm_start(model, gain=gain, temperature=tau)
        r = run(model)
        results[f"gain={gain:g} temperature={tau:g}"] = r.tolist()
        print(f"gain {gain:g} temperature {tau:g}: content {r[0]:.3f} ({r[0] / base[0]:.2f}x) style {r[1]:.3f} "
              f"({r[1] / base[1]:.2f}x) gram {r[2]:.3g} ({r[2] / base[2]:.2f}x)", flush=True)
    if args.json:
        args.json.write_text(json.dumps({"family": args.family, "pairs": [[str(c), str(s)] for c, s in
                                         zip(contents, styles)], "results": results}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
