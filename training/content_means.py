"""Per-channel means of the public VGG encoder's relu4_1 and relu5_1 on photographs.

The attention warm start (``stylert.training.initial.attention_warm_start``) subtracts them from the
content residual that every attention module adds to its output, so that the decoder's input has the
attended style's mean. They are a property of the encoder on natural photographs; the stored file
``content_means.json`` was made by::

    python -m stylert.training.content_means ../shared/datasets/train-v1/content --count 300 --size 256

(the first 300 train-v1 content files in name order, short side 256 px, whole image), and records that
command, the encoder file's SHA-256 and the image count beside the numbers.

    means(paths, size) -> {"relu4_1": [512 floats], "relu5_1": [512 floats]}   (float32 activations)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

STORED = Path(__file__).with_name("content_means.json")
TAPS = ("relu4_1", "relu5_1")


def means(paths, size: int = 256, encoder=None) -> dict[str, list[float]]:
    """Mean over ``paths`` of each image's per-channel spatial mean at relu4_1 and relu5_1 (the public
    ``vgg_normalised.pth`` unless ``encoder``, a ``VGGEncoder``, is given). Images resized to short side
    ``size`` px; ImageError for unreadable files."""
    import torch

    from ..core.images import load_image

    if encoder is None:
        from .initial import initial_model

        encoder = initial_model("sanet", log=lambda _: None).encoder
    encoder.eval()
    sums = {t: torch.zeros(512, dtype=torch.float64) for t in TAPS}
    with torch.no_grad():
        for path in paths:
            x = torch.from_numpy(load_image(path, size=size)).permute(2, 0, 1)[None].contiguous()
            feats = encoder(x, TAPS)
            for t in TAPS:
                sums[t] += feats[t].double().mean(dim=(0, 2, 3))
    return {t: [round(float(v / len(paths)), 6) for v in sums[t]] for t in TAPS}


def _public_encoder_path() -> Path:
    from ..core.weights import find_weight

    return Path(find_weight("adain", "vgg_normalised.pth", None))


def stored() -> dict[str, "torch.Tensor"]:  # noqa: F821
    """The stored means as float32 tensors [512] per tap."""
    import torch

    data = json.loads(STORED.read_text(encoding="utf-8"))
    return {t: torch.tensor(data[t], dtype=torch.float32) for t in TAPS}


def main(argv=None) -> int:
    import argparse

    from ..core.files import sha256_of
    from ..core.images import collect_images

    parser = argparse.ArgumentParser(prog="python -m stylert.training.content_means", description=__doc__.split("\n")[0])
    parser.add_argument("folder")
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--out", default=str(STORED))
    args = parser.parse_args(argv)
    paths = sorted(collect_images([args.folder]))[: args.count]
    result = means(paths, args.size)
    record = {"command": f"python -m stylert.training.content_means {args.folder} --count {args.count} "
                         f"--size {args.size}",
              "images": len(paths), "size": args.size, "encoder_sha256": sha256_of(_public_encoder_path()), **result}
    Path(args.out).write_text(json.dumps(record) + "\n", encoding="utf-8")
    print(f"{len(paths)} images -> {args.out}; mean relu4_1 {sum(result['relu4_1']) / 512:.4f}, "
          f"relu5_1 {sum(result['relu5_1']) / 512:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
