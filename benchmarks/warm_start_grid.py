"""Choose the attention warm start's gain and temperature on TRAINING pairs (never the holdout).

    python -m stylert.benchmarks warm_start_grid --family sanet --gains 4,16,1e6 --temperatures 0.02,1
    python -m stylert.benchmarks warm_start_grid --quick     # two pairs at 64 px, one setting

Six train-v1 pairs (content files 7, 257, ... and style files 5, 115, ... in name order), short side 256
px cropped to multiples of 16, stylized at step 0 (``initial_model(from_pretrained=True)`` then
``attention_warm_start(gain, temperature)``) and scored with ``stylert.evaluation.metrics.score``
(the metrics of ``stylert evaluate``); AdaIN (public weights) on the same pairs is the reference.
Prints one line per setting: mean content loss relu4_1, style loss and Gram loss, and their ratios
to AdaIN's; writes them to ``benchmarks/results/warm_start_grid/<machine>/warm_start_grid.json``
(``--out``). ``--quick``: 2 pairs at 64 px, gain 16 and temperature 1 only (unless given).
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np

from .harness import machine_record, results_dir, scenario_parser, write_results

NAME = "warm_start_grid"
TRAIN_V1 = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "train-v1"


def main(argv=None) -> int:
    parser = scenario_parser(NAME, __doc__)
    parser.add_argument("--family", default="sanet", choices=("sanet", "sanet-multilevel"))
    parser.add_argument("--gains", default=None, help="comma-separated (default 4,16,1e6; --quick: 16)")
    parser.add_argument("--temperatures", default=None, help="comma-separated (default 0.02,1; --quick: 1)")
    parser.add_argument("--data", type=Path, default=TRAIN_V1)
    parser.add_argument("--json", type=Path, default=None, help="also write the results JSON here")
    args = parser.parse_args(argv)
    gains = args.gains or ("16" if args.quick else "4,16,1e6")
    temperatures = args.temperatures or ("1" if args.quick else "0.02,1")
    count, size = (2, 64) if args.quick else (6, 256)
    for sub in ("content", "style"):
        if not (args.data / sub).is_dir():
            raise SystemExit(f"{args.data / sub}: not found; pass --data DIR with content/ and style/ "
                             "(the shared train-v1 set)")

    import torch

    from stylert.core.images import collect_images, load_image
    from stylert.evaluation.metrics import MetricEncoder, score
    from stylert.models.pretrained import load_reference_model
    from stylert.training.initial import attention_warm_start, initial_model

    contents = sorted(collect_images([args.data / "content"]))[7::250][:count]
    styles = sorted(collect_images([args.data / "style"]))[5::110][:count]

    def tensor(p):
        x = torch.from_numpy(load_image(p, size=size)).permute(2, 0, 1)[None].contiguous()
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
    for gain, tau in itertools.product([float(g) for g in gains.split(",")],
                                       [float(t) for t in temperatures.split(",")]):
        attention_warm_start(model, gain=gain, temperature=tau)
        r = run(model)
        results[f"gain={gain:g} temperature={tau:g}"] = r.tolist()
        print(f"gain {gain:g} temperature {tau:g}: content {r[0]:.3f} ({r[0] / base[0]:.2f}x) style {r[1]:.3f} "
              f"({r[1] / base[1]:.2f}x) gram {r[2]:.3g} ({r[2] / base[2]:.2f}x)", flush=True)
    record = {"family": args.family, "pairs": [[str(c), str(s)] for c, s in zip(contents, styles)],
              "size": size, "quick": args.quick, "machine": machine_record(), "results": results}
    write_results(args.out or results_dir(NAME, record["machine"], args.quick), NAME, record)
    if args.json:
        from .harness import write_json

        write_json(args.json, record)
    return 0


if __name__ == "__main__":
    from .harness import run_as_main

    run_as_main(NAME)
