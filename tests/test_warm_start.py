"""``stylert train --from-pretrained``: every family warm-starts from the public AdaIN decoder.

Multi-level AdaIN's step-0 output is AdaIN's, bit for bit, on a real image; the attention families'
merge / fuse convs start as the identity. All on the public weights in ../shared.
"""

from __future__ import annotations

import pytest
import torch
from stylert.core.images import load_image
from stylert.models import list_families
from stylert.models.checkpoints import load_model, read_state, save_checkpoint
from stylert.training.initial import initial_model

pytestmark = pytest.mark.usefixtures("torch_one_thread")


def _quiet(_):
    pass


def _pair(shared_images, size=256):
    """A real content and style image as [1,3,H,W] float32 0..1, cropped to multiples of 16."""
    def load(path):
        t = torch.from_numpy(load_image(path, size=size)).permute(2, 0, 1)[None].contiguous()
        return t[..., : t.shape[-2] // 16 * 16, : t.shape[-1] // 16 * 16]

    return load(shared_images / "content" / "cornell.jpg"), load(next(iter(sorted((shared_images / "style").glob("*.jpg")))))


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
        assert any("identity" in n for n in notes), notes
        x = torch.rand(1, 512, 6, 5)
        with torch.no_grad():
            passed = fuse(torch.nn.functional.pad(x, (1, 1, 1, 1), mode="reflect"))
        assert torch.equal(passed, x)
    for p in model.encoder.parameters():
        assert not p.requires_grad


def test_sanet_multilevel_rc0_passes_relu4_1_through(use_shared_weights):
    """rc0's input is O4 + up2(O5); with relu5_1's branch at zero, rc0 returns relu4_1's (non-negative) input."""
    model = initial_model("sanet-multilevel", from_pretrained=True, log=_quiet)
    h4 = torch.relu(torch.randn(2, 512, 8, 8))
    with torch.no_grad():
        assert torch.equal(model.decoder.rc0(h4 + 0.0), h4)
        fresh = initial_model("sanet-multilevel", log=_quiet)
        assert not torch.allclose(fresh.decoder.rc0(h4), h4, atol=1e-2)
