"""Every registered family: builds, keeps the input size, loads each public layout and stylert's own."""

from __future__ import annotations

import numpy as np
import pytest
import reference_impls as R
import torch
from stylert.errors import CheckpointError, ModelError
from stylert.models import create_model, he_init, list_families
from stylert.models.checkpoints import LAYOUTS, identify, layout_state_dicts, load_model, save_checkpoint
from stylert.models.stylize import ReferenceStylizer, StylizeOptions

FAMILIES = list_families()

#: The key names each public layout uses, written out by hand from the projects' code (not derived
#: from stylert's mapping): file -> (some keys that must be there, with shapes).
PUBLIC_KEYS = {
    "pytorch-adain": {
        "vgg_normalised.pth": {"0.weight": (3, 3, 1, 1), "2.weight": (64, 3, 3, 3), "29.weight": (512, 256, 3, 3)},
        "decoder.pth": {"1.weight": (256, 512, 3, 3), "14.weight": (128, 256, 3, 3), "28.weight": (3, 64, 3, 3)},
    },
    "sanet": {
        "vgg_normalised.pth": {"42.weight": (512, 512, 3, 3)},
        "decoder_iter_500000.pth": {"1.weight": (256, 512, 3, 3), "28.bias": (3,)},
        "transformer_iter_500000.pth": {"sanet4_1.f.weight": (512, 512, 1, 1), "sanet5_1.out_conv.bias": (512,),
                                        "merge_conv.weight": (512, 512, 3, 3)},
    },
    "paper-multilevel-adain": {
        "model.pth": {"vgg_encoder.slice1.0.weight": (64, 3, 3, 3), "vgg_encoder.slice2.5.weight": (128, 64, 3, 3),
                      "vgg_encoder.slice4.19.weight": (512, 256, 3, 3), "decoder.rc2.conv.weight": (256, 512, 3, 3),
                      "decoder.rc5.conv.weight": (128, 256, 3, 3), "decoder.rc9.conv.weight": (3, 64, 3, 3)},
    },
    "paper-attention": {
        "model.pth": {"vgg_encoder.slice5.28.weight": (512, 512, 3, 3), "att1.f.weight": (512, 512, 1, 1),
                      "att2.out_conv.weight": (512, 512, 1, 1), "decoder.rc0.conv.weight": (512, 512, 3, 3),
                      "decoder.rc1.conv.weight": (256, 512, 3, 3)},
    },
}


def _seeded(family, **config):
    return he_init(create_model(family, config))


def _run(model, content, style, alpha=1.0):
    with torch.no_grad():
        return model.decode(model.transfer(model.encode(content), model.encode_style(style), alpha))


@pytest.mark.parametrize("family", FAMILIES)
def test_family_builds_and_keeps_odd_sizes(family):
    model = _seeded(family)
    rng = np.random.default_rng(0)
    content = rng.random((250, 333, 3), dtype=np.float32)
    style = rng.random((97, 130, 3), dtype=np.float32)
    out = ReferenceStylizer(model, "cpu").stylize(content, [style])
    assert out.shape == content.shape
    assert np.isfinite(out).all()
    info = model.describe()
    assert info["family"] == family and info["parameters"]["total"] > 0
    assert set(model.alpha_levels) <= set(model.decoder_inputs)


@pytest.mark.parametrize("family", FAMILIES)
def test_stylert_checkpoint_round_trip(family, tmp_path):
    model = _seeded(family)
    path = save_checkpoint(model, tmp_path / "model.pt", step=7)
    assert not list(tmp_path.glob(".*tmp"))
    loaded = load_model([path])
    assert loaded.family == family and loaded.checkpoint_info["layout"] == "stylert"
    x = torch.rand(1, 3, 64, 48)
    assert torch.equal(_run(model, x, x.flip(-1)), _run(loaded, x, x.flip(-1)))
    assert identify(path).meta["step"] == 7


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_public_layout_loads_exactly(layout, tmp_path):
    lay = LAYOUTS[layout]
    model = _seeded(lay.family, encoder=lay.encoder_layout)
    files = layout_state_dicts(model, layout)
    assert set(files) == set(PUBLIC_KEYS[layout])
    for name, keys in PUBLIC_KEYS[layout].items():
        for key, shape in keys.items():
            assert tuple(files[name][key].shape) == shape, (name, key)
    paths = []
    for name, sd in files.items():
        torch.save(sd, tmp_path / name)
        paths.append(tmp_path / name)
    loaded = load_model(paths)
    assert loaded.family == lay.family and loaded.checkpoint_info["layout"] == layout
    x, s = torch.rand(1, 3, 64, 64), torch.rand(1, 3, 64, 64)
    assert torch.equal(_run(model, x, s), _run(loaded, x, s))


def test_pytorch_adain_architecture_matches_reference(tmp_path):
    """Random weights in pytorch-AdaIN's own nn.Sequential modules -> stylert computes the same."""
    torch.manual_seed(1)
    enc, dec = R.vgg(), R.decoder()
    torch.save(enc.state_dict(), tmp_path / "vgg_normalised.pth")
    torch.save(dec.state_dict(), tmp_path / "decoder.pth")
    model = load_model([tmp_path / "vgg_normalised.pth", tmp_path / "decoder.pth"])
    c, s = torch.rand(1, 3, 64, 80), torch.rand(1, 3, 48, 64)
    with torch.no_grad():
        ref = R.style_transfer(torch.nn.Sequential(*list(enc.children())[:31]), dec, c, s, alpha=0.7)
    ours = _run(model, c, s, 0.7)
    assert torch.equal(ours, ref)


def test_sanet_architecture_matches_reference(tmp_path):
    torch.manual_seed(2)
    enc, dec, transform = R.vgg(), R.decoder(), R.Transform(512)
    for name, module in (("vgg_normalised.pth", enc), ("decoder_iter_1.pth", dec), ("transformer_iter_1.pth", transform)):
        torch.save(module.state_dict(), tmp_path / name)
    model = load_model(sorted(tmp_path.iterdir()))
    assert model.family == "sanet"
    c, s = torch.rand(1, 3, 64, 64), torch.rand(1, 3, 96, 64)
    with torch.no_grad():
        ref = R.sanet_transfer(enc, dec, transform, c, s)
    torch.testing.assert_close(_run(model, c, s), ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("ref_cls,family", [(R.PaperMultiLevelModel, "adain-multilevel"),
                                            (R.PaperAttentionModel, "sanet-multilevel")])
def test_paper_model_matches_reference(ref_cls, family, tmp_path):
    torch.manual_seed(3)
    ref = ref_cls().eval()
    with torch.no_grad():
        for p in ref.parameters():
            p.mul_(0.5)
    torch.save(ref.state_dict(), tmp_path / "model.pth")
    model = load_model([tmp_path / "model.pth"])
    assert model.family == family and model.encoder.layout == "vgg-torchvision"
    c, s = torch.rand(1, 3, 64, 64), torch.rand(1, 3, 64, 80)
    with torch.no_grad():
        expected = ref.generate(c, s)
    torch.testing.assert_close(_run(model, c, s), expected, rtol=1e-4, atol=1e-5)


def test_wrong_checkpoint_lists_keys_and_layout(tmp_path, adain_files):
    sd = torch.load(adain_files[1], weights_only=True)
    del sd["28.weight"]
    sd["5.weight"] = sd["5.weight"][:, :8]
    sd["99.bias"] = torch.zeros(3)
    torch.save(sd, tmp_path / "decoder.pth")
    with pytest.raises(CheckpointError) as err:
        load_model([tmp_path / "decoder.pth", adain_files[0]])
    text = str(err.value)
    print(text)
    for part in ("decoder.pth", "pytorch-adain", "missing keys: 28.weight", "unexpected keys: 99.bias",
                 "5.weight (file 256x8x3x3, expected 256x256x3x3)"):
        assert part in text


def test_unreadable_and_pickled_checkpoints(tmp_path):
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="junk.pth: not a readable PyTorch checkpoint"):
        load_model([tmp_path / "junk.pth"])
    torch.save(torch.nn.Conv2d(1, 1, 1), tmp_path / "module.pth")
    with pytest.raises(CheckpointError, match="weights_only=True"):
        load_model([tmp_path / "module.pth"])
    torch.save({"foo.weight": torch.zeros(1)}, tmp_path / "other.pth")
    with pytest.raises(CheckpointError, match="unrecognised key layout"):
        load_model([tmp_path / "other.pth"])


def test_family_mismatch_and_newer_format(tmp_path):
    model = _seeded("adain")
    path = save_checkpoint(model, tmp_path / "a.pt")
    with pytest.raises(CheckpointError, match="holds a model of family 'adain', not 'sanet'"):
        load_model([path], "sanet")
    payload = torch.load(path, weights_only=True)
    payload["version"] = 99
    torch.save(payload, tmp_path / "new.pt")
    with pytest.raises(CheckpointError, match="newer"):
        load_model([tmp_path / "new.pt"])


def test_unknown_family_and_bad_alpha():
    with pytest.raises(ModelError, match="unknown model family 'nope'.*adain"):
        create_model("nope")
    model = create_model("adain-multilevel")
    assert model.alphas((0.1, 0.2, 0.3)) == {"relu2_1": 0.1, "relu3_1": 0.2, "relu4_1": 0.3}
    assert model.alphas(0.5) == {k: 0.5 for k in model.alpha_levels}
    with pytest.raises(ModelError, match="takes 1 or 3"):
        model.alphas((0.1, 0.2))
    with pytest.raises(ModelError, match=r"\[0, 1\]"):
        model.alphas(1.5)


@pytest.mark.parametrize("family", FAMILIES)
def test_interpolation_and_mask_compose(family):
    """Weights (1, 0) equal the first style alone; an all-foreground mask equals style 0 alone."""
    model = _seeded(family)
    rng = np.random.default_rng(1)
    content = rng.random((64, 64, 3), dtype=np.float32)
    a, b = rng.random((64, 64, 3), dtype=np.float32), rng.random((48, 64, 3), dtype=np.float32) ** 2
    runner = ReferenceStylizer(model, "cpu")
    single = runner.stylize(content, [a])
    interp = runner.stylize(content, [a, b], StylizeOptions(weights=(1.0, 0.0)))
    np.testing.assert_allclose(interp, single, atol=1e-5)
    masked = runner.stylize(content, [a, b], StylizeOptions(mask=np.ones((64, 64), np.float32)))
    np.testing.assert_allclose(masked, single, atol=1e-4)
    other = runner.stylize(content, [b])
    assert np.abs(other - single).max() > 100 * np.abs(interp - single).max() + 1e-3  # styles do differ
    half = np.zeros((64, 64), np.float32)
    half[:, :32] = 1
    split = runner.stylize(content, [a, b], StylizeOptions(mask=half))
    assert not np.allclose(split, single, atol=1e-3)


def test_attention_flushes_subnormal_weights_without_changing_the_output():
    """A peaked softmax leaves subnormal weights (x86 CPUs slow down 100x on them): StyleAttention
    flushes them to zero, and the output equals the unflushed computation at float32 precision."""
    from stylert.models.attention import StyleAttention, mean_variance_norm

    torch.manual_seed(0)
    att = StyleAttention(64).eval()
    content, style = torch.rand(1, 64, 12, 16) * 6, torch.rand(1, 64, 10, 14) * 6
    with torch.no_grad():
        for conv in (att.f, att.g):
            conv.weight.mul_(8)  # logits spread over hundreds: exp underflows into the subnormal range
        f = att.f(mean_variance_norm(content)).flatten(2).permute(0, 2, 1)
        g = att.g(mean_variance_norm(style)).flatten(2)
        weights = torch.softmax(torch.bmm(f, g), dim=-1)
        tiny = torch.finfo(torch.float32).tiny
        subnormal = int(((weights > 0) & (weights < tiny)).sum())
        unflushed = att.out_conv(torch.bmm(att.h(style).flatten(2), weights.permute(0, 2, 1)).view(1, 64, 12, 16)) + content
        flushed = att(content, style)
    print(f"\n{subnormal} subnormal attention weights of {weights.numel()}; "
          f"max |flushed - unflushed| {float((flushed - unflushed).abs().max()):.1e}")
    assert subnormal > 0  # the case the flush exists for
    assert torch.equal(flushed, unflushed)
