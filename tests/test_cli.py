"""The command line as a user meets it: outputs, sizes, refusals and one-line errors."""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import white_runs
from PIL import Image
from stylert.cli import main


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture
def images(tmp_path):
    """A small content (250x333, odd) and style, written as a user would have them."""
    rng = np.random.default_rng(0)
    folder = tmp_path / "in"
    folder.mkdir()
    yy, xx = np.mgrid[0:250, 0:333]
    content = np.stack([xx / 333, yy / 250, 0.5 + 0.5 * np.sin(xx / 9.0)], -1)
    Image.fromarray((content * 255).astype(np.uint8)).save(folder / "content.png")
    Image.fromarray(rng.integers(0, 255, (120, 96, 3), dtype=np.uint8)).save(folder / "style.jpg")
    return folder / "content.png", folder / "style.jpg"


def outputs(folder):
    return sorted(p.name for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


@pytest.mark.parametrize("args", [["--help"], ["weights", "--help"], ["weights", "list"], ["weights", "path"]])
def test_entry_points_import_no_torch(args, use_shared_weights):
    """``stylert --help`` and ``stylert weights --help|list|path`` never import torch, onnx or ONNX Runtime."""
    code = (f"import sys\nfrom stylert.cli import main\ntry:\n    main({args!r})\nexcept SystemExit as e:\n"
            "    assert e.code in (0, None), e.code\n"
            "heavy = sorted({'torch', 'onnx', 'onnxruntime'} & set(sys.modules))\n"
            "assert not heavy, f'imported {heavy}'\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    if args == ["--help"]:
        for command in ("stylize", "demo", "inspect", "weights", "doctor"):
            assert command in result.stdout
    if args == ["weights", "path"]:
        assert str(use_shared_weights) in result.stdout


def test_stylize_keeps_odd_input_size(images, tmp_path, use_shared_weights):
    content, style = images
    out = tmp_path / "out"
    result = invoke("stylize", "-c", content, "-s", style, "-o", out, "--content-size", 0, "--style-size", 0,
                    "--device", "cpu")
    assert result.exit_code == 0, result.output
    written = out / "content_stylized_style.png"
    assert Image.open(written).size == (333, 250)
    assert outputs(out) == ["content_stylized_style.png"]


def test_folders_give_every_pair_and_existing_outputs_are_kept(images, tmp_path, use_shared_weights):
    content, style = images
    Image.open(style).transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(style.parent / "style2.png")
    out = tmp_path / "out"
    args = ["stylize", "-c", content, "-s", style.parent, "-o", out, "--content-size", 64, "--style-size", 64]
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    # the folder holds content.png too: it is a style as well, every pair is written
    assert outputs(out) == ["content_stylized_content.png", "content_stylized_style.png",
                            "content_stylized_style2.png"]
    before = (out / "content_stylized_style.png").read_bytes()
    again = invoke(*args, "--alpha", 0.3)
    assert again.exit_code != 0 and "already exist" in again.output and "--overwrite" in again.output
    assert (out / "content_stylized_style.png").read_bytes() == before
    replaced = invoke(*args, "--alpha", 0.3, "--overwrite")
    assert replaced.exit_code == 0, replaced.output
    assert (out / "content_stylized_style.png").read_bytes() != before


def test_interpolation_and_mask_make_one_output(images, tmp_path, use_shared_weights):
    content, style = images
    other = style.parent / "other.png"
    Image.fromarray(np.full((64, 64, 3), (200, 40, 40), np.uint8)).save(other)
    mask = style.parent / "mask.png"
    Image.fromarray(np.tile(np.arange(64, dtype=np.uint8)[None] * 4, (64, 1))).save(mask)
    out = tmp_path / "out"
    r1 = invoke("stylize", "-c", content, "-s", style, "-s", other, "--weights", "1,3", "-o", out,
                "--content-size", 64, "--style-size", 64)
    assert r1.exit_code == 0, r1.output
    r2 = invoke("stylize", "-c", content, "-s", style, "-s", other, "--mask", mask, "-o", out / "masked.png",
                "--content-size", 64, "--style-size", 64)
    assert r2.exit_code == 0, r2.output
    assert outputs(out) == ["content_stylized_style+other.png", "masked.png"]


@pytest.mark.parametrize(
    "make,expected",
    [
        (lambda p: p.write_bytes(b"this is not an image"), "not an image"),
        (lambda p: p.write_bytes(_jpeg_bytes()[:600]), "truncated"),
        (lambda p: Image.new("RGB", (3000, 2000)).save(p), "max-pixels"),
    ],
    ids=["not-an-image", "truncated", "decompression-bomb"],
)
def test_bad_content_fails_cleanly(make, expected, images, tmp_path, use_shared_weights):
    _, style = images
    bad = tmp_path / "bad.jpg"
    make(bad)
    out = tmp_path / "out"
    result = invoke("stylize", "-c", images[0], "-c", bad, "-s", style, "-o", out, "--max-pixels", 5_000_000)
    assert result.exit_code != 0
    assert "bad.jpg" in result.output and expected in result.output.lower()
    assert "Traceback" not in result.output
    assert outputs(out) == []  # not even the good content's output


def _jpeg_bytes():
    import io

    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(buf, "JPEG")
    return buf.getvalue()


@pytest.mark.parametrize(
    "args,expected",
    [
        (["--alpha", "1.5"], "[0, 1]"),
        (["--alpha", "x"], "not a number"),
        (["--weights", "1,2"], "2 weights for 1 style(s)"),
        (["--mask", "{style}"], "exactly two styles"),
        (["--model", "sanet"], "no public or shipped weights"),
        (["--model", "nope"], "unknown model family"),
        (["--checkpoint", "{style}"], "not a readable PyTorch checkpoint"),
        (["--ext", ".gif"], "not one of"),
        (["-c", "{missing}"], "missing.png"),
    ],
)
def test_bad_arguments(args, expected, images, tmp_path, use_shared_weights, monkeypatch):
    from stylert.core import shipped as registry

    # A checkout without shipped weights (every family ships some here): the refusal must still be clear.
    monkeypatch.setattr(registry, "SHIPPED_DIR", tmp_path / "no-shipped-weights")
    content, style = images
    args = [a.format(style=style, missing=tmp_path / "missing.png") for a in args]
    result = invoke("stylize", "-c", content, "-s", style, "-o", tmp_path / "out", *args)
    assert result.exit_code != 0
    assert expected in result.output, result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "out").exists()


def test_one_output_file_for_several_outputs_is_refused(images, tmp_path, use_shared_weights):
    content, style = images
    result = invoke("stylize", "-c", content, "-s", style, "-s", content, "-o", tmp_path / "x.png")
    assert result.exit_code != 0 and "2 outputs" in result.output


def test_exif_rotated_and_16_bit_inputs(tmp_path, images, use_shared_weights):
    _, style = images
    pixels = np.random.default_rng(1).integers(0, 255, (40, 72, 3), dtype=np.uint8)
    img = Image.fromarray(pixels)
    exif = img.getexif()
    exif[0x0112] = 6  # rotate 90 clockwise: the photo is shown 40 wide, 72 high
    img.save(tmp_path / "rotated.png", exif=exif)
    Image.fromarray(np.ascontiguousarray(np.rot90(pixels, -1))).save(tmp_path / "upright.png")  # as shown
    Image.fromarray((np.arange(48 * 64, dtype=np.uint16).reshape(48, 64) * 20)).save(tmp_path / "deep.png")
    out = tmp_path / "out"
    result = invoke("stylize", "-c", tmp_path / "rotated.png", "-c", tmp_path / "upright.png", "-c",
                    tmp_path / "deep.png", "-s", style, "-o", out, "--content-size", 0, "--style-size", 64)
    assert result.exit_code == 0, result.output
    rotated, upright = (np.asarray(Image.open(out / f"{n}_stylized_style.png")) for n in ("rotated", "upright"))
    assert rotated.shape == (72, 40, 3)
    np.testing.assert_array_equal(rotated, upright)  # the EXIF rotation was applied, the right way round
    assert Image.open(out / "deep_stylized_style.png").size == (64, 48)


def test_inspect(adain_files, tmp_path):
    result = invoke("inspect", *adain_files)
    assert result.exit_code == 0, result.output
    assert "family:          adain" in result.output and "layout:          pytorch-adain" in result.output
    assert "7,010,959" in result.output  # vgg up to relu4_1 (3,505,740) + decoder (3,505,219)
    listing = invoke("inspect")
    assert listing.exit_code == 0
    for name in ("adain-multilevel", "sanet-multilevel", "paper-attention"):
        assert name in listing.output
    (tmp_path / "x.pth").write_text("junk")
    bad = invoke("inspect", tmp_path / "x.pth")
    assert bad.exit_code != 0 and "x.pth" in bad.output


def test_doctor_reports_providers_that_load(use_shared_weights):
    import onnxruntime
    import torch
    from stylert.core.providers import cuda_provider_loads

    result = invoke("doctor")
    assert result.exit_code == 0, result.output
    lines = {line.split()[0]: line for line in result.output.splitlines() if line.strip()}
    assert lines["torch"].split()[1] == torch.__version__
    assert ("no CUDA GPU" in lines["torch"]) == (not torch.cuda.is_available())
    assert lines["onnxruntime"].split()[1] == onnxruntime.__version__
    assert lines["CPUExecutionProvider"].split()[1] == "ok"
    if "CUDAExecutionProvider" in lines:  # listed wherever its library is installed: "ok" only where it loads
        assert (lines["CUDAExecutionProvider"].split()[1] == "ok") == cuda_provider_loads()
    weights = [line for line in result.output.splitlines() if line.startswith("weights")]
    assert len(weights) == 2 and all(str(use_shared_weights) in w and w.endswith("ok") for w in weights), weights


def test_demo_runs_on_embedded_inputs(tmp_path, use_shared_weights):
    out = tmp_path / "demo"
    result = invoke("demo", "-o", out, "--size", 96, "--no-fetch", "--device", "cpu")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == [".stylert-output.json", "demo_content.png", "demo_grid.png", "demo_style.png",
                                                     "demo_stylized.png", "export-adain"]
    from stylert.core.demo import demo_content, demo_style
    from stylert.core.shipped import shipped_families
    from stylert.export.manifest import load_manifest
    from stylert.models.pretrained import load_public_adain
    from stylert.models.stylize import ReferenceStylizer

    content = np.asarray(Image.open(out / "demo_content.png"))
    np.testing.assert_array_equal(content, np.asarray(demo_content((128, 96))))  # the embedded scene
    np.testing.assert_array_equal(np.asarray(Image.open(out / "demo_style.png")), np.asarray(demo_style((96, 96))))
    want = ReferenceStylizer(load_public_adain(), "cpu").stylize(content.astype(np.float32) / 255,
                                                                  [np.asarray(demo_style((96, 96)), np.float32) / 255])
    got = np.asarray(Image.open(out / "demo_stylized.png")).astype(np.float32) / 255
    assert got.shape == (96, 128, 3) and np.abs(got - np.clip(want, 0, 1)).max() <= 1 / 255 + 1e-6
    # The export it ran through: the three graphs, validated at the demo's size.
    manifest = load_manifest(out / "export-adain")
    assert manifest.data["family"] == "adain" and manifest.data["validation"]["status"] == "passed"
    assert manifest.data["validation"]["sizes"] == ["96x128"]
    # Parity and latency are printed with their figures.
    parity = next(line for line in result.output.splitlines() if line.startswith("ONNX Runtime"))
    measured = re.search(r"image\s+(\S+)\s+(\S+)\s+(\S+) \(min 60\)\s+pass$", parity)
    assert measured and float(measured[1]) <= 1e-4 and float(measured[3]) >= 100, parity  # max abs, PSNR
    assert re.search(r"latency, content path .* median [0-9.]+ ms, p90 [0-9.]+ ms", result.output)
    # Row 1: content, style and one tile per family with weights; row 2: the runtime's six variants.
    grid = np.asarray(Image.open(out / "demo_grid.png"))
    assert grid.shape[0] > 2 * 96 and grid.shape[1] > 6 * 128 and grid.std() > 10
    assert max(white_runs(grid[4:4 + 256])) <= 4  # row 1 packed: no gap beside the square style tile
    for family in ("sanet", "sanet-multilevel"):
        assert (f"not in the grid: {family}" in result.output) == (family not in shipped_families())
    for family in ("adain-multilevel", "sanet", "sanet-multilevel"):
        assert (f"stylizing with {family}" in result.output) == (family in shipped_families())
    again = invoke("demo", "-o", out, "--size", 96, "--no-fetch")
    assert again.exit_code != 0 and "--overwrite" in again.output


@pytest.mark.parametrize(
    "args,expected",
    [
        (["stylize", "-c", "x.png", "-s", "y.png", "--content-size", "abc"], "'--content-size': 'abc'"),
        (["stylize", "-c", "x.png", "-s", "y.png", "--alpha", "1.5"], "--alpha"),
        (["stylize", "--no-such-option"], "--no-such-option"),
        (["export"], "'--out'"),
        (["evaluate", "run", "--grid-rows", "0"], "'--grid-rows': 0 is not in the range x>=1"),
        (["no-such-command"], "No such command 'no-such-command'"),
        (["stylize", "--alpha"], "stylert stylize: Option '--alpha' requires an argument"),
        (["export", "-o"], "stylert export: Option '-o' requires an argument"),
    ],
    ids=["not-an-int", "alpha-range", "unknown-option", "missing-option", "subcommand-range", "unknown-command",
         "missing-value", "missing-value-export"],
)
def test_usage_errors_are_one_line(args, expected):
    """Errors click finds while parsing options are one line on stderr naming the value and the fix, exit
    code 2: no usage block (the subprocess is the user's view: click's own ``main``, the real stderr)."""
    result = subprocess.run([sys.executable, "-m", "stylert", *args], capture_output=True, text=True)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: stylert") and expected in lines[0] and "(fix: " in lines[0], lines[0]
    assert "Usage:" not in result.stderr + result.stdout


@pytest.mark.parametrize("args", [
    ["export", "-o", "{tmp}/x", "--model", "foo"],
    ["stylize", "-c", "{tmp}/c.png", "-s", "{tmp}/s.png", "-o", "{tmp}/o.png", "--model", "foo"],
    ["inspect", "{tmp}/model.pt", "--model", "foo"],
    ["evaluate", "run", "-c", "{tmp}/c.png", "-s", "{tmp}/s.png", "-o", "{tmp}/r", "--model", "mine=foo"],
    ["train", "--model", "foo"],
    ["demo", "-o", "{tmp}/d", "--model", "foo"],
], ids=lambda a: " ".join(a[:2]))
def test_an_unknown_family_is_refused_while_parsing(args, tmp_path):
    """Every command's ``--model`` refuses an unknown family before any work (torch not even imported), on
    one line naming the registered families; nothing is written."""
    from stylert.models.family import family_names

    argv = [a.format(tmp=tmp_path) for a in args]
    code = ("import sys\nfrom stylert.cli import main\n"
            f"try:\n    main({argv!r}, prog_name='stylert')\nexcept SystemExit as e:\n    print(e.code, 'torch' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.stdout.split() == ["2", "False"], done.stdout + done.stderr
    assert len(lines) == 1 and lines[0].startswith(f"Error: stylert {args[0]}"), done.stderr
    assert f"unknown model family 'foo' (fix: use one of {', '.join(family_names())})" in lines[0], lines[0]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("args", [["--help"], ["--version"], ["stylize", "--help"], ["evaluate", "run", "--help"]])
def test_help_and_version_still_work(args):
    result = subprocess.run([sys.executable, "-m", "stylert", *args], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.strip() and not result.stderr.strip(), result.stderr


def _command_paths(command=None, path=()):
    """Every command and subcommand of ``stylert``, as argument lists: [], ["stylize"], ["evaluate", "run"], ..."""
    import click

    command = main if command is None else command
    yield list(path)
    if isinstance(command, click.Group):
        ctx = click.Context(command)
        for name in command.list_commands(ctx):
            yield from _command_paths(command.get_command(ctx, name), (*path, name))


def test_help_shows_real_ranges():
    """No ``[x<=None]`` (click's rendering of a range without bounds) or other ``None`` in any --help; the
    temporal options show the range their check enforces."""
    from stylert.core.temporal import MAX_BLEND, MAX_STRENGTH

    for path in _command_paths():
        result = CliRunner().invoke(main, [*path, "--help"], terminal_width=1000)
        assert result.exit_code == 0, (path, result.output)
        assert "None" not in result.output, (path, [line for line in result.output.splitlines() if "None" in line])
    stylize_help = invoke("stylize", "--help").output
    assert f"[0<=x<={MAX_STRENGTH}]" in stylize_help and f"[0<=x<={MAX_BLEND}]" in stylize_help


def test_evaluate_model_help_names_every_family_with_weights():
    from stylert.core.shipped import shipped_families

    text = CliRunner().invoke(main, ["evaluate", "run", "--help"], terminal_width=1000).output
    model_help = text.split("--model [LABEL=]FAMILY", 1)[1].split("--checkpoint", 1)[0]
    for family in ["adain", *shipped_families()]:
        assert family in model_help, model_help
