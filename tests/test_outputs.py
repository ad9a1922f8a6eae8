"""Outputs on every command held to the stylize contract: nothing a user owns is replaced or deleted,
and an output path that cannot be written is one line before any work, with nothing left behind.

Each case compares every file around the run byte for byte before and after it.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
from conftest import invoke, one_line_error
from PIL import Image



def snapshot(root: Path) -> dict[str, bytes | None]:
    """Every file (bytes) and folder (None) under ``root``, hidden ones included."""
    found = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for d in dirnames:
            found[os.path.relpath(os.path.join(dirpath, d), root)] = None
        for f in filenames:
            path = os.path.join(dirpath, f)
            found[os.path.relpath(path, root)] = Path(path).read_bytes()
    return found


def image(path: Path, h=40, w=56, seed=0) -> Path:
    Image.fromarray(np.random.default_rng(seed).integers(0, 255, (h, w, 3), dtype=np.uint8)).save(path)
    return path


@pytest.fixture
def work(tmp_path, exports, monkeypatch):
    """A working folder with a content, a style, an export and a user's folder ``u`` of their own files."""
    _, export_dir = exports("adain")
    # One level down, so that ``..`` is this test's own folder (tests snapshot it), never pytest's base
    # folder with every other test's files in it.
    root = tmp_path / "work"
    root.mkdir()
    monkeypatch.chdir(root)
    image(root / "c.png")
    image(root / "s.jpg", seed=1)
    (root / "data").mkdir()
    image(root / "data" / "a.png", 64, 64, seed=2)
    image(root / "data" / "b.png", 64, 64, seed=3)
    return root, export_dir


#: command -> its arguments writing a folder to OUT (run in ``work``); all take --overwrite.
FOLDER_COMMANDS = {
    "triton": lambda e: ["triton", e, "-o", "OUT", "--backend", "python"],
    "evaluate-run": lambda e: ["evaluate", "run", "-c", "c.png", "-s", "s.jpg", "-o", "OUT", "--engine", e],
    "export": lambda e: ["export", "-o", "OUT"],
    "train": lambda e: ["train", "--model", "adain", "--content", "data", "--style", "data", "--out", "OUT",
                        "--iterations", "1", "--batch-size", "1", "--image-size", "32", "--crop-size", "32",
                        "--workers", "0"],
    "stylize": lambda e: ["stylize", "-c", "c.png", "-s", "s.jpg", "-o", "OUT", "--engine", e],
    "style-encode": lambda e: ["style", "encode", "s.jpg", "--engine", e, "-o", "OUT"],
}

#: a user's folder, as it may be found at -o.
USER_FOLDERS = {
    "a file": {"keep.txt": b"mine"},
    "named like ours": {"report.json": b"{}", "README.md": b"# my notes", "log.csv": b"step,loss\n"},
    "nested and hidden": {".hidden": b"x", "sub/deep.bin": b"\x00\x01"},
}


@pytest.mark.parametrize("folder", list(USER_FOLDERS))
@pytest.mark.parametrize("command", ["triton", "evaluate-run", "export", "train"])
def test_overwrite_never_replaces_a_folder_stylert_did_not_write(command, folder, work, use_shared_weights):
    """``--overwrite`` replaces a repository, report, export or training run stylert wrote, never a folder
    of the user's own files, whatever they are named: one line, and every byte around the run unchanged."""
    root, export_dir = work
    for name, data in USER_FOLDERS[folder].items():
        (root / "u" / name).parent.mkdir(parents=True, exist_ok=True)
        (root / "u" / name).write_bytes(data)
    before = snapshot(root)
    args = [str(a).replace("OUT", "u") for a in FOLDER_COMMANDS[command](export_dir)]
    line = one_line_error(invoke(*args, "--overwrite"))
    assert "u" in line and "replaces only what stylert wrote" in line, line
    assert snapshot(root) == before


@pytest.mark.parametrize("command", ["triton", "evaluate-run"])
def test_overwrite_replaces_what_stylert_wrote(command, work, use_shared_weights):
    """The same folder, written by stylert, is replaced by a second run with --overwrite (and refused without)."""
    root, export_dir = work
    args = [str(a).replace("OUT", "mine") for a in FOLDER_COMMANDS[command](export_dir)]
    first = invoke(*args)
    assert first.exit_code == 0, first.output
    assert "already exists" in one_line_error(invoke(*args))
    again = invoke(*args, "--overwrite")
    assert again.exit_code == 0, again.output
    assert not [p for p in root.iterdir() if p.name.startswith(".mine")]  # no temporary folder left


def test_a_report_folder_that_holds_an_input_is_never_replaced(work, use_shared_weights):
    """``evaluate run -o R --overwrite`` where R is a report stylert wrote but holds one of this run's inputs."""
    root, export_dir = work
    args = FOLDER_COMMANDS["evaluate-run"](export_dir)
    assert invoke(*[str(a).replace("OUT", "r") for a in args]).exit_code == 0
    image(root / "r" / "c2.png", seed=5)
    before = snapshot(root)
    line = one_line_error(invoke("evaluate", "run", "-c", "r/c2.png", "-s", "s.jpg", "-o", "r", "--engine",
                                 export_dir, "--overwrite"))
    assert "an input of this run" in line
    assert snapshot(root) == before


# --------------------------------------------------------------------------- report files beside the output

SIDE_CASES = {
    "score --json content": (["evaluate", "score", "-c", "c.png", "-s", "s.jpg", "--stylized", "c.png",
                              "--json", "c.png"], "an input of this run"),
    "score --json style": (["evaluate", "score", "-c", "c.png", "-s", "s.jpg", "--stylized", "c.png",
                            "--json", "s.jpg"], "an input of this run"),
    "score --json via another name": (["evaluate", "score", "-c", "c.png", "-s", "s.jpg", "--stylized", "c.png",
                                       "--json", "./data/../c.png"], "an input of this run"),
    "score --json a user's image": (["evaluate", "score", "-c", "c.png", "-s", "s.jpg", "--stylized", "c.png",
                                     "--json", "data/a.png"], "is not a JSON file"),
    "score --json a folder": (["evaluate", "score", "-c", "c.png", "-s", "s.jpg", "--stylized", "c.png",
                               "--json", "data"], "is a folder"),
    "bench --json an image": (["bench", "EXPORT", "--json", "c.png"], "is not a JSON file"),
    "bench --json the manifest": (["bench", "EXPORT", "--json", "EXPORT/manifest.json"], "an input of this run"),
    "bench --markdown an image": (["bench", "EXPORT", "--markdown", "data/b.png"], "is not a text file"),
    "bench --chart a text file": (["bench", "EXPORT", "--chart", "notes.txt"], "is not a PNG file"),
    "bench --chart an input-named jpeg": (["bench", "EXPORT", "--chart", "s.jpg"], "is not a PNG file"),
    "bench twice the same": (["bench", "EXPORT", "--json", "r.json", "--markdown", "r.json"], "given to both"),
    "bench --json under a file": (["bench", "EXPORT", "--json", "c.png/r.json"], "is a file, not a folder"),
}


@pytest.mark.parametrize("case", list(SIDE_CASES))
def test_report_files_never_replace_an_input_or_a_users_file(case, work):
    """--json/--markdown/--chart replace an earlier report of their own format, never an input of the run, a
    file of another format, a folder, or each other: one line before any work, nothing touched."""
    root, export_dir = work
    (root / "notes.txt").write_text("my notes")
    args, expected = SIDE_CASES[case]
    before = snapshot(root)
    line = one_line_error(invoke(*[a.replace("EXPORT", str(export_dir)) for a in args]))
    assert expected in line, line
    assert snapshot(root) == before


def test_an_earlier_json_report_is_replaced(work, use_shared_weights):
    root, _ = work
    (root / "m.json").write_text('{"old": 1}')
    result = invoke("evaluate", "score", "-c", "c.png", "-s", "s.jpg", "--stylized", "c.png", "--json", "m.json")
    assert result.exit_code == 0, result.output
    assert '"metrics"' in (root / "m.json").read_text()


# --------------------------------------------------------------------------- output paths that cannot be written

@contextlib.contextmanager
def mounted(path: Path, options: str):
    """A tmpfs at ``path`` (``ro`` for a read-only folder, ``size=4k`` for a full disk); root only."""
    path.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True)
    if done.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", str(path)], check=True)


#: command -> arguments writing OUT, a file or a folder (run in ``work``).
PATH_COMMANDS = {
    **FOLDER_COMMANDS,
    "stylize-file": lambda e: ["stylize", "-c", "c.png", "-s", "s.jpg", "-o", "OUT/o.png", "--engine", e],
    "style-encode-file": lambda e: ["style", "encode", "s.jpg", "--engine", e, "-o", "OUT/s.npz"],
    "demo": lambda e: ["demo", "-o", "OUT", "--size", "64", "--no-fetch"],
}


@pytest.mark.parametrize("where, expected", [
    ("c.png/x", "is a file, not a folder"),      # -o under a file
    ("c.png/x/y", "is a file, not a folder"),    # deeper under a file
    (".", "the current folder"),                 # -o .
    ("..", "the current folder"),
])
@pytest.mark.parametrize("command", list(PATH_COMMANDS))
def test_output_paths_that_cannot_be_written_are_one_line(command, where, expected, work, use_shared_weights):
    root, export_dir = work
    args = PATH_COMMANDS[command](export_dir)
    if where in (".", "..") and any(a == "OUT/o.png" or a == "OUT/s.npz" for a in map(str, args)):
        where, expected = "c.png/z", "is a file, not a folder"
    before = snapshot(root.parent)
    if where in (".", "..") and command in ("stylize", "style-encode"):  # new files into an existing folder: fine
        result = invoke(*[str(a).replace("OUT", where) for a in args])
        assert result.exit_code == 0, result.output
        after = snapshot(root.parent)
        assert {k: v for k, v in after.items() if k in before} == before and len(after) == len(before) + 1
        return
    line = one_line_error(invoke(*[str(a).replace("OUT", where) for a in args]))
    assert expected in line, line
    assert snapshot(root.parent) == before


@pytest.mark.parametrize("command", list(PATH_COMMANDS))
def test_a_read_only_folder_is_one_line_before_any_work(command, work, use_shared_weights):
    root, export_dir = work
    with mounted(root / "ro", "ro,size=64k"):
        before = snapshot(root)
        line = one_line_error(invoke(*[str(a).replace("OUT", "ro/out") for a in PATH_COMMANDS[command](export_dir)]))
        assert "read-only" in line and ("-o" in line or "--out" in line), line
        assert snapshot(root) == before


@pytest.mark.parametrize("command", ["stylize-file", "style-encode-file", "triton", "stylize"])
def test_a_full_disk_is_one_line_and_leaves_nothing(command, work):
    """The write itself fails (ENOSPC, a 4 KB tmpfs): one line naming the output, the cause and the fix; no
    partial file or folder, no temporary file."""
    root, export_dir = work
    image(root / "big.png", 256, 256, seed=4)  # an output of tens of KB
    args = [str(a).replace("OUT", "full/out").replace("c.png", "big.png").replace("o.png", "o.bmp")
            for a in PATH_COMMANDS[command](export_dir)]
    if command == "stylize":
        args += ["--ext", ".bmp"]  # uncompressed: the output cannot fit
    with mounted(root / "full", "size=4k"):
        line = one_line_error(invoke(*args))
        assert "No space left on device" in line and "free space" in line, line
        assert os.listdir(root / "full") == []


@pytest.mark.parametrize("ext", [".gif", ".tga", ".jpg", ".png"])
def test_a_video_output_named_like_another_kind_makes_no_folder(ext, work, tmp_path):
    """``stylize -c clip.mp4 -o out.gif`` (or another kind stylert does not write): one line, no folder named so."""
    pytest.importorskip("av")
    root, export_dir = work
    from stylert.runtime.video import transform_video  # noqa: F401  (PyAV present)

    _tiny_video(root / "clip.mp4")
    before = snapshot(root)
    line = one_line_error(invoke("stylize", "-c", "clip.mp4", "-s", "s.jpg", "-o", f"out{ext}", "--engine", export_dir))
    assert f"out{ext}" in line
    assert snapshot(root) == before


def _tiny_video(path: Path, frames: int = 4, size=(32, 48)) -> Path:
    import av

    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=12)
        stream.width, stream.height, stream.pix_fmt = size[1], size[0], "yuv420p"
        rng = np.random.default_rng(0)
        for _ in range(frames):
            frame = av.VideoFrame.from_ndarray(rng.integers(0, 255, (*size, 3), dtype=np.uint8), format="rgb24")
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


# --------------------------------------------------------------------------- files left behind


def _stylert(args, cwd, env_extra=None):
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2]), "OMP_NUM_THREADS": "1",
           **(env_extra or {})}
    return subprocess.Popen([sys.executable, "-m", "stylert", *map(str, args)], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _wait_for(predicate, proc, seconds=120.0):
    import time

    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if predicate():
            return True
        if proc.poll() is not None:
            return False
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("case", ["video", "training"])
def test_sigterm_cleans_up_as_ctrl_c_does(case, work, weights_root):
    """SIGTERM in the middle of the work (a video being written, a training run before its first
    checkpoint): exit 143, one line, and no temporary file or half-done output left."""
    import signal

    pytest.importorskip("av")
    root, export_dir = work
    before = snapshot(root)
    if case == "video":
        _tiny_video(root / "long.mp4", frames=400, size=(96, 128))
        before = snapshot(root)
        proc = _stylert(["stylize", "-c", "long.mp4", "-s", "s.jpg", "-o", "o.mp4", "--engine", export_dir,
                         "--temporal-blend", "0"], root)
        started = _wait_for(lambda: any(".o.mp4." in p.name for p in root.iterdir()), proc)
    else:
        proc = _stylert(["train", "--model", "adain", "--content", "data", "--style", "data", "--out", "run",
                         "--iterations", "100000", "--batch-size", "1", "--image-size", "32", "--crop-size", "32",
                         "--workers", "0", "--checkpoint-every", "100000"], root,
                        {"STYLERT_WEIGHTS": str(weights_root)})
        started = _wait_for(lambda: (root / "run" / "log.csv").is_file(), proc)
    assert started, proc.communicate()[0]
    proc.send_signal(signal.SIGTERM)
    output = proc.communicate(timeout=60)[0]
    assert proc.returncode == 128 + signal.SIGTERM, output
    assert "Traceback" not in output and "SIGTERM" in output.splitlines()[-1], output
    assert snapshot(root) == before


def test_a_training_run_on_junk_leaves_nothing_and_the_next_run_starts(work, use_shared_weights):
    """A content folder of files that are not images: one line; no log.csv or folder left, so the next run
    (or the same with another folder) is not refused as "not empty"; an existing --out folder stays."""
    root, _ = work
    (root / "junk").mkdir()
    for i in range(4):
        (root / "junk" / f"{i}.jpg").write_text("not an image")
    before = snapshot(root)
    args = ["train", "--model", "adain", "--content", "junk", "--style", "data", "--out", "run", "--iterations", "2",
            "--batch-size", "1", "--image-size", "32", "--crop-size", "32", "--workers", "0"]
    for _ in range(2):  # the second run meets the same error, not "not empty"
        assert "unreadable images" in one_line_error(invoke(*args))
        assert snapshot(root) == before
    (root / "run").mkdir()
    assert "unreadable images" in one_line_error(invoke(*args))
    assert os.listdir(root / "run") == []


def test_the_record_names_every_case():
    """docs/inputs-handled.md names every test of the files it records, and only tests that exist."""
    import re

    root = Path(__file__).resolve().parents[1]
    text = (root / "docs" / "inputs-handled.md").read_text(encoding="utf-8")
    named = set(re.findall(r"`(test_\w+\.py)::(test_\w+)`", text))
    files = {"test_outputs.py", "test_messages.py", "test_video_inputs.py", "test_serving_inputs.py"}
    defined = {(f, name) for f in files
               for name in re.findall(r"^def (test_\w+)\(", (root / "tests" / f).read_text(encoding="utf-8"), re.M)}
    defined.discard(("test_outputs.py", "test_the_record_names_every_case"))
    elsewhere = {(f, name) for f, name in named if f not in files}  # tests of other files the record cites
    exists = {(f, name) for f, name in elsewhere if (root / "tests" / f).is_file() and re.search(
        rf"^def {name}\(", (root / "tests" / f).read_text(encoding="utf-8"), re.M)}
    assert named - elsewhere == defined and exists == elsewhere, {
        "not in the record": sorted(defined - named), "not a test": sorted((named - elsewhere - defined) | (elsewhere - exists))}


@pytest.mark.parametrize("name", ["res.txt", "out.json", "report.CSV", "out.pdf"])
def test_an_image_output_named_like_a_document_makes_no_folder(name, work):
    """``stylize ... -o res.txt``: a document's name is refused in one line, not made a folder; a folder name
    with a dot (``out.v2``) stays a folder."""
    root, export_dir = work
    before = snapshot(root)
    line = one_line_error(invoke("stylize", "-c", "c.png", "-s", "s.jpg", "-o", name, "--engine", export_dir))
    assert name in line and "extension" in line, line
    assert snapshot(root) == before
    result = invoke("stylize", "-c", "c.png", "-s", "s.jpg", "-o", "out.v2", "--engine", export_dir)
    assert result.exit_code == 0, result.output
    assert [p.name for p in (root / "out.v2").iterdir()] == ["c_stylized_s.png"]


@pytest.mark.parametrize("kind", ["missing", "file"])
def test_an_engine_that_is_not_an_export_folder_is_named_for_what_it_is(kind, work):
    root, _ = work
    target = root / "exports-nope"
    if kind == "file":
        target.write_text("not an export")
    line = one_line_error(invoke("stylize", "-c", "c.png", "-s", "s.jpg", "-o", "o.png", "--engine", str(target)))
    assert ("no such export directory" if kind == "missing" else "is a file") in line, line
    assert not (root / "o.png").exists()
