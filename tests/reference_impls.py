"""Independent transcriptions of the public reference implementations, used as test oracles.

Written from the public projects' architecture and test scripts, deliberately without any
stylert code, so that a test comparing stylert with these compares two implementations:

- pytorch-AdaIN (naoto0804): ``net.decoder``/``net.vgg`` as nn.Sequential, ``function.py``'s
  ``calc_mean_std``/``adaptive_instance_normalization``/``coral``, ``test.py``'s
  ``style_transfer``, ``test_transform`` (torchvision Resize/CenterCrop/ToTensor, done here
  with PIL as torchvision does for PIL images) and ``save_image``'s quantisation.
- SANet (GlebSBrykin/SANET): ``SANet`` and ``Transform`` modules.
- the paper's code layout (irasin-style ``RC`` decoder, ``VGGEncoder`` slices of torchvision's VGG19).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image

# ---------------------------------------------------------------- pytorch-AdaIN: net.py
decoder = lambda: nn.Sequential(  # noqa: E731
    nn.ReflectionPad2d((1, 1, 1, 1)), nn.Conv2d(512, 256, (3, 3)), nn.ReLU(),
    nn.Upsample(scale_factor=2, mode="nearest"),
    nn.ReflectionPad2d((1, 1, 1, 1)), nn.Conv2d(256, 256, (3, 3)), nn.ReLU(),
    nn.ReflectionPad2d((1, 1, 1, 1)), nn.Conv2d(256, 256, (3, 3)), nn.ReLU(),
    nn.ReflectionPad2d((1, 1, 1, 1)), nn.Conv2d(256, 256, (3, 3)), nn.ReLU(),
    nn.ReflectionPad2d((1, 1, 1, 1)), nn.Conv2d(256, 128, (3, 3)), nn.ReLU(),
    nn.Upsample(scale_factor=2, mode="nearest"),
    nn.ReflectionPad2d((1, 1, 1, 1)), nn.Conv2d(128, 128, (3, 3)), nn.ReLU(),
    nn.ReflectionPad2d((1, 1, 1, 1)), nn.Conv2d(128, 64, (3, 3)), nn.ReLU(),
    nn.Upsample(scale_factor=2, mode="nearest"),
    nn.ReflectionPad2d((1, 1, 1, 1)), nn.Conv2d(64, 64, (3, 3)), nn.ReLU(),
    nn.ReflectionPad2d((1, 1, 1, 1)), nn.Conv2d(64, 3, (3, 3)),
)


def vgg():
    def block(cin, cout):
        return [nn.ReflectionPad2d((1, 1, 1, 1)), nn.Conv2d(cin, cout, (3, 3)), nn.ReLU()]

    pool = lambda: nn.MaxPool2d((2, 2), (2, 2), (0, 0), ceil_mode=True)  # noqa: E731
    layers = [nn.Conv2d(3, 3, (1, 1))]
    layers += block(3, 64) + block(64, 64) + [pool()]  # relu1_1 = 3
    layers += block(64, 128) + block(128, 128) + [pool()]  # relu2_1 = 10
    layers += block(128, 256) + block(256, 256) + block(256, 256) + block(256, 256) + [pool()]  # relu3_1 = 17
    layers += block(256, 512) + block(512, 512) + block(512, 512) + block(512, 512) + [pool()]  # relu4_1 = 30
    layers += block(512, 512) + block(512, 512) + block(512, 512) + block(512, 512)  # relu5_1 = 43
    return nn.Sequential(*layers)


# ---------------------------------------------------------------- pytorch-AdaIN: function.py
def calc_mean_std(feat, eps=1e-5):
    size = feat.size()
    n, c = size[:2]
    feat_var = feat.view(n, c, -1).var(dim=2) + eps
    feat_std = feat_var.sqrt().view(n, c, 1, 1)
    feat_mean = feat.view(n, c, -1).mean(dim=2).view(n, c, 1, 1)
    return feat_mean, feat_std


def adaptive_instance_normalization(content_feat, style_feat):
    size = content_feat.size()
    style_mean, style_std = calc_mean_std(style_feat)
    content_mean, content_std = calc_mean_std(content_feat)
    normalized_feat = (content_feat - content_mean.expand(size)) / content_std.expand(size)
    return normalized_feat * style_std.expand(size) + style_mean.expand(size)


def _mat_sqrt(x):
    u, d, v = torch.svd(x)
    return torch.mm(torch.mm(u, d.pow(0.5).diag()), v.t())


def coral(source, target):
    def flat_mean_std(feat):
        f = feat.view(3, -1)
        return f, f.mean(dim=-1, keepdim=True), f.std(dim=-1, keepdim=True)

    source_f, source_mean, source_std = flat_mean_std(source)
    source_norm = (source_f - source_mean.expand_as(source_f)) / source_std.expand_as(source_f)
    source_cov_eye = torch.mm(source_norm, source_norm.t()) + torch.eye(3)
    target_f, target_mean, target_std = flat_mean_std(target)
    target_norm = (target_f - target_mean.expand_as(target_f)) / target_std.expand_as(target_f)
    target_cov_eye = torch.mm(target_norm, target_norm.t()) + torch.eye(3)
    transfer = torch.mm(_mat_sqrt(target_cov_eye), torch.mm(torch.inverse(_mat_sqrt(source_cov_eye)), source_norm))
    out = transfer * target_std.expand_as(source_norm) + target_mean.expand_as(source_norm)
    return out.view(source.size())


# ---------------------------------------------------------------- pytorch-AdaIN: test.py
def test_transform(path, size, crop):
    """transforms.Resize(size) [+ CenterCrop(size)] + ToTensor, as torchvision does it on PIL images."""
    img = Image.open(path).convert("RGB")
    if size != 0:
        w, h = img.size
        short, long = (w, h) if w <= h else (h, w)
        new_short, new_long = size, int(size * long / short)
        new_w, new_h = (new_short, new_long) if w <= h else (new_long, new_short)
        if (new_w, new_h) != (w, h):
            img = img.resize((new_w, new_h), Image.BILINEAR)
        if crop:
            w, h = img.size
            top, left = int(round((h - size) / 2.0)), int(round((w - size) / 2.0))
            img = img.crop((left, top, left + size, top + size))
    arr = np.asarray(img, dtype=np.uint8)
    return torch.from_numpy(arr.copy()).permute(2, 0, 1).contiguous().float().div(255)


def style_transfer(vgg_enc, dec, content, style, alpha=1.0, interpolation_weights=None):
    assert 0.0 <= alpha <= 1.0
    content_f = vgg_enc(content)
    style_f = vgg_enc(style)
    if interpolation_weights:
        _, c, h, w = content_f.size()
        feat = torch.FloatTensor(1, c, h, w).zero_()
        base_feat = adaptive_instance_normalization(content_f, style_f)
        for i, wgt in enumerate(interpolation_weights):
            feat = feat + wgt * base_feat[i : i + 1]
        content_f = content_f[0:1]
    else:
        feat = adaptive_instance_normalization(content_f, style_f)
    feat = feat * alpha + content_f * (1 - alpha)
    return dec(feat)


def save_image_array(tensor):
    """torchvision.utils.save_image's quantisation of a [1,3,H,W] tensor -> uint8 [H,W,3]."""
    grid = tensor[0]
    return grid.mul(255).add_(0.5).clamp_(0, 255).permute(1, 2, 0).to("cpu", torch.uint8).numpy()


def run_pytorch_adain(vgg_path, decoder_path, content_path, style_path, content_size=512, style_size=512,
                      crop=False, alpha=1.0, preserve_color=False):
    """The whole of pytorch-AdaIN's test.py for one pair -> uint8 [H,W,3]."""
    dec, enc = decoder(), vgg()
    dec.eval(), enc.eval()
    dec.load_state_dict(torch.load(decoder_path, weights_only=True))
    enc.load_state_dict(torch.load(vgg_path, weights_only=True))
    enc = nn.Sequential(*list(enc.children())[:31])
    content = test_transform(content_path, content_size, crop)
    style = test_transform(style_path, style_size, crop)
    if preserve_color:
        style = coral(style, content)
    with torch.no_grad():
        out = style_transfer(enc, dec, content.unsqueeze(0), style.unsqueeze(0), alpha)
    return save_image_array(out)


# ---------------------------------------------------------------- SANet (GlebSBrykin/SANET)
def mean_variance_norm(feat):
    size = feat.size()
    mean, std = calc_mean_std(feat)
    return (feat - mean.expand(size)) / std.expand(size)


class SANet(nn.Module):
    def __init__(self, in_planes):
        super().__init__()
        self.f = nn.Conv2d(in_planes, in_planes, (1, 1))
        self.g = nn.Conv2d(in_planes, in_planes, (1, 1))
        self.h = nn.Conv2d(in_planes, in_planes, (1, 1))
        self.sm = nn.Softmax(dim=-1)
        self.out_conv = nn.Conv2d(in_planes, in_planes, (1, 1))

    def forward(self, content, style):
        f = self.f(mean_variance_norm(content))
        g = self.g(mean_variance_norm(style))
        h = self.h(style)
        b, c, hh, ww = f.size()
        f = f.view(b, -1, ww * hh).permute(0, 2, 1)
        b, c, hh, ww = g.size()
        g = g.view(b, -1, ww * hh)
        s = self.sm(torch.bmm(f, g))
        b, c, hh, ww = h.size()
        h = h.view(b, -1, ww * hh)
        o = torch.bmm(h, s.permute(0, 2, 1))
        b, c, hh, ww = content.size()
        o = self.out_conv(o.view(b, c, hh, ww))
        return o + content


class Transform(nn.Module):
    def __init__(self, in_planes):
        super().__init__()
        self.sanet4_1 = SANet(in_planes)
        self.sanet5_1 = SANet(in_planes)
        self.upsample5_1 = nn.Upsample(scale_factor=2, mode="nearest")
        self.merge_conv_pad = nn.ReflectionPad2d((1, 1, 1, 1))
        self.merge_conv = nn.Conv2d(in_planes, in_planes, (3, 3))

    def forward(self, content4_1, style4_1, content5_1, style5_1):
        return self.merge_conv(self.merge_conv_pad(
            self.sanet4_1(content4_1, style4_1) + self.upsample5_1(self.sanet5_1(content5_1, style5_1))))


def sanet_transfer(vgg_full, dec, transform, content, style):
    """SANet's test: features relu1_1..relu5_1 from vgg slices, transform, decode."""
    enc = [vgg_full[:4], vgg_full[4:11], vgg_full[11:18], vgg_full[18:31], vgg_full[31:44]]

    def feats(x):
        out = []
        for e in enc:
            x = e(x)
            out.append(x)
        return out

    c, s = feats(content), feats(style)
    return dec(transform(c[3], s[3], c[4], s[4]))


# ---------------------------------------------------------------- the paper's code layout
class RC(nn.Module):
    def __init__(self, in_channels, out_channels, kernel_size=3, pad_size=1, activated=True):
        super().__init__()
        self.pad = nn.ReflectionPad2d((pad_size, pad_size, pad_size, pad_size))
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size)
        self.activated = activated

    def forward(self, x):
        h = self.conv(self.pad(x))
        return F.relu(h) if self.activated else h


def torchvision_vgg19_features():
    """torchvision.models.vgg19().features through relu5_1 (index 29), torchvision's indices."""
    cfg = [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512]
    layers, cin = [], 3
    for v in cfg:
        if v == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            layers += [nn.Conv2d(cin, v, kernel_size=3, padding=1), nn.ReLU(inplace=True)]
            cin = v
    return nn.Sequential(*layers)


class PaperVGGEncoder(nn.Module):
    def __init__(self, slices=4):
        super().__init__()
        features = torchvision_vgg19_features()
        bounds = [(0, 2), (2, 7), (7, 12), (12, 21), (21, 30)][:slices]
        for i, (a, b) in enumerate(bounds, 1):
            setattr(self, f"slice{i}", features[a:b])  # Sequential slicing keeps the original indices
        self.n = slices

    def forward(self, images):
        x = (images - torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)) / torch.tensor(
            [0.229, 0.224, 0.225]).view(1, 3, 1, 1)
        out = []
        for i in range(1, self.n + 1):
            x = getattr(self, f"slice{i}")(x)
            out.append(x)
        return out  # relu1_1, relu2_1, relu3_1, relu4_1[, relu5_1]


class PaperMultiLevelDecoder(nn.Module):
    """rc2 takes 256+256 (relu3_1), rc5 128+128 (relu2_1 resized, nearest, to the current size)."""

    def __init__(self):
        super().__init__()
        self.rc1, self.rc2, self.rc3 = RC(512, 256), RC(512, 256), RC(256, 256)
        self.rc4, self.rc5, self.rc6 = RC(256, 128), RC(256, 128), RC(128, 128)
        self.rc7, self.rc8, self.rc9 = RC(128, 64), RC(64, 64), RC(64, 3, activated=False)

    def forward(self, t4, t3, t2):
        h = F.interpolate(self.rc1(t4), scale_factor=2)
        h = self.rc2(torch.cat([h, F.interpolate(t3, size=h.shape[-2:])], 1))
        h = self.rc4(self.rc3(h))
        h = self.rc5(torch.cat([h, F.interpolate(t2, size=h.shape[-2:])], 1))
        h = self.rc7(self.rc6(F.interpolate(h, scale_factor=2)))
        h = self.rc9(self.rc8(F.interpolate(h, scale_factor=2)))
        return h * torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1) + torch.tensor(
            [0.485, 0.456, 0.406]).view(1, 3, 1, 1)


class PaperMultiLevelModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.vgg_encoder = PaperVGGEncoder(4)
        self.decoder = PaperMultiLevelDecoder()

    def generate(self, content, style, alpha=1.0):
        c, s = self.vgg_encoder(content), self.vgg_encoder(style)
        t = [adaptive_instance_normalization(c[i], s[i]) for i in (1, 2, 3)]
        t = [alpha * ti + (1 - alpha) * c[i] for ti, i in zip(t, (1, 2, 3))]
        return self.decoder(t[2], t[1], t[0])


class PaperAttentionDecoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.rc0 = RC(512, 512)
        self.rc1, self.rc2, self.rc3 = RC(512, 256), RC(256, 256), RC(256, 256)
        self.rc4, self.rc5, self.rc6 = RC(256, 256), RC(256, 128), RC(128, 128)
        self.rc7, self.rc8, self.rc9 = RC(128, 64), RC(64, 64), RC(64, 3, activated=False)

    def forward(self, o4, o5):
        h = self.rc0(o4 + F.interpolate(o5, scale_factor=2))
        h = F.interpolate(self.rc1(h), scale_factor=2)
        h = F.interpolate(self.rc5(self.rc4(self.rc3(self.rc2(h)))), scale_factor=2)
        h = F.interpolate(self.rc7(self.rc6(h)), scale_factor=2)
        h = self.rc9(self.rc8(h))
        return h * torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1) + torch.tensor(
            [0.485, 0.456, 0.406]).view(1, 3, 1, 1)


class PaperAttentionModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.vgg_encoder = PaperVGGEncoder(5)
        self.att1 = SANet(512)
        self.att2 = SANet(512)
        self.decoder = PaperAttentionDecoder()

    def generate(self, content, style):
        c, s = self.vgg_encoder(content), self.vgg_encoder(style)
        return self.decoder(self.att1(c[3], s[3]), self.att2(c[4], s[4]))
