"""``stylert train --from-pretrained``: every family warm-starts from the public AdaIN decoder.

Multi-level AdaIN's step-0 output is AdaIN's, bit for bit, on a real image; the attention families'
merge / fuse convs start as the identity. All on the public weights in ../shared.
"""

from __future__ import annotations

import pytest
import torch
from stylert.core.images import load_image
from stylert.models import list_families
from stylert.models.attention import mean_variance_norm
from stylert.models.checkpoints import load_model, read_state, save_checkpoint
from stylert.training.content_means import stored
from stylert.training.initial import WARM_GAIN, WARM_TEMPERATURE, attention_warm_start, initial_model

pytestmark = pytest.mark.usefixtures("torch_one_thread")


def _quiet(_):
    pass


def _pair(shared_images, size=256, style=None):
    """A real content and style image as [1,3,H,W] float32 0..1, cropped to multiples of 16."""
    def load(path):
        t = torch.from_numpy(load_image(path, size=size)).permute(2, 0, 1)[None].contiguous()
        return t[..., : t.shape[-2] // 16 * 16, : t.shape[-1] // 16 * 16]

    style_path = shared_images / "style" / style if style else next(iter(sorted((shared_images / "style").glob("*.jpg"))))
    return load(shared_images / "content" / "cornell.jpg"), load(style_path)


def _stylize(model, content, style):
    with torch.no_grad():
        return model.decode(model.transfer(model.encode(content), model.encode_style(style), 1.0))


def test_multilevel_starts_as_adain_exactly(use_shared_weights, adain_model, shared_images):
    content, style = _pair(shared_images)
    notes = []
    multi = initial_model("adain-multilevel", from_pretrained=True, log=notes.append)
    reference = _stylize(adain_model, content, style)
    out = _stylize(multi, content, style)
    assert out.shape == reference.shape == content.shape
    assert torch.equal(out, reference), f"max diff {(out - reference).abs().max().item()}"
    assert any("rc2" in n and "zero" in n for n in notes) and any("rc5" in n and "zero" in n for n in notes)
    # The skip inputs are live: once their weights move, the output moves (so the equality above is earned).
    with torch.no_grad():
        multi.decoder.rc5.conv.weight[:, 256:] = 0.01
    assert not torch.equal(_stylize(multi, content, style), reference)


def test_multilevel_warm_start_round_trips_through_a_checkpoint(use_shared_weights, tmp_path, shared_images):
    model = initial_model("adain-multilevel", from_pretrained=True, log=_quiet)
    assert model.config.rc4_channels == 256 and model.decoder.rc5.conv.weight.shape == (128, 384, 3, 3)
    save_checkpoint(model, tmp_path / "m.pt")
    loaded = load_model([tmp_path / "m.pt"], "adain-multilevel")
    assert loaded.config == model.config
    content, style = _pair(shared_images, 128)
    assert torch.equal(_stylize(loaded, content, style), _stylize(model, content, style))
    # Without --from-pretrained it is the paper's decoder (rc4 256 -> 128).
    fresh = initial_model("adain-multilevel", log=_quiet)
    assert fresh.config.rc4_channels == 128 and fresh.decoder.rc5.conv.weight.shape == (128, 256, 3, 3)


@pytest.mark.parametrize("family", list_families())
def test_every_family_warm_starts_from_the_public_decoder(family, use_shared_weights):
    notes = []
    model = initial_model(family, from_pretrained=True, log=notes.append)
    public = read_state(use_shared_weights / "adain" / "decoder.pth")
    assert any("18 tensors from" in n for n in notes), notes
    # rc1 (main path of every family) and rc9 (the last conv) are the public ones.
    assert torch.equal(model.decoder.rc1.conv.weight, public["1.weight"])
    assert torch.equal(model.decoder.rc9.conv.bias, public["28.bias"])
    assert torch.equal(model.decoder.rc5.conv.weight[:, :256], public["14.weight"])
    fuse = {"sanet": model.transform.merge_conv if family == "sanet" else None,
            "sanet-multilevel": model.decoder.rc0.conv if family == "sanet-multilevel" else None}.get(family)
    if fuse is not None:
        assert any("identity / " in n for n in notes), notes
        x = torch.rand(1, 512, 6, 5)
        with torch.no_grad():
            passed = fuse(torch.nn.functional.pad(x, (1, 1, 1, 1), mode="reflect"))
        torch.testing.assert_close(passed, x / WARM_GAIN)
    for p in model.encoder.parameters():
        assert not p.requires_grad


def test_sanet_multilevel_rc0_passes_relu4_1_through(use_shared_weights):
    """rc0's input is O4 + up2(O5); with relu5_1's branch at zero, rc0 returns relu4_1's (non-negative) input / gain."""
    model = initial_model("sanet-multilevel", from_pretrained=True, log=_quiet)
    h4 = torch.relu(torch.randn(2, 512, 8, 8))
    with torch.no_grad():
        torch.testing.assert_close(model.decoder.rc0(h4 + 0.0), h4 / WARM_GAIN)
        fresh = initial_model("sanet-multilevel", log=_quiet)
        assert not torch.allclose(fresh.decoder.rc0(h4), h4, atol=1e-2)


# --------------------------------------------------------------------------- the attention warm start


@pytest.mark.parametrize("family", ["sanet", "sanet-multilevel"])
def test_attention_warm_start_is_attended_style_plus_scaled_residual(family, use_shared_weights, shared_images):
    """The decoder's input at step 0 is A4 + (Fc4 - mu4 + up2(Fc5 - mu5)) / gain, A4 the style's relu4_1
    attended with softmax(norm(Fc4)^T norm(Fs4) * temperature) (``attention_warm_start``'s formula)."""
    model = initial_model(family, from_pretrained=True, log=_quiet)
    content, style = _pair(shared_images, 128)
    with torch.no_grad():
        fc, fs = model.encode(content), model.encode_style(style)
        mu = stored()
        q, k = (mean_variance_norm(x["relu4_1"]).flatten(2) for x in (fc, fs))
        attn = torch.softmax(q.transpose(1, 2) @ k * WARM_TEMPERATURE, dim=-1)  # [1, hw_c, hw_s]
        a4 = (fs["relu4_1"].flatten(2) @ attn.transpose(1, 2)).view_as(fc["relu4_1"])
        up = torch.nn.functional.interpolate(fc["relu5_1"] - mu["relu5_1"][:, None, None], scale_factor=2.0)
        expected = a4 + (fc["relu4_1"] - mu["relu4_1"][:, None, None] + up) / WARM_GAIN
        t = model.transfer(fc, model.style_code(fs), 1.0)
        if family == "sanet":
            got = t["relu4_1"]
            # merge_conv reads a reflection-padded map: the border rows see the same values (centre tap only).
        else:
            got = model.decoder.rc0(t["relu4_1"] + torch.nn.functional.interpolate(t["relu5_1"], scale_factor=2.0))
            expected = torch.relu(expected)
    torch.testing.assert_close(got, expected, atol=2e-4, rtol=1e-4)


@pytest.mark.parametrize("family", ["sanet", "sanet-multilevel"])
def test_attention_warm_start_transfers_style_at_step_0(family, use_shared_weights, adain_model, shared_images):
    """Step 0 (no training) on a real pair (cornell x contrast_of_forms, 256 px), scored with the evaluation's
    metrics: style and Gram loss within 3x AdaIN's (public weights; 2.7x and 2.5x when written). A warm start
    whose attention is left fresh (PyTorch's default initialisation) fails the same bound (so it is earned)."""
    from stylert.evaluation.metrics import MetricEncoder, score

    content = _pair(shared_images, 256)[0]
    style = _pair(shared_images, 256, style="contrast_of_forms.jpg")[1]
    encoder = MetricEncoder(None, "cpu")
    as_np = lambda t: t[0].permute(1, 2, 0).numpy()  # noqa: E731

    def style_loss(model):
        return score(encoder, as_np(content), as_np(style), as_np(_stylize(model, content, style).clamp(0, 1)))

    reference = style_loss(adain_model)
    model = initial_model(family, from_pretrained=True, log=_quiet)
    warm = style_loss(model)
    print(f"{family} step 0: style {warm['style_loss']:.3f} (AdaIN {reference['style_loss']:.3f}), "
          f"gram {warm['gram_loss']:.3g} (AdaIN {reference['gram_loss']:.3g})")
    assert warm["style_loss"] <= 3 * reference["style_loss"]
    assert warm["gram_loss"] <= 3 * reference["gram_loss"]
    fresh = initial_model(family, from_pretrained=True, log=_quiet)
    torch.manual_seed(0)
    with torch.no_grad():  # the attention modules back to PyTorch's default initialisation
        for name, module in fresh.named_modules():
            if name.startswith("transform.") and isinstance(module, torch.nn.Conv2d) and "merge" not in name:
                module.reset_parameters()
    assert style_loss(fresh)["style_loss"] > 3 * reference["style_loss"]


def test_attention_warm_start_rejects_other_families_and_bad_values(use_shared_weights):
    from stylert.errors import ModelError

    with pytest.raises(ModelError, match="no attention modules"):
        attention_warm_start(initial_model("adain", log=_quiet))
    with pytest.raises(ModelError, match="must be > 0"):
        attention_warm_start(initial_model("sanet", log=_quiet), gain=0)
