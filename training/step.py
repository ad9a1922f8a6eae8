"""One optimisation step: the reference learning-rate decay, Adam, mixed precision, gradient clipping.

    lr(i) = lr / (1 + lr_decay * i)      for iteration i = 0, 1, ... (pytorch-AdaIN / SANet train.py)

The optimiser holds the trainable parameters only (transform and decoder); the encoder is frozen.
Mixed precision (``stylert.training.precision.select``): on CUDA ``torch.autocast`` float16 for the
encoder and decoder (the losses keep statistics in float32, see ``losses``) and a ``GradScaler``,
gradients unscaled before clipping; on a CPU with bfloat16 instructions ``torch.autocast("cpu",
bfloat16)`` without a scaler; on other CPUs float32.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.profiler import record_function

from ..errors import ModelError
from ..models.base import StyleModel
from .initial import trainable_parameters
from .losses import LossWeights, compute_losses, family_training
from .precision import select


@dataclass(frozen=True)
class OptimConfig:
    lr: float = 1e-4
    lr_decay: float = 5e-5
    grad_clip: float | None = None  # max global L2 norm of the gradients; None: no clipping
    amp: bool = False
    identity_every: int = 1  # attention families: identity losses on iterations i with i % identity_every == 0
    transform_lr_scale: float = 1.0  # lr x this for the transform and the fuse conv rc0 (attention, merge/fuse)

    def lr_at(self, iteration: int) -> float:
        return self.lr / (1.0 + self.lr_decay * iteration)


class NonFiniteLoss(ModelError):
    """The loss became NaN or Inf (without mixed precision, where the scaler would skip the step)."""


class TrainStep:
    """Owns the optimiser and the gradient scaler of ``model``; ``step(i, content, style)`` runs iteration ``i``."""

    def __init__(self, model: StyleModel, weights: LossWeights, optim: OptimConfig, channels_last: bool = False):
        """``channels_last``: the model's weights and every batch in channels-last memory format (the same
        numbers up to float rounding; faster convolutions on CPUs with oneDNN, see
        benchmarks/results/train_speed/)."""
        self.model = model
        self.channels_last = channels_last
        if channels_last:
            model.to(memory_format=torch.channels_last)
        self.weights = weights
        self.optim = optim
        self.device = next(model.parameters()).device
        self.precision = select(optim.amp, self.device.type)
        self.params = trainable_parameters(model)
        if not self.params:
            raise ModelError(f"{model.family}: nothing to train")
        if optim.transform_lr_scale <= 0:
            raise ModelError(f"--transform-lr-scale must be > 0, not {optim.transform_lr_scale}")
        transform = [p for name, p in model.named_parameters()
                     if name.startswith(("transform.", "decoder.rc0.")) and p.requires_grad]
        split = transform and optim.transform_lr_scale != 1.0
        rest = [p for p in self.params if not split or all(p is not q for q in transform)]
        groups = [{"params": rest, "scale": 1.0}]
        if split:  # one group otherwise (as older checkpoints hold)
            groups.append({"params": transform, "scale": optim.transform_lr_scale})
        self.optimizer = torch.optim.Adam(groups, lr=optim.lr)
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.precision.scaler)
        self.components = family_training(model.family).components
        if optim.identity_every < 1:
            raise ModelError(f"--identity-every must be at least 1, not {optim.identity_every}")
        if optim.identity_every > 1 and "identity_pixel" not in self.components:
            raise ModelError(f"--identity-every applies to the attention families, not {model.family}",
                             fix="drop --identity-every")
        # The identity components last computed: logged on the iterations that skip them.
        self._carried = {k: float("nan") for k in ("identity_pixel", "identity_feature")}

    def step(self, iteration: int, content: torch.Tensor, style: torch.Tensor, *, keep_output: bool = False) -> dict:
        """One iteration on a batch ([N,3,S,S] RGB 0..1 on any device). Returns floats: ``loss`` (weighted
        total of the components computed this iteration), each unweighted component (the identity ones, on
        iterations that skip them (``identity_every``), as last computed: NaN before the first), ``lr``, ``grad_norm`` (before clipping; NaN when not computed),
        and with ``keep_output`` the stylized batch under ``output``."""
        lr = self.optim.lr_at(iteration)
        for group in self.optimizer.param_groups:
            group["lr"] = lr * group.get("scale", 1.0)
        content = content.to(self.device, non_blocking=True)
        style = style.to(self.device, non_blocking=True)
        if self.channels_last:
            content = content.contiguous(memory_format=torch.channels_last)
            style = style.contiguous(memory_format=torch.channels_last)
        self.optimizer.zero_grad(set_to_none=True)
        identity = iteration % self.optim.identity_every == 0
        with record_function("forward"):
            result = compute_losses(self.model, content, style, self.weights, amp=self.precision.dtype or False,
                                    identity=identity)
        if not self.precision.scaler and not torch.isfinite(result.total):
            parts = ", ".join(f"{k} {v.item():.4g}" for k, v in result.parts.items())
            raise NonFiniteLoss(f"the loss is not finite at iteration {iteration} ({parts})",
                                fix="lower --lr, or set --grad-clip")
        with record_function("backward"):
            self.scaler.scale(result.total).backward()
        grad_norm = float("nan")
        if self.optim.grad_clip is not None:
            self.scaler.unscale_(self.optimizer)
            grad_norm = float(torch.nn.utils.clip_grad_norm_(self.params, self.optim.grad_clip))
        with record_function("optimizer"):
            self.scaler.step(self.optimizer)
            self.scaler.update()
        out = {"loss": result.total.item(), "lr": lr, "grad_norm": grad_norm}
        for k in self.components:
            if k in result.parts:
                out[k] = result.parts[k].item()
                if k in self._carried:
                    self._carried[k] = out[k]
            else:
                out[k] = self._carried[k]
        if keep_output:
            out["output"] = result.output.detach()
        return out

    def state_dict(self) -> dict:
        return {"optimizer": self.optimizer.state_dict(), "scaler": self.scaler.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.optimizer.load_state_dict(state["optimizer"])
        if state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])


