"""benchmarks/gpu_tree.py: stash/restore of large tracked files (byte-identical), travelling size,
compact float16 public weights."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest

from stylert.benchmarks import gpu_tree


def _git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True).stdout


@pytest.fixture()
def repo(tmp_path):
    root = tmp_path / "repo"
    (root / "models" / "shipped").mkdir(parents=True)
    (root / "results").mkdir()
    _git(root, "init", "-q")
    (root / "models" / "shipped" / "big.safetensors").write_bytes(bytes(range(256)) * 8000)  # 2,048,000 B
    (root / "results" / "grid.png").write_bytes(b"\x89PNG" + b"\x01" * 1_500_000)
    (root / "results" / "small.json").write_text("{}\n")
    (root / "code.py").write_text("x = 1\n")
    (root / ".gitignore").write_text("/build/\n")
    _git(root, "add", ".")
    _git(root, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init")
    (root / "build").mkdir()
    (root / "build" / "weights.bin").write_bytes(b"w" * 300_000)  # ignored: travels only when carried
    (root / "notes.txt").write_text("untracked, not ignored\n")
    return root


def _digests(root: Path) -> dict[str, str]:
    return {p: hashlib.sha256((root / p).read_bytes()).hexdigest() for p in gpu_tree.tracked_files(root)}


def test_size_counts_tracked_untracked_and_carried(repo):
    ts = gpu_tree.tree_size(repo)
    assert ts.tracked == 2_048_000 + 1_500_004 + 3 + 6 + 8
    assert ts.untracked == len("untracked, not ignored\n")
    assert ts.carried == {}
    assert gpu_tree.tree_size(repo, ["build"]).carried == {"build": 300_000}
    assert "fits" in ts.format() and "OVER by" in ts.format(limit=1_000_000)
    with pytest.raises(gpu_tree.StashError, match="carried path does not exist"):
        gpu_tree.tree_size(repo, ["nothing-here"])


def test_stash_restore_round_trip_is_byte_identical_and_idempotent(repo, tmp_path):
    before = _digests(repo)
    stash_dir = tmp_path / "stash"
    moved = gpu_tree.stash(repo, stash_dir, threshold=1_000_000, say=lambda _: None)
    assert sorted(moved) == ["models/shipped/big.safetensors", "results/grid.png"]
    assert not (repo / "results" / "grid.png").exists() and (repo / "results" / "small.json").exists()
    assert gpu_tree.tree_size(repo).tracked == 3 + 6 + 8
    manifest = (stash_dir / gpu_tree.MANIFEST).read_text()
    assert before["results/grid.png"] in manifest
    assert gpu_tree.stash(repo, stash_dir, say=lambda _: None) == []  # again: nothing left to move
    done, refused = gpu_tree.restore(repo, stash_dir, say=lambda _: None)
    assert sorted(done) == sorted(moved) and refused == []
    assert _digests(repo) == before
    assert _git(repo, "status", "--porcelain", "--untracked-files=no") == ""
    assert not (stash_dir / gpu_tree.MANIFEST).exists()
    assert gpu_tree.restore(repo, stash_dir, say=lambda _: None) == ([], [])  # again: nothing to do


def test_restore_refuses_to_overwrite_a_changed_file(repo, tmp_path):
    stash_dir = tmp_path / "stash"
    gpu_tree.stash(repo, stash_dir, say=lambda _: None)
    (repo / "results" / "grid.png").write_bytes(b"the user's new image")
    done, refused = gpu_tree.restore(repo, stash_dir, say=lambda _: None)
    assert done == ["models/shipped/big.safetensors"] and refused == ["results/grid.png"]
    assert (repo / "results" / "grid.png").read_bytes() == b"the user's new image"
    assert (stash_dir / "results" / "grid.png").is_file()  # the stashed copy is kept
    assert "results/grid.png" in (stash_dir / gpu_tree.MANIFEST).read_text()
    assert gpu_tree.main(["--root", str(repo), "restore", "--dir", str(stash_dir)]) == 1


def test_restore_checks_the_stashed_copy(repo, tmp_path):
    stash_dir = tmp_path / "stash"
    gpu_tree.stash(repo, stash_dir, say=lambda _: None)
    (stash_dir / "results" / "grid.png").write_bytes(b"corrupted")
    with pytest.raises(gpu_tree.StashError, match="does not match its SHA-256"):
        gpu_tree.restore(repo, stash_dir, say=lambda _: None)
    assert not (repo / "results" / "grid.png").exists()


def test_stash_keep_glob_and_refuses_a_folder_inside_the_tree(repo, tmp_path):
    with pytest.raises(gpu_tree.StashError, match="inside the working tree"):
        gpu_tree.stash(repo, repo / "stash", say=lambda _: None)
    moved = gpu_tree.stash(repo, tmp_path / "s", keep=["models/shipped/*"], say=lambda _: None)
    assert moved == ["results/grid.png"]


def test_cli_size_exit_status(repo, capsys):
    assert gpu_tree.main(["--root", str(repo), "size"]) == 0
    assert gpu_tree.main(["--root", str(repo), "size", "--limit-mib", "1"]) == 1
    assert "OVER by" in capsys.readouterr().out


def test_compact_public_weights_load_like_the_originals(tmp_path, adain_files, adain_model):
    import torch

    from stylert.models.checkpoints import load_model, read_state

    files, ref = adain_files, adain_model
    written = gpu_tree.write_compact_public(tmp_path, files, say=lambda _: None)
    enc = read_state(written[0])
    assert {v.dtype for v in enc.values()} == {torch.float16} and max(int(k.split(".")[0]) for k in enc) == 29
    assert sum(p.stat().st_size for p in written) < 15_000_000
    small = load_model(written, "adain")
    x = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        a = ref.decode(ref.transfer(ref.encode(x), ref.encode_style(x), 1.0))
        b = small.decode(small.transfer(small.encode(x), small.encode_style(x), 1.0))
    assert float((a - b).abs().max()) < 5e-3  # float16 rounding of the weights only
