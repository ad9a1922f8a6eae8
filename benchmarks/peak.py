"""The machine's measured peak: a large matrix multiply and a large 3x3 convolution; the faster counts.

float32 on CPU, float16 on a CUDA GPU (tensor cores). This is the "physical limit" that every
achieved FLOP/s is compared with: a measured roof, not a datasheet number.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from .stats import measure


@dataclass(frozen=True)
class Peak:
    device: str
    dtype: str
    matmul_tflops: float
    conv3x3_tflops: float

    @property
    def tflops(self) -> float:
        return max(self.matmul_tflops, self.conv3x3_tflops)

    def as_dict(self) -> dict:
        return {**asdict(self), "tflops": self.tflops}


def probe_peak(device: str = "cpu", *, seconds: float = 1.0) -> Peak:
    """Measure matmul and conv throughput on ``device`` ("cpu" or "cuda") with torch, median of runs."""
    import torch

    cuda = device.startswith("cuda")
    dtype = torch.float16 if cuda else torch.float32
    n = 8192 if cuda else 2048
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    # A VGG-like layer: 3x3, 512 -> 512 channels (the fastest shape tried on the 2-core CPU).
    size, ch, batch = (128, 512, 8) if cuda else (64, 512, 1)
    x = torch.randn(batch, ch, size, size, device=device, dtype=dtype)
    w = torch.randn(ch, ch, 3, 3, device=device, dtype=dtype)
    sync = torch.cuda.synchronize if cuda else None
    with torch.inference_mode():
        mm = measure(lambda: a @ b, warmup_s=0.2, min_duration_s=seconds, min_iterations=5, sync=sync)
        conv = measure(lambda: torch.nn.functional.conv2d(x, w, padding=1), warmup_s=0.2,
                       min_duration_s=seconds, min_iterations=5, sync=sync)
    mm_flops = 2 * n**3
    conv_flops = 2 * batch * ch * size * size * ch * 9
    return Peak(device, str(dtype).replace("torch.", ""), mm_flops / (mm.summary.median * 1e-3) / 1e12,
                conv_flops / (conv.summary.median * 1e-3) / 1e12)
