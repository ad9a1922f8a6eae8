"""``--amp``: which mixed precision a device gets (``stylert.training.precision``), and a bfloat16 step on
the CPU where this machine has the instructions."""

from __future__ import annotations

import math

import pytest
import torch
from stylert.training.precision import BF16_FLAGS, cpu_flags, select

pytestmark = pytest.mark.usefixtures("torch_one_thread")

ZEN4 = frozenset("fpu sse2 avx2 avx512f avx512bw avx512_bf16 avx512_vnni".split())
SAPPHIRE_RAPIDS = frozenset("avx2 avx512f amx_tile amx_int8 amx_bf16".split())
ZEN3 = frozenset("fpu sse2 avx2 fma".split())


def test_cuda_gets_float16_with_a_scaler():
    p = select(True, "cuda", ZEN3)
    assert p.dtype is torch.float16 and p.scaler and p.enabled


@pytest.mark.parametrize("flags, flag", [(ZEN4, "avx512_bf16"), (SAPPHIRE_RAPIDS, "amx_bf16")])
def test_cpu_with_bf16_instructions_gets_bfloat16_without_a_scaler(flags, flag):
    p = select(True, "cpu", flags)
    assert p.dtype is torch.bfloat16 and not p.scaler and flag in p.reason


def test_cpu_without_bf16_stays_float32_and_says_why():
    p = select(True, "cpu", ZEN3)
    assert p.dtype is None and not p.enabled and "no bfloat16 instructions" in p.reason
    assert all(f in p.reason for f in BF16_FLAGS)


def test_no_amp_is_float32_everywhere():
    for device in ("cpu", "cuda"):
        assert select(False, device, ZEN4).dtype is None


def test_cpu_flags_reads_cpuinfo(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nmodel name\t: X\nflags\t\t: fpu avx512_bf16 avx2\n\nprocessor\t: 1\n"
                    "flags\t\t: fpu\n")
    assert cpu_flags(info) == {"fpu", "avx512_bf16", "avx2"}
    assert cpu_flags(tmp_path / "missing") == frozenset()


@pytest.mark.skipif(not select(True, "cpu").enabled, reason="this CPU has no bfloat16 instructions")
def test_bf16_training_step_on_this_cpu():
    """A real TrainStep with --amp on the CPU runs under bfloat16 autocast, keeps float32 weights and
    returns finite losses close to float32's."""
    from stylert.models.registry import create_model, he_init
    from stylert.training.losses import default_loss_weights
    from stylert.training.step import OptimConfig, TrainStep

    torch.manual_seed(0)
    c, s = torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32)
    values = {}
    for amp in (False, True):
        model = he_init(create_model("sanet"), 0)
        trainer = TrainStep(model, default_loss_weights("sanet"), OptimConfig(amp=amp))
        assert trainer.precision.dtype is (torch.bfloat16 if amp else None)
        values[amp] = trainer.step(0, c, s)
        assert all(p.dtype == torch.float32 for p in model.parameters())
    for k in ("content", "style", "identity_pixel"):
        assert math.isfinite(values[True][k])
        assert values[True][k] == pytest.approx(values[False][k], rel=0.1), k


# --------------------------------------------------------------------------- the other speed options of a step


def _sanet_trainer(**optim):
    from stylert.models.registry import create_model, he_init
    from stylert.training.losses import default_loss_weights
    from stylert.training.step import OptimConfig, TrainStep

    channels_last = optim.pop("channels_last", False)
    model = he_init(create_model("sanet"), 0)
    for p in model.encoder.parameters():
        p.requires_grad_(False)
    return TrainStep(model, default_loss_weights("sanet"), OptimConfig(**optim), channels_last=channels_last)


def test_identity_every_skips_and_carries_the_identity_losses():
    torch.manual_seed(0)
    c, s = torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32)
    trainer = _sanet_trainer(identity_every=2)
    first, second, third = (trainer.step(i, c, s) for i in range(3))
    assert math.isfinite(first["identity_pixel"]) and first["identity_pixel"] > 0
    # iteration 1 skips them: the logged values are iteration 0's, and the total leaves them out
    assert second["identity_pixel"] == first["identity_pixel"]
    assert second["identity_feature"] == first["identity_feature"]
    assert second["loss"] == pytest.approx(second["content"] + 3 * second["style"], rel=1e-5)
    assert third["identity_pixel"] != first["identity_pixel"]  # iteration 2 computes them again
    from stylert.errors import ModelError
    from stylert.models.registry import create_model
    from stylert.training.losses import default_loss_weights
    from stylert.training.step import OptimConfig, TrainStep

    with pytest.raises(ModelError, match="attention families"):
        TrainStep(create_model("adain"), default_loss_weights("adain"), OptimConfig(identity_every=2))


def test_transform_lr_scale_gives_the_attention_its_own_learning_rate():
    trainer = _sanet_trainer(lr=1e-4, lr_decay=0.0, transform_lr_scale=0.01)
    groups = trainer.optimizer.param_groups
    assert len(groups) == 2
    names = {id(p): n for n, p in trainer.model.named_parameters()}
    assert all(names[id(p)].startswith("transform.") for p in groups[1]["params"])
    assert all(names[id(p)].startswith("decoder.") for p in groups[0]["params"])
    trainer.step(0, torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32))
    assert groups[0]["lr"] == pytest.approx(1e-4) and groups[1]["lr"] == pytest.approx(1e-6)
    assert len(_sanet_trainer().optimizer.param_groups) == 1  # scale 1: one group, as older checkpoints hold


def test_channels_last_step_matches_the_contiguous_one():
    torch.manual_seed(0)
    c, s = torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32)
    plain = _sanet_trainer().step(0, c, s)
    trainer = _sanet_trainer(channels_last=True)
    assert trainer.model.decoder.rc1.conv.weight.is_contiguous(memory_format=torch.channels_last)
    cl = trainer.step(0, c, s)
    for k in ("content", "style", "identity_pixel", "identity_feature"):
        assert cl[k] == pytest.approx(plain[k], rel=1e-3), k
