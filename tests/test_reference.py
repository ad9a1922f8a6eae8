"""The real AdaIN weights: stylert against an independent transcription of pytorch-AdaIN, and the
behaviour users rely on (reconstruction, statistics, alpha, interpolation, masks, colour)."""

from __future__ import annotations

import numpy as np
import pytest
import reference_impls as R
import torch
from click.testing import CliRunner
from conftest import psnr
from PIL import Image
from stylert.cli import main
from stylert.core.color import rgb_to_yiq
from stylert.core.images import load_image, to_uint8
from stylert.models.adain import calc_mean_std
from stylert.models.stylize import ReferenceStylizer, StylizeOptions

pytestmark = pytest.mark.real_weights


@pytest.fixture(scope="module")
def runner(adain_model):
    return ReferenceStylizer(adain_model, "cpu")


@pytest.mark.parametrize(
    "content,style,size,alpha,preserve",
    [
        ("chicago.jpg", "la_muse.jpg", 240, 1.0, False),  # non-square: 360x240
        ("golden_gate.jpg", "woman_with_hat_matisse.jpg", 256, 0.6, False),
        ("chicago.jpg", "mondrian.jpg", 160, 1.0, True),  # 240x160
    ],
)
def test_stylize_cli_matches_pytorch_adain(content, style, size, alpha, preserve, shared_images, adain_files,
                                          use_shared_weights, tmp_path):
    c, s = shared_images / "content" / content, shared_images / "style" / style
    out = tmp_path / "out.png"
    args = ["stylize", "-c", str(c), "-s", str(s), "-o", str(out), "--content-size", str(size),
            "--style-size", str(size), "--alpha", str(alpha), "--device", "cpu"]
    result = CliRunner().invoke(main, args + (["--preserve-color"] if preserve else []))
    assert result.exit_code == 0, result.output
    ours = np.asarray(Image.open(out))
    ref = R.run_pytorch_adain(*adain_files, c, s, size, size, alpha=alpha, preserve_color=preserve)
    assert ours.shape == ref.shape
    diff = np.abs(ours.astype(int) - ref.astype(int))
    value = psnr(ours, ref, 255)
    print(f"{content} x {style} @{size} alpha={alpha} preserve={preserve}: max |diff| {diff.max()} "
          f"(uint8 levels), pixels differing {np.count_nonzero(diff)}, PSNR {value:.1f} dB (tolerance >= 50 dB)")
    assert value >= 50.0


def test_interpolation_matches_pytorch_adain(shared_images, adain_files, runner):
    """pytorch-AdaIN blends AdaIN outputs; stylert blends style statistics: the same thing."""
    c = shared_images / "content" / "sailboat.jpg"
    styles = [shared_images / "style" / n for n in ("la_muse.jpg", "sketch.png", "mondrian.jpg")]
    weights = [0.5, 0.3, 0.2]
    enc, dec = R.vgg(), R.decoder()
    enc.load_state_dict(torch.load(adain_files[0], weights_only=True))
    dec.load_state_dict(torch.load(adain_files[1], weights_only=True))
    enc = torch.nn.Sequential(*list(enc.children())[:31])
    content_t = R.test_transform(c, 192, True).unsqueeze(0)
    style_t = torch.stack([R.test_transform(p, 192, True) for p in styles])
    with torch.no_grad():
        ref = R.save_image_array(R.style_transfer(enc, dec, content_t.expand_as(style_t), style_t, 1.0, weights))
    ours = to_uint8(runner.stylize(load_image(c, size=192, crop=True), [load_image(p, size=192, crop=True)
                                                                      for p in styles], StylizeOptions(weights=tuple(weights))))
    value = psnr(ours, ref, 255)
    print(f"interpolation of 3 styles: PSNR {value:.1f} dB vs pytorch-AdaIN (tolerance >= 50 dB)")
    assert value >= 50.0


def test_reconstruction_and_alpha_zero(shared_images, adain_model, runner):
    x = load_image(shared_images / "content" / "golden_gate.jpg", size=256)
    t = torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1)))[None]
    with torch.no_grad():
        rec = adain_model.decode(adain_model.encode(t))[0].numpy().transpose(1, 2, 0)
    value = psnr(np.clip(rec, 0, 1), x)
    print(f"decode(encode(x)) PSNR {value:.2f} dB (tolerance >= 15 dB)")
    assert value >= 15.0
    style = load_image(shared_images / "style" / "la_muse.jpg", size=256)
    zero = runner.stylize(x, [style], StylizeOptions(alpha=0.0))
    np.testing.assert_allclose(zero, rec, atol=1e-6)
    assert psnr(np.clip(runner.stylize(x, [style]), 0, 1), x) < value - 3  # alpha 1 really stylizes


def test_output_statistics_move_toward_style(shared_images, adain_model, runner):
    content = load_image(shared_images / "content" / "cornell.jpg", size=256)
    style = load_image(shared_images / "style" / "woman_with_hat_matisse.jpg", size=256)
    out = np.clip(runner.stylize(content, [style]), 0, 1)

    def stats(img):
        with torch.no_grad():
            f = adain_model.encode(torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))[None])["relu4_1"]
        m, s = calc_mean_std(f)
        return torch.cat([m.flatten(), s.flatten()])

    sc, ss, so = stats(content), stats(style), stats(out)
    before, after = (sc - ss).norm().item(), (so - ss).norm().item()
    print(f"relu4_1 mean/std distance to the style: content {before:.2f}, output {after:.2f}")
    assert after < 0.5 * before


def test_weights_one_zero_equals_single_style(shared_images, runner):
    content = load_image(shared_images / "content" / "modern.jpg", size=160)
    a = load_image(shared_images / "style" / "brushstrokes.jpg", size=160)
    b = load_image(shared_images / "style" / "sketch.png", size=160)
    single = runner.stylize(content, [a])
    np.testing.assert_allclose(runner.stylize(content, [a, b], StylizeOptions(weights=(1.0, 0.0))), single, atol=1e-5)


def test_mask_assigns_styles_to_regions(shared_images, runner):
    content = load_image(shared_images / "content" / "sailboat.jpg", size=128)
    a = load_image(shared_images / "style" / "la_muse.jpg", size=128)
    b = load_image(shared_images / "style" / "sketch.png", size=128)
    mask = np.zeros(content.shape[:2], np.float32)
    mask[:, :64] = 1
    out = runner.stylize(content, [a, b], StylizeOptions(mask=mask))
    only_a, only_b = runner.stylize(content, [a]), runner.stylize(content, [b])
    left, right = np.s_[:, 8:56], np.s_[:, 72:120]
    assert np.abs(out[left] - only_a[left]).mean() < np.abs(out[left] - only_b[left]).mean()
    assert np.abs(out[right] - only_b[right]).mean() < np.abs(out[right] - only_a[right]).mean()


def test_luminance_mode_keeps_content_chrominance(shared_images, runner):
    content = load_image(shared_images / "content" / "flowers.jpg", size=128)
    style = load_image(shared_images / "style" / "la_muse.jpg", size=128)
    out = runner.stylize(content, [style], StylizeOptions(preserve_color="luminance"))
    np.testing.assert_allclose(rgb_to_yiq(out)[..., 1:], rgb_to_yiq(content)[..., 1:], atol=1e-5)
    assert np.abs(rgb_to_yiq(out)[..., 0] - rgb_to_yiq(content)[..., 0]).mean() > 0.02
