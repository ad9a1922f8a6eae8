"""Training data: content and style folders, random crops, independent random pairing, an infinite sampler.

The order of the data is a pure function of ``(seed, position)``: pair ``k`` takes content number
``k`` of the content stream and style number ``k`` of the style stream. Each stream walks through
its folder in a fresh random permutation per epoch (``numpy.random.default_rng([seed, stream, epoch])``),
so every image is seen once per epoch and the two folders are paired independently (not zipped: the
folders have different sizes and their permutations are unrelated). Each sample's random crop comes
from ``default_rng([seed, stream, CROP, k])``. So the whole state of the data is one integer, the
number of pairs consumed; a resumed run continues exactly where it stopped, whatever the number of
workers.

Each image: read (``stylert.core.images.load_image``: EXIF orientation, any mode -> RGB), short
side resized to ``image_size`` (bilinear), then a random ``crop_size`` square (the reference code
resizes to 512x512 regardless of aspect ratio; we keep the aspect ratio, as the issue asks).

An unreadable file is skipped: the sample draws another image of the same folder (deterministically,
from ``(seed, stream, k, attempt)``), and the skipped path with its reason travels with the batch so
that the training loop can count and log it.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from ..core.images import load_image
from ..errors import ImageError

#: Image files the training folders may hold (case-insensitive).
TRAIN_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp")
CONTENT, STYLE, PREVIEW = 0, 1, 2  # stream ids in the seeds
_CROP = 7  # seed component of the crops
MAX_ATTEMPTS = 32  # unreadable draws in a row before a sample gives up


def list_images(folder: str | os.PathLike) -> list[Path]:
    """Every image file under ``folder`` (recursive; jpg, jpeg, png, webp; hidden files and folders
    skipped), sorted by relative path. Raises ImageError when the folder is missing or holds none."""
    root = Path(folder)
    if not root.is_dir():
        raise ImageError("not a folder", path=root, fix="pass a folder of training images")
    found = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in filenames:
            if not name.startswith(".") and name.lower().endswith(TRAIN_EXTENSIONS):
                found.append(Path(dirpath) / name)
    if not found:
        raise ImageError(f"no images ({', '.join(TRAIN_EXTENSIONS)}) in this folder or below it", path=root,
                         fix="point --content/--style at folders of images")
    return sorted(found, key=lambda p: p.relative_to(root).as_posix())


def files_digest(paths: list[Path], root: str | os.PathLike) -> str:
    """SHA-256 of the sorted relative paths: tells a resumed run whether its folders changed."""
    text = "\n".join(p.relative_to(root).as_posix() for p in paths)
    return hashlib.sha256(text.encode()).hexdigest()


class ImageStream:
    """An endless, seeded walk through ``paths``: item ``k`` of epoch ``k // n`` in that epoch's permutation."""

    def __init__(self, paths: list[Path], seed: int, stream: int):
        self.paths = list(paths)
        self.seed = seed
        self.stream = stream
        self._perm_epoch = -1
        self._perm: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.paths)

    def index(self, k: int) -> int:
        n = len(self.paths)
        epoch, pos = divmod(k, n)
        if epoch != self._perm_epoch:
            self._perm = np.random.default_rng([self.seed, self.stream, epoch]).permutation(n)
            self._perm_epoch = epoch
        return int(self._perm[pos])

    def fallback(self, k: int, attempt: int) -> int:
        """Another image for sample ``k`` after ``attempt`` unreadable ones."""
        return int(np.random.default_rng([self.seed, self.stream, k, attempt]).integers(len(self.paths)))


def random_crop(image: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """A random ``size`` x ``size`` crop of [H, W, 3] (uniform offsets, as torchvision's RandomCrop)."""
    h, w = image.shape[:2]
    if h < size or w < size:
        raise ImageError(f"image is {w}x{h} after resizing, smaller than the crop {size}")
    top = int(rng.integers(0, h - size + 1))
    left = int(rng.integers(0, w - size + 1))
    return image[top : top + size, left : left + size]


class PairDataset(Dataset):
    """Item ``k``: ``{"content": [3,S,S], "style": [3,S,S], "skipped": [(path, reason), ...]}``,
    float32 RGB 0..1, S = ``crop_size``. Indexable by any non-negative ``k`` (infinite)."""

    def __init__(self, content: list[Path], style: list[Path], *, image_size: int = 512, crop_size: int = 256,
                 seed: int = 0, streams: tuple[int, int] = (CONTENT, STYLE)):
        if crop_size <= 0 or image_size < crop_size:
            raise ImageError(f"the crop ({crop_size}) must be positive and no larger than the resized short side "
                             f"({image_size})", fix="use --crop-size <= --image-size")
        self.content = ImageStream(content, seed, streams[0])
        self.style = ImageStream(style, seed, streams[1])
        self.image_size = image_size
        self.crop_size = crop_size
        self.seed = seed

    def __len__(self) -> int:  # nominal: the sampler is infinite
        return max(len(self.content), len(self.style))

    def _load(self, stream: ImageStream, k: int, skipped: list[tuple[str, str]]) -> torch.Tensor:
        index = stream.index(k)
        for attempt in range(MAX_ATTEMPTS):
            path = stream.paths[index]
            try:
                image = load_image(path, size=self.image_size)
                rng = np.random.default_rng([self.seed, stream.stream, _CROP, k])
                crop = random_crop(image, self.crop_size, rng)
                return torch.from_numpy(np.ascontiguousarray(crop.transpose(2, 0, 1)))
            except ImageError as err:
                skipped.append((str(path), err.message))
            index = stream.fallback(k, attempt + 1)
        raise ImageError(f"{MAX_ATTEMPTS} unreadable images in a row (last: {skipped[-1][1]})",
                         path=Path(skipped[-1][0]).parent, fix="check the training folders")

    def __getitem__(self, k: int) -> dict:
        skipped: list[tuple[str, str]] = []
        content = self._load(self.content, k, skipped)
        style = self._load(self.style, k, skipped)
        return {"content": content, "style": style, "skipped": skipped}


class InfiniteSampler(Sampler):
    """Yields ``start, start + 1, ...`` forever: the positions of the pairs."""

    def __init__(self, start: int = 0):
        self.start = start

    def __iter__(self):
        k = self.start
        while True:
            yield k
            k += 1


def collate_pairs(items: list[dict]) -> dict:
    return {
        "content": torch.stack([it["content"] for it in items]),
        "style": torch.stack([it["style"] for it in items]),
        "skipped": [s for it in items for s in it["skipped"]],
    }


@dataclass(frozen=True)
class DataConfig:
    content_dir: str
    style_dir: str
    image_size: int = 512
    crop_size: int = 256
    seed: int = 0


def make_dataset(cfg: DataConfig) -> tuple[PairDataset, dict]:
    """The pair dataset and a description of the folders (counts and digests, for the checkpoint)."""
    content = list_images(cfg.content_dir)
    style = list_images(cfg.style_dir)
    info = {"content_files": len(content), "style_files": len(style),
            "content_digest": files_digest(content, cfg.content_dir),
            "style_digest": files_digest(style, cfg.style_dir)}
    return PairDataset(content, style, image_size=cfg.image_size, crop_size=cfg.crop_size, seed=cfg.seed), info


def make_loader(dataset: PairDataset, batch_size: int, start: int = 0, workers: int = 0,
                pin_memory: bool = False) -> DataLoader:
    """An endless loader of batches ``{"content", "style": [B,3,S,S], "skipped": [...]}`` starting at pair
    ``start``. ``workers`` > 0: a persistent pool of worker processes reads and crops in parallel."""
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=InfiniteSampler(start),
        num_workers=workers,
        persistent_workers=workers > 0,
        prefetch_factor=2 if workers > 0 else None,
        collate_fn=collate_pairs,
        pin_memory=pin_memory,
        # The loader draws its workers' base seed from this generator, not from torch's global one, so that
        # creating a loader (as a resumed run does) leaves the global RNG state as it was.
        generator=torch.Generator().manual_seed(0),
    )


def preview_pairs(dataset: PairDataset, count: int) -> dict:
    """``count`` fixed pairs for the sample grids, drawn with their own seeds (never the training stream's)."""
    preview = PairDataset(dataset.content.paths, dataset.style.paths, image_size=dataset.image_size,
                          crop_size=dataset.crop_size, seed=dataset.seed, streams=(PREVIEW, PREVIEW + 1))
    return collate_pairs([preview[k] for k in range(count)])
