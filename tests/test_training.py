"""Training: the losses against hand computations, the data stream, exact resume, the command line."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image
from stylert.cli import main
from stylert.errors import CheckpointError, ImageError, ModelError, OutputError
from stylert.models import create_model, list_families
from stylert.models.checkpoints import load_model, read_state
from stylert.training.data import PairDataset, list_images, make_loader
from stylert.training.initial import initial_model
from stylert.training.logs import read_log
from stylert.training.losses import (
    LossWeights,
    compute_losses,
    default_loss_weights,
    mean_std_loss,
)
from stylert.training.run import RunOptions, TrainConfig, resume_config, train
from stylert.training.step import OptimConfig, TrainStep

FAMILIES = list_families()
EPS = 1e-5


pytestmark = pytest.mark.usefixtures("torch_one_thread")


def _he(family, seed=0):
    """Random weights that keep activations at a sensible scale through the VGG (as tests/test_models.py)."""
    torch.manual_seed(seed)
    model = create_model(family)
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.normal_(0.0, (2.0 / p[0].numel()) ** 0.5) if name.endswith("weight") else p.zero_()
    return model


def _write_images(folder, count, seed, size=(56, 44), ext=".png"):
    """Smooth random pictures (gradients + waves), ``count`` of them, some in a sub-folder."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        w, h = size
        yy, xx = np.mgrid[0:h, 0:w]
        f = rng.uniform(0.05, 0.4, 3)
        img = np.stack([0.5 + 0.5 * np.sin(xx * f[c] + yy * f[(c + 1) % 3] + rng.uniform(0, 6)) for c in range(3)], -1)
        sub = folder / "sub" if i % 3 == 2 else folder
        sub.mkdir(exist_ok=True)
        path = sub / f"img{i:02d}{ext}"
        Image.fromarray((img * 255).astype(np.uint8)).save(path)
        paths.append(path)
    return paths


@pytest.fixture
def data_dirs(tmp_path):
    content, style = tmp_path / "content", tmp_path / "style"
    _write_images(content, 5, 1)
    _write_images(style, 4, 2, size=(48, 60), ext=".jpg")
    return content, style


# --------------------------------------------------------------------------- losses by hand


def _mean_std(x):
    """mu and sigma by hand: mean over H*W, sigma = sqrt(sum (x - mu)^2 / (H*W - 1) + eps)."""
    n, c = x.shape[:2]
    flat = x.reshape(n, c, -1).double()
    mu = flat.sum(-1) / flat.shape[-1]
    var = ((flat - mu[..., None]) ** 2).sum(-1) / (flat.shape[-1] - 1)
    return mu, (var + EPS).sqrt()


def _mse(a, b):
    return ((a.double() - b.double()) ** 2).sum() / a.numel()


def _style(out_feats, style_feats, taps):
    total = 0.0
    for t in taps:
        (mo, so), (ms, ss) = _mean_std(out_feats[t]), _mean_std(style_feats[t])
        total = total + _mse(mo, ms) + _mse(so, ss)
    return total


def _adain(x, y):
    (mx, sx), (my, sy) = _mean_std(x), _mean_std(y)
    mx, sx, my, sy = (v[..., None, None] for v in (mx, sx, my, sy))
    return ((x.double() - mx) / sx * sy + my).float()


def _norm(x):
    m, s = _mean_std(x)
    return (x.double() - m[..., None, None]) / s[..., None, None]


def test_mean_std_loss_by_hand():
    x = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]])
    y = torch.tensor([[[[0.0, 0.0], [0.0, 2.0]]]])
    # mu 2.5 and 0.5; unbiased var 5/3 and 1
    expected = (2.5 - 0.5) ** 2 + (math.sqrt(5 / 3 + EPS) - math.sqrt(1 + EPS)) ** 2
    got = mean_std_loss(x, y).item()
    print(f"mean/std loss {got:.7f}, by hand {expected:.7f}")
    assert got == pytest.approx(expected, rel=1e-6)
    # two channels: the MSE averages over N*C entries
    x2, y2 = torch.cat([x, x], 1), torch.cat([y, x], 1)
    assert mean_std_loss(x2, y2).item() == pytest.approx(expected / 2, rel=1e-6)


@pytest.mark.parametrize("family", ["adain", "adain-multilevel"])
def test_adain_family_losses_match_hand_computation(family):
    model = _he(family)
    torch.manual_seed(1)
    c, s = torch.rand(2, 3, 16, 24), torch.rand(2, 3, 16, 24)
    w = LossWeights(content=1.5, style=7.0, level_weights=(0.5, 2.0, 1.0))
    got = compute_losses(model, c, s, w)

    enc = model.encoder
    taps = ("relu1_1", "relu2_1", "relu3_1", "relu4_1")
    with torch.no_grad():
        fc, fs = enc(c, taps), enc(s, taps)
        levels = ("relu4_1",) if family == "adain" else ("relu2_1", "relu3_1", "relu4_1")
        level_w = (1.0,) if family == "adain" else w.level_weights
        t = {lvl: _adain(fc[lvl], fs[lvl]) for lvl in levels}
        out = model.decoder(t)
        fo = enc(out, taps)
        content = sum(lw * _mse(fo[lvl], t[lvl]) for lw, lvl in zip(level_w, levels))
        style = _style(fo, fs, taps)
    total = w.content * content + w.style * style
    print(f"{family}: content {got.parts['content'].item():.6f} (hand {content.item():.6f}), "
          f"style {got.parts['style'].item():.6f} (hand {style.item():.6f})")
    assert got.parts["content"].item() == pytest.approx(content.item(), rel=1e-4)
    assert got.parts["style"].item() == pytest.approx(style.item(), rel=1e-4)
    assert got.total.item() == pytest.approx(total.item(), rel=1e-4)
    assert got.total.requires_grad


@pytest.mark.parametrize("family", ["sanet", "sanet-multilevel"])
def test_attention_family_losses_match_hand_computation(family):
    model = _he(family)
    torch.manual_seed(2)
    c, s = torch.rand(1, 3, 32, 48), torch.rand(1, 3, 32, 48)
    w = LossWeights(content=2.0, style=3.5, identity_pixel=40.0, identity_feature=0.5)
    got = compute_losses(model, c, s, w)

    enc = model.encoder
    taps = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")

    def generate(a, b):  # decoder(transform(a, b)), the model's own transform at alpha 1
        fa, fb = enc(a, ("relu4_1", "relu5_1")), enc(b, ("relu4_1", "relu5_1"))
        return model.decoder(model.transfer(fa, model.style_code(fb), 1.0))

    with torch.no_grad():
        fc, fs = enc(c, taps), enc(s, taps)
        out = generate(c, s)
        fo = enc(out, taps)
        content = _mse(_norm(fo["relu4_1"]), _norm(fc["relu4_1"])) + _mse(_norm(fo["relu5_1"]), _norm(fc["relu5_1"]))
        style = _style(fo, fs, taps)
        icc, iss = generate(c, c), generate(s, s)
        id1 = _mse(icc, c) + _mse(iss, s)
        fcc, fss = enc(icc, taps), enc(iss, taps)
        id2 = sum(_mse(fcc[t], fc[t]) + _mse(fss[t], fs[t]) for t in taps)
    expected = {"content": content, "style": style, "identity_pixel": id1, "identity_feature": id2}
    for name, value in expected.items():
        print(f"{family}: {name} {got.parts[name].item():.6f} (hand {value.item():.6f})")
        assert got.parts[name].item() == pytest.approx(value.item(), rel=1e-4), name
    total = w.content * content + w.style * style + w.identity_pixel * id1 + w.identity_feature * id2
    assert got.total.item() == pytest.approx(total.item(), rel=1e-4)


@pytest.mark.parametrize("family", FAMILIES)
def test_mixed_precision_losses_agree_with_float32(family):
    """The autocast path (encoder and decoder in float16, statistics and transform in float32), run with the
    CPU's float16 autocast here, gives the float32 losses to within 1%."""
    model = _he(family)
    torch.manual_seed(3)
    c, s = torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32)
    full, half = compute_losses(model, c, s), compute_losses(model, c, s, amp=True)
    for name, value in full.parts.items():
        assert half.parts[name].dtype == torch.float32
        assert half.parts[name].item() == pytest.approx(value.item(), rel=1e-2), name
    half.total.backward()
    assert all(torch.isfinite(p.grad).all() for p in model.decoder.parameters())


def test_default_weights_are_the_references():
    assert default_loss_weights("adain") == LossWeights(content=1.0, style=10.0)
    assert default_loss_weights("adain-multilevel").level_weights == (1.0, 1.0, 1.0)
    sanet = default_loss_weights("sanet")
    assert (sanet.content, sanet.style, sanet.identity_pixel, sanet.identity_feature) == (1.0, 3.0, 50.0, 1.0)
    with pytest.raises(ModelError, match="multiples of 16"):
        compute_losses(_he("sanet"), torch.rand(1, 3, 24, 24), torch.rand(1, 3, 32, 32))


@pytest.mark.parametrize("family", FAMILIES)
def test_step_trains_transform_and_decoder_never_the_encoder(family):
    model = _he(family)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    trainer = TrainStep(model, default_loss_weights(family), OptimConfig(lr=1e-3, lr_decay=0.5, grad_clip=1.0))
    size = 32
    for i in range(2):
        values = trainer.step(i, torch.rand(1, 3, size, size), torch.rand(1, 3, size, size))
    assert values["lr"] == pytest.approx(1e-3 / (1 + 0.5 * 1))  # lr / (1 + decay * i), i = 1
    assert trainer.optimizer.param_groups[0]["lr"] == values["lr"]
    assert math.isfinite(values["grad_norm"])
    after = model.state_dict()
    for key in before:
        changed = not torch.equal(before[key], after[key])
        assert changed == (not key.startswith("encoder.")), key
    assert all(p.grad is None for p in model.encoder.parameters())


# --------------------------------------------------------------------------- data


def test_list_images_is_recursive_and_filters(tmp_path):
    _write_images(tmp_path, 3, 0)
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / ".hidden.png").write_bytes(b"")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "a.jpg").write_bytes(b"")
    Image.new("RGB", (20, 20)).save(tmp_path / "sub" / "x.WEBP", format="WEBP")
    names = [p.relative_to(tmp_path).as_posix() for p in list_images(tmp_path)]
    assert names == ["img00.png", "img01.png", "sub/img02.png", "sub/x.WEBP"]
    (tmp_path / "empty").mkdir()
    with pytest.raises(ImageError, match="no images"):
        list_images(tmp_path / "empty")


def test_pairs_are_independent_random_and_deterministic(tmp_path):
    content = _write_images(tmp_path / "c", 4, 0)
    style = _write_images(tmp_path / "s", 3, 1)
    ds = PairDataset(content, style, image_size=40, crop_size=32, seed=5)
    content_idx = [ds.content.index(k) for k in range(12)]
    style_idx = [ds.style.index(k) for k in range(12)]
    for e in range(3):  # each epoch of each folder is a permutation of it
        assert sorted(content_idx[4 * e : 4 * e + 4]) == [0, 1, 2, 3]
    for e in range(4):
        assert sorted(style_idx[3 * e : 3 * e + 3]) == [0, 1, 2]
    assert len(set(zip(content_idx, style_idx))) > 4, "pairs repeat like a zip"
    again = PairDataset(content, style, image_size=40, crop_size=32, seed=5)
    other = PairDataset(content, style, image_size=40, crop_size=32, seed=6)
    a, b, o = ds[7], again[7], other[7]
    assert a["content"].shape == (3, 32, 32) and a["content"].dtype == torch.float32
    assert torch.equal(a["content"], b["content"]) and torch.equal(a["style"], b["style"])
    assert not torch.equal(a["content"], o["content"]) or not torch.equal(a["style"], o["style"])


def test_loader_resumes_at_any_position_with_any_workers(data_dirs):
    content, style = (list_images(d) for d in data_dirs)
    ds = PairDataset(content, style, image_size=40, crop_size=32, seed=0)
    it = iter(make_loader(ds, 2, start=0, workers=0))
    straight = [next(it)["content"] for _ in range(4)]
    resumed = iter(make_loader(ds, 2, start=4, workers=2))  # batches 2 and 3, from a worker pool
    assert torch.equal(next(resumed)["content"], straight[2])
    assert torch.equal(next(resumed)["content"], straight[3])


def test_broken_files_are_skipped_and_counted(data_dirs, tmp_path):
    content_dir, style_dir = data_dirs
    good = sorted(content_dir.glob("*.png"))[0].read_bytes()
    (content_dir / "truncated.png").write_bytes(good[: len(good) // 2])
    (content_dir / "not-an-image.jpg").write_text("hello")
    content = list_images(content_dir)
    ds = PairDataset(content, list_images(style_dir), image_size=40, crop_size=32, seed=0)
    skipped = set()
    for batch in _take(make_loader(ds, 2, workers=0), 8):
        assert batch["content"].shape == (2, 3, 32, 32) and torch.isfinite(batch["content"]).all()
        skipped |= {path for path, _ in batch["skipped"]}
    print("skipped:", sorted(skipped))
    assert {p.rsplit("/", 1)[-1] for p in skipped} == {"truncated.png", "not-an-image.jpg"}


def _take(loader, n):
    it = iter(loader)
    return [next(it) for _ in range(n)]


def test_a_folder_of_only_broken_files_fails_clearly(tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    for i in range(3):
        (bad / f"{i}.jpg").write_text("nope")
    ds = PairDataset(list_images(bad), list_images(bad), image_size=40, crop_size=32)
    with pytest.raises(ImageError, match="unreadable images in a row"):
        ds[0]


# --------------------------------------------------------------------------- runs, checkpoints, resume


def _config(family, data_dirs, **kw):
    content, style = data_dirs
    base = dict(family=family, content_dir=str(content), style_dir=str(style), iterations=4, batch_size=2,
                image_size=40, crop_size=32, lr=1e-3, seed=3)
    base.update(kw)
    return TrainConfig(**base)


def _options(out, **kw):
    return RunOptions(out_dir=str(out), **{**dict(checkpoint_every=2, sample_every=2, samples=1, workers=0,
                                                  device="cpu", progress=False), **kw})


def _quiet(*args):
    pass


@pytest.mark.parametrize("family", ["adain-multilevel", "sanet-multilevel"])  # one of each loss function
def test_resume_continues_exactly(family, data_dirs, tmp_path, use_shared_weights):
    """4 iterations straight == 2 iterations, stop, resume from the checkpoint, 2 more: every loss, every
    weight, the optimizer and the RNG states, bit for bit."""
    straight = train(_config(family, data_dirs), _options(tmp_path / "a", checkpoint_every=4, samples=0), log=_quiet)
    train(_config(family, data_dirs, iterations=2), _options(tmp_path / "b", samples=0), log=_quiet)
    resumed = train(_config(family, data_dirs), _options(tmp_path / "b", resume=True, samples=0), log=_quiet)
    assert straight.step == resumed.step == 4
    rows_a, rows_b = read_log(tmp_path / "a" / "log.csv"), read_log(tmp_path / "b" / "log.csv")
    assert [r["step"] for r in rows_b] == [1, 2, 3, 4]
    for ra, rb in zip(rows_a, rows_b):
        print(family, ra["step"], ra["loss"], rb["loss"])
        for key in ("lr", "loss", "content", "style", "identity_pixel", "identity_feature"):
            if key not in ra:
                continue
            assert ra[key] == rb[key], (key, ra["step"])
    a = read_state(tmp_path / "a" / "checkpoints" / "last.pt")
    b = read_state(tmp_path / "b" / "checkpoints" / "last.pt")
    for key in a["state_dict"]:
        assert torch.equal(a["state_dict"][key], b["state_dict"][key]), key
    for pid, state in a["optimizer"]["state"].items():
        assert torch.equal(state["exp_avg_sq"], b["optimizer"]["state"][pid]["exp_avg_sq"])
    assert torch.equal(a["rng"]["torch"], b["rng"]["torch"])
    assert torch.equal(a["rng"]["python"]["state"], b["rng"]["python"]["state"])
    assert a["data"]["position"] == 8 and a["step"] == 4


def test_zero_iterations_save_the_warm_start_and_resume_exactly(data_dirs, tmp_path, use_shared_weights):
    """--iterations 0 saves the initial model (here the warm start) as step 0 with its training state; resuming
    it to 2 iterations computes what 2 iterations straight do."""
    family = "adain-multilevel"
    out = tmp_path / "zero"
    messages = []
    result = train(_config(family, data_dirs, iterations=0, from_pretrained=True), _options(out), log=messages.append)
    assert result.step == 0 and result.last_checkpoint == out / "checkpoints" / "step_000000.pt"
    assert any("saved the initial model" in m for m in messages), messages
    names = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert names == [".stylert-output.json", "checkpoints/last.pt", "checkpoints/step_000000.pt", "log.csv", "loss.png",
                     "samples/step_000000.png"]
    saved = load_model([out / "checkpoints" / "last.pt"])
    warm = initial_model(family, from_pretrained=True, log=_quiet)
    for key, value in warm.state_dict().items():
        assert torch.equal(saved.state_dict()[key], value), key
    assert read_state(out / "checkpoints" / "last.pt")["step"] == 0 and read_log(out / "log.csv") == []

    straight = tmp_path / "straight"
    train(_config(family, data_dirs, iterations=2, from_pretrained=True), _options(straight, samples=0), log=_quiet)
    train(_config(family, data_dirs, iterations=2, from_pretrained=True), _options(out, resume=True, samples=0),
          log=_quiet)
    rows_a, rows_b = read_log(straight / "log.csv"), read_log(out / "log.csv")
    assert [r["step"] for r in rows_b] == [1, 2]
    assert [r["loss"] for r in rows_a] == [r["loss"] for r in rows_b]


def test_run_outputs_are_complete_and_deployable(data_dirs, tmp_path, use_shared_weights):
    out = tmp_path / "run"
    result = train(_config("adain-multilevel", data_dirs, iterations=3), _options(out), log=_quiet)
    names = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert names == [".stylert-output.json", "checkpoints/last.pt", "checkpoints/step_000002.pt",
                     "checkpoints/step_000003.pt", "log.csv", "loss.png", "samples/step_000002.png",
                     "samples/step_000003.png"]
    assert result.last_checkpoint == out / "checkpoints" / "step_000003.pt"
    payload = torch.load(out / "checkpoints" / "last.pt", weights_only=True)  # no pickled objects
    assert {"step", "training", "optimizer", "scaler", "rng", "data", "skipped_files"} <= set(payload)
    assert set(payload["rng"]) == {"torch", "cuda", "numpy", "python"}
    assert payload["training"]["weights"]["level_weights"] == [1.0, 1.0, 1.0]
    model = load_model([out / "checkpoints" / "last.pt"])  # what `stylert export` loads
    assert model.family == "adain-multilevel"
    public = read_state(use_shared_weights / "adain" / "vgg_normalised.pth")
    assert torch.equal(model.encoder.net[2].weight, public["2.weight"])  # the encoder stayed frozen
    png = Image.open(out / "loss.png")
    assert png.size == (960, 540) and len(png.getcolors(maxcolors=100_000)) > 10
    assert Image.open(out / "samples" / "step_000003.png").size[0] > 3 * 32
    assert not list(out.rglob(".*tmp"))


def test_out_dir_refusals_and_resume_conflicts(data_dirs, tmp_path, use_shared_weights):
    out = tmp_path / "run"
    train(_config("adain", data_dirs, iterations=2), _options(out, samples=0), log=_quiet)
    with pytest.raises(OutputError, match="not empty"):
        train(_config("adain", data_dirs, iterations=2), _options(out), log=_quiet)
    (out / "keep.txt").write_text("mine")
    train(_config("adain", data_dirs, iterations=1), _options(out, overwrite=True, samples=0), log=_quiet)
    assert (out / "keep.txt").exists() and not (out / "checkpoints" / "step_000002.pt").exists()
    with pytest.raises(OutputError, match="last.pt"):
        train(_config("adain", data_dirs), _options(tmp_path / "none", resume=True), log=_quiet)
    saved = read_state(out / "checkpoints" / "last.pt")["training"]
    with pytest.raises(ModelError, match="lr 0.001"):
        resume_config(saved, _config("adain", data_dirs, lr=5e-4), {"lr"})
    longer = resume_config(saved, _config("adain", data_dirs, iterations=9, lr=5e-4), {"iterations"})
    assert longer.iterations == 9 and longer.lr == 1e-3
    Image.new("RGB", (50, 50)).save(data_dirs[0] / "new.png")
    with pytest.raises(ModelError, match="content folder changed"):
        train(_config("adain", data_dirs, iterations=2), _options(out, resume=True), log=_quiet)


def test_skipped_files_reach_the_log_and_checkpoint(data_dirs, tmp_path, use_shared_weights):
    (data_dirs[1] / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really")
    messages = []
    result = train(_config("adain", data_dirs, iterations=2, batch_size=4), _options(tmp_path / "r", samples=0),
                   log=messages.append)
    assert [p.rsplit("/", 1)[-1] for p in result.skipped_files] == ["broken.jpg"]
    assert read_log(tmp_path / "r" / "log.csv")[-1]["skipped_files"] == 1
    assert read_state(tmp_path / "r" / "checkpoints" / "last.pt")["skipped_files"] == result.skipped_files
    assert any("broken.jpg" in m for m in messages)


def test_from_pretrained_loads_the_public_decoder(use_shared_weights):
    model = initial_model("sanet", from_pretrained=True, log=_quiet)
    public = read_state(use_shared_weights / "adain" / "decoder.pth")
    assert torch.equal(model.decoder.rc1.conv.weight, public["1.weight"])
    assert torch.equal(model.decoder.rc9.conv.bias, public["28.bias"])
    notes = []
    fused = initial_model("sanet-multilevel", from_pretrained=True, log=notes.append)
    assert torch.equal(fused.decoder.rc5.conv.weight, public["14.weight"]) and any("rc0" in n for n in notes)
    with pytest.raises(CheckpointError, match="not pytorch-AdaIN's decoder.pth"):
        initial_model("adain", from_pretrained=True, decoder=use_shared_weights / "adain" / "vgg_normalised.pth",
                      log=_quiet)


# --------------------------------------------------------------------------- the command line


def _invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_cli_trains_resumes_and_inspects(data_dirs, tmp_path, use_shared_weights):
    content, style = data_dirs
    out = tmp_path / "cli"
    common = ["--content", content, "--style", style, "--out", out, "--batch-size", 1, "--crop-size", 32,
              "--image-size", 40, "--checkpoint-every", 2, "--sample-every", 2, "--samples", 1, "--workers", 0,
              "--device", "cpu"]
    result = _invoke("train", "--model", "adain", "--iterations", 2, "--amp", "--style-weight", 2,
                     "--level-weights", "1,2,3", *common)
    print(result.output)
    assert result.exit_code == 0, result.output
    from stylert.training.precision import select

    amp_line = "bfloat16 autocast on the CPU" if select(True, "cpu").enabled else "no bfloat16 instructions"
    assert amp_line in result.output and "--level-weights does not apply" in result.output
    assert "step 2/2" in result.output
    assert (out / "checkpoints" / "step_000002.pt").exists()

    again = _invoke("train", "--model", "adain", "--iterations", 2, *common)
    assert again.exit_code != 0 and "--overwrite" in again.output

    conflict = _invoke("train", "--resume", "--out", out, "--iterations", 3, "--style-weight", 3)
    assert conflict.exit_code != 0 and "style" in conflict.output

    # the run's own options (--checkpoint-every 2, --sample-every 2, --samples 1, --workers 0, --device cpu)
    # are kept: a plain --resume checkpoints at steps 4 and 5, not at the default every 10,000
    resumed = _invoke("train", "--resume", "--out", out, "--iterations", 5, "--style-weight", 2, "--samples", 0)
    print(resumed.output)
    assert resumed.exit_code == 0, resumed.output
    assert "resuming adain" in resumed.output and "step 5/5" in resumed.output
    kept = next(line for line in resumed.output.splitlines() if line.startswith("resuming with the run's settings"))
    assert "--checkpoint-every 2" in kept and "--sample-every 2" in kept and "--samples" not in kept
    assert (out / "checkpoints" / "step_000004.pt").exists() and (out / "checkpoints" / "step_000005.pt").exists()
    state = read_state(out / "checkpoints" / "last.pt")
    assert state["training"]["weights"]["style"] == 2.0
    assert state["run_options"]["checkpoint_every"] == 2 and state["run_options"]["samples"] == 0

    inspected = _invoke("inspect", out / "checkpoints" / "last.pt")
    assert inspected.exit_code == 0 and "family:          adain" in inspected.output
    assert "training state:" in inspected.output

    zero = _invoke("train", "--model", "adain", "--iterations", 0, "--content", content, "--style", style,
                   "--out", tmp_path / "zero", "--crop-size", 32, "--image-size", 40, "--samples", 0,
                   "--workers", 0, "--device", "cpu")
    assert zero.exit_code == 0, zero.output
    assert "saved the initial model" in zero.output and "(step 0)" in zero.output
    assert read_state(tmp_path / "zero" / "checkpoints" / "last.pt")["step"] == 0

    missing = _invoke("train", "--out", tmp_path / "x")
    assert missing.exit_code != 0 and "--model, --content, --style required" in missing.output
