"""Training throughput: iterations per second of ``TrainStep`` on synthetic batches.

Random weights (the speed does not depend on them) and random images, so it needs neither the public
weights nor a dataset; data loading is not included (it runs in parallel workers during training).
``benchmarks/train_throughput.py`` runs it for every family with and without mixed precision.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import torch

from ..models.registry import create_model, he_init
from ..models.stylize import resolve_device
from .losses import default_loss_weights
from .step import OptimConfig, TrainStep


@dataclass(frozen=True)
class Throughput:
    family: str
    batch_size: int
    size: int
    amp: bool
    device: str
    device_name: str
    steps: int
    iterations_per_s: float
    images_per_s: float  # content images per second (batch_size * iterations_per_s)
    peak_memory_mb: float | None  # CUDA only

    def as_dict(self) -> dict:
        return asdict(self)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _random_model(family: str, seed: int):
    """He-initialised random weights (``he_init``): activations keep a realistic scale through the VGG
    (PyTorch's default initialisation shrinks them into denormal floats, slow on CPUs: skewed timings)."""
    model = he_init(create_model(family), seed)
    for p in model.encoder.parameters():
        p.requires_grad_(False)
    return model


def measure(family: str, *, batch_size: int = 8, size: int = 256, amp: bool = False, steps: int = 20,
            warmup: int = 3, device: str = "auto", seed: int = 0) -> Throughput:
    """Time ``steps`` training iterations (after ``warmup`` untimed ones) of ``family`` at ``size`` x ``size``."""
    dev = resolve_device(device)
    model = _random_model(family, seed).to(dev)
    if dev.type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.cuda.reset_peak_memory_stats(dev)
    trainer = TrainStep(model, default_loss_weights(family), OptimConfig(amp=amp))
    content = torch.rand(batch_size, 3, size, size, device=dev)
    style = torch.rand(batch_size, 3, size, size, device=dev)
    for i in range(warmup):
        trainer.step(i, content, style)
    _sync(dev)
    start = time.perf_counter()
    for i in range(steps):
        trainer.step(warmup + i, content, style)
    _sync(dev)
    seconds = time.perf_counter() - start
    rate = steps / seconds
    return Throughput(
        family=family, batch_size=batch_size, size=size, amp=amp, device=dev.type,
        device_name=torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu",
        steps=steps, iterations_per_s=rate, images_per_s=rate * batch_size,
        peak_memory_mb=torch.cuda.max_memory_allocated(dev) / 2**20 if dev.type == "cuda" else None,
    )
