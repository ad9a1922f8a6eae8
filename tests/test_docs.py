"""The docs cannot drift from the code: every command shown in README.md and docs/*.md is checked.

- Every ``stylert ...``, ``python -m stylert...`` and ``make ...`` line of a ```bash block is parsed
  against the real command line (click's own parser, without converting file paths, so files
  need not exist): the command path exists, every option exists and gets a value where it takes
  one, choices and numbers convert, the positional arguments fit, required options are given
  (unless the line elides arguments with ``...``). ``python -m stylert.benchmarks SCENARIO`` lines
  are checked against the options the scenario's module and the harness declare (``add_argument``), and
  ``python -m stylert.benchmarks.X`` lines against module X's; ``make`` targets against
  the Makefile.
- Every ```bash and ```python block carries a marker on the line before it:
  ``<!-- doc-test: run -->`` (run here, in a temporary folder with small real inputs) or
  ``<!-- doc-test: skip (REASON) -->`` (a GPU, a server, minutes of CPU, files not in the
  repository).
- Every relative link of those files resolves.
- docs/architecture.md's layer table holds every import the code makes.
"""

from __future__ import annotations

import ast
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import click
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
MARKER = re.compile(r"^<!--\s*doc-test:\s*(run|skip)\s*(?:\((.*)\))?\s*-->$")
FENCE = re.compile(r"^```(\w*)\s*$")


# ------------------------------------------------------------------------------------ extraction
@dataclass
class Block:
    path: Path
    line: int  # 1-based line of the opening fence
    lang: str
    text: str
    marker: str | None = None  # "run", "skip" or None
    reason: str = ""

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(REPO)}:{self.line}"


@dataclass
class Command:
    block: Block
    line: int
    text: str
    args: list[str] = field(default_factory=list)


def blocks_of(text: str, path: Path = REPO / "DOC.md") -> list[Block]:
    """The fenced code blocks of a Markdown text, each with the doc-test marker on the line before it."""
    lines = text.splitlines()
    out, i = [], 0
    while i < len(lines):
        m = FENCE.match(lines[i].strip()) if lines[i].startswith("```") else None
        if not m:
            i += 1
            continue
        start, lang = i, m.group(1)
        j = i + 1
        while j < len(lines) and not lines[j].startswith("```"):
            j += 1
        block = Block(path, start + 1, lang, "\n".join(lines[start + 1 : j]))
        k = start - 1
        while k >= 0 and not lines[k].strip():
            k -= 1
        mm = MARKER.match(lines[k].strip()) if k >= 0 else None
        if mm:
            block.marker, block.reason = mm.group(1), (mm.group(2) or "").strip()
        out.append(block)
        i = j + 1
    return out


def logical_lines(block: Block) -> list[tuple[int, str]]:
    """(line, text) of a shell block: continuation lines joined, heredoc bodies left out."""
    out, pending, first, heredoc = [], "", 0, None
    for n, raw in enumerate(block.text.splitlines(), start=block.line + 1):
        if heredoc is not None:
            if raw.strip() == heredoc:
                heredoc = None
            continue
        if not pending:
            first = n
        if raw.rstrip().endswith("\\"):
            pending += raw.rstrip()[:-1] + " "
            continue
        line = pending + raw
        pending = ""
        m = re.search(r"<<-?\s*'?\"?(\w+)'?\"?", line)
        if m:
            heredoc = m.group(1)
        out.append((first, line))
    return out


def command_words(line: str) -> list[str] | None:
    """The words of a documented command (comments dropped), or None for a line that is not one."""
    try:
        words = shlex.split(line, comments=True)
    except ValueError:
        return None
    if not words:
        return None
    if words[0] == "stylert" or words[0] == "make":
        return words
    if words[0] in ("python", "python3") and len(words) > 2 and words[1] == "-m" and (
            words[2] == "stylert" or words[2].startswith("stylert.")):
        return words
    return None


def commands_of(block: Block) -> list[Command]:
    if block.lang not in ("bash", "sh", "shell", "console"):
        return []
    out = []
    for n, line in logical_lines(block):
        words = command_words(line)
        if words:
            out.append(Command(block, n, line.strip(), words))
    return out


def all_blocks() -> list[Block]:
    return [b for path in DOCS for b in blocks_of(path.read_text(encoding="utf-8"), path)]


# ------------------------------------------------------------------------------------ checking
def _unwrap(words: list[str]) -> tuple[list[str], bool]:
    """Drop ``...`` (elided arguments) and the brackets of ``[--option VALUE]`` (optional parts)."""
    out, elided = [], False
    for w in words:
        if w == "...":
            elided = True
            continue
        if w.startswith("[") and len(w) > 1:
            w = w[1:]
        if w.endswith("]") and not w.startswith("[") and "[" not in w:
            w = w[:-1]
        if w:
            out.append(w)
    return out, elided


def _given(value) -> bool:
    """Whether click's parser saw a value (it stores a sentinel object, or nothing, for a missing one)."""
    if isinstance(value, str):
        return True
    return isinstance(value, (tuple, list)) and len(value) > 0 and all(_given(v) for v in value)


def check_click(args: list[str]) -> None:
    """Parse ``stylert ARGS`` with the real click commands; raise AssertionError naming what is wrong."""
    from stylert.cli import main

    args, elided = _unwrap(args)
    cmd, path, parent = main, ["stylert"], None
    while True:
        ctx = click.Context(cmd, info_name=path[-1], parent=parent)
        parser = cmd.make_parser(ctx)
        try:
            opts, largs, _ = parser.parse_args(args=list(args))
        except click.UsageError as err:
            raise AssertionError(f"{' '.join(path)}: {err.format_message()}") from None
        helped = any(a in ("--help", "-h") for a in args)
        for param in cmd.params:
            if param.name not in opts or not isinstance(param, click.Option) or param.is_flag or param.count:
                continue
            if isinstance(param.type, (click.Path, click.File)):
                continue
            values = opts[param.name]
            values = values if param.multiple else [values]
            for value in values:
                for item in (value if param.nargs > 1 and isinstance(value, (list, tuple)) else [value]):
                    if not isinstance(item, str):  # an option given without its optional value: click's sentinel
                        continue
                    try:
                        param.type.convert(item, param, ctx)
                    except click.BadParameter as err:
                        raise AssertionError(f"{' '.join(path)} {param.opts[0]} {item!r}: "
                                             f"{err.format_message()}") from None
        if isinstance(cmd, click.Group):
            if helped and not largs:
                return
            if not largs:
                if elided:
                    return
                raise AssertionError(f"{' '.join(path)}: no subcommand")
            sub = cmd.get_command(ctx, largs[0])
            if sub is None:
                raise AssertionError(f"{' '.join(path)}: no such command {largs[0]!r}")
            cmd, path, parent, args = sub, [*path, largs[0]], ctx, largs[1:]
            continue
        if helped:
            return
        # click's parser consumes the positional arguments into ``opts`` too; what is left over is extra.
        if largs:
            raise AssertionError(f"{' '.join(path)}: unexpected arguments {largs}")
        if not elided:
            for param in cmd.params:
                if not param.required or param.envvar:
                    continue
                if not _given(opts.get(param.name)):
                    what = "argument" if isinstance(param, click.Argument) else "option"
                    raise AssertionError(f"{' '.join(path)}: missing the required {what} "
                                         f"{param.human_readable_name if what == 'argument' else param.opts[-1]}")
        return


def module_file(module: str) -> Path | None:
    """``stylert.a.b`` -> the file ``python -m`` runs in this checkout, or None."""
    parts = module.split(".")[1:]
    base = REPO.joinpath(*parts) if parts else REPO
    for candidate in (base.with_suffix(".py") if parts else None, base / "__main__.py"):
        if candidate is not None and candidate.is_file():
            return candidate
    return None


def declared_options(path: Path) -> set[str]:
    """Option strings declared by ``add_argument`` / ``click.option`` calls in a module (or, for a
    package's ``__main__``, in every module of the package)."""
    files = sorted(path.parent.glob("*.py")) if path.name == "__main__.py" else [path]
    found = set()
    for f in files:
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", None) in ("add_argument", "option"):
                found.update(a.value for a in node.args if isinstance(a, ast.Constant)
                             and isinstance(a.value, str) and a.value.startswith("-"))
    return found


def scenario_file(args: list[str]) -> tuple[Path, list[str]]:
    """``python -m stylert.benchmarks SCENARIO ...``: the scenario's module (listed in the entry point's
    SCENARIOS) and the arguments after its name."""
    from stylert.benchmarks.__main__ import SCENARIOS

    assert args and not args[0].startswith("-"), "python -m stylert.benchmarks: no scenario named"
    assert args[0] in SCENARIOS, f"python -m stylert.benchmarks: no scenario {args[0]!r} (the scenarios: {sorted(SCENARIOS)})"
    return REPO / "benchmarks" / f"{args[0]}.py", args[1:]


def check_module(words: list[str]) -> None:
    module, args = words[2], words[3:]
    if module == "stylert":
        return check_click(args)
    if module == "stylert.benchmarks" and args not in ([], ["--help"], ["-h"]):
        path, args = scenario_file(args)
        args, _ = _unwrap(args)
        options = {a.split("=", 1)[0] for a in args if a.startswith("-") and a != "-"}
        declared = declared_options(path) | declared_options(REPO / "benchmarks" / "harness.py")
        missing = sorted(options - declared - {"-h", "--help"})
        assert not missing, f"python -m {module} {words[3]}: no option {', '.join(missing)} (declared: {sorted(declared)})"
        return
    path = module_file(module)
    assert path is not None, f"python -m {module}: no such module in the repository"
    args, _ = _unwrap(args)
    options = {a.split("=", 1)[0] for a in args if a.startswith("-") and a != "-"}
    declared = declared_options(path)
    if declared:
        missing = sorted(options - declared - {"-h", "--help"})
        assert not missing, f"python -m {module}: no option {', '.join(missing)} (declared: {sorted(declared)})"
        return
    # No declarations to read: ask the module itself.
    if options:
        out = subprocess.run([sys.executable, "-m", module, "--help"], capture_output=True, text=True,
                             env=_env(), cwd=REPO, timeout=120)
        missing = sorted(o for o in options if o not in out.stdout + out.stderr)
        assert not missing, f"python -m {module} --help does not list {', '.join(missing)}"


def make_targets() -> set[str]:
    text = (REPO / "Makefile").read_text(encoding="utf-8")
    return set(re.findall(r"^([A-Za-z0-9_.-]+)\s*:(?!=)", text, flags=re.M))


def check_command(words: list[str]) -> None:
    if words[0] == "stylert":
        check_click(words[1:])
    elif words[0] == "make":
        targets = [w for w in words[1:] if "=" not in w and not w.startswith("-")]
        unknown = sorted(set(targets) - make_targets())
        assert not unknown, f"make: no target {', '.join(unknown)} in the Makefile"
    else:
        check_module(words)


# ------------------------------------------------------------------------------------ the docs' tests
BLOCKS = all_blocks()
COMMANDS = [c for b in BLOCKS for c in commands_of(b)]


def test_docs_have_commands():
    """The extraction finds the commands (a parser that finds nothing would pass everything)."""
    assert len(COMMANDS) > 40
    assert any(c.args[:2] == ["stylert", "stylize"] for c in COMMANDS)
    assert any(c.args[0] == "make" for c in COMMANDS)


@pytest.mark.parametrize("command", COMMANDS, ids=[f"{c.block.path.name}:{c.line}" for c in COMMANDS])
def test_command_parses(command):
    try:
        check_command(command.args)
    except AssertionError as err:
        pytest.fail(f"{command.block.path.relative_to(REPO)}:{command.line}: {command.text}\n  {err}")


def test_every_block_is_marked():
    problems = []
    for b in BLOCKS:
        if b.lang not in ("bash", "sh", "shell", "python"):
            continue
        if b.marker is None:
            problems.append(f"{b.where}: a ```{b.lang} block without <!-- doc-test: run --> or "
                            f"<!-- doc-test: skip (REASON) --> on the line before it")
        elif b.marker == "skip" and not b.reason:
            problems.append(f"{b.where}: doc-test: skip without a reason")
    assert not problems, "\n".join(problems)


LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def test_relative_links_resolve():
    targets = DOCS + [REPO / "CHANGELOG.md", *sorted(REPO.glob("benchmarks/results/**/README.md")),
                      *sorted(REPO.glob("evaluation/results/**/README.md"))]
    broken = []
    for path in targets:
        text = path.read_text(encoding="utf-8")
        for link in LINK.findall(text):
            if re.match(r"^[a-z]+:", link) or link.startswith("#"):
                continue
            target = (path.parent / link.split("#", 1)[0]).resolve()
            if not target.exists():
                broken.append(f"{path.relative_to(REPO)}: {link}")
    assert not broken, "links to files that do not exist:\n" + "\n".join(broken)


# ------------------------------------------------------------------------------------ the checker can fail
FAKE_DOC = """
<!-- doc-test: run -->
```bash
stylert stylize -c photo.jpg -s starry.jpg -o out.png --no-such-option 3
```

```bash
stylert export -o out
```

<!-- doc-test: skip () -->
```bash
stylert nosuchcommand --x
```
"""


def test_checker_rejects_what_does_not_exist():
    blocks = blocks_of(FAKE_DOC)
    commands = [c for b in blocks for c in commands_of(b)]
    assert [c.args[1] for c in commands] == ["stylize", "export", "nosuchcommand"]
    with pytest.raises(AssertionError, match="--no-such-option"):
        check_command(commands[0].args)
    check_command(commands[1].args)  # exists and parses
    with pytest.raises(AssertionError, match="no such command 'nosuchcommand'"):
        check_command(commands[2].args)
    assert [(b.marker, b.reason) for b in blocks] == [("run", ""), (None, ""), ("skip", "")]


@pytest.mark.parametrize("line, error", [
    ("stylert stylize -c a.jpg -s b.jpg --content-size -5", "--content-size"),  # out of range
    ("stylert export -o out --precision fp64", "fp64"),                        # not a choice
    ("stylert stylize -c a.jpg -s b.jpg --preserve-color sepia", "sepia"),    # not a choice
    ("stylert stylize -c a.jpg -s b.jpg --alpha", "requires an argument"),    # value missing
    ("stylert export --model adain", "--output"),                             # required option
    ("stylert compare", "missing the required argument"),                                 # required argument
    ("stylert inspect --json --nope", "--nope"),
    ("stylert evaluate nosuch -c a", "no such command"),
    ("python -m stylert.benchmarks suite --quick --no-such-flag", "--no-such-flag"),
    ("python -m stylert.benchmarks no_such_scenario --quick", "no scenario 'no_such_scenario'"),
    ("python -m stylert.benchmarks.no_such_module", "no such module"),
    ("make no-such-target", "no target"),
])
def test_checker_rejects(line, error):
    with pytest.raises(AssertionError, match=re.escape(error)):
        check_command(command_words(line))


def test_checker_accepts_elisions_and_optional_parts():
    check_command(command_words("stylert train ... --out runs/ml --resume   # a comment"))
    check_command(command_words("stylert evaluate score -c a.jpg -s b.jpg --stylized o.png [--reference r.png]"))
    check_command(command_words("stylert --help"))
    check_command(command_words("make demo PYTHON=.venv/bin/python"))


# ------------------------------------------------------------------------------------ architecture
LAYERS = ["cli", "commands", "benchmarks", "evaluation", "serving", "training", "engines", "runtime",
          "export", "models", "core", "errors"]
#: Imports that run back up the layers (docs/architecture.md): none.
KNOWN_EXCEPTIONS: set[tuple[str, str]] = set()


def _layer_of(rel: Path) -> str:
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def imports_by_file() -> dict[str, set[str]]:
    """repository file -> the top-level stylert packages it imports (relative, absolute, import_module)."""
    found = {}
    for f in sorted(REPO.rglob("*.py")):
        rel = f.relative_to(REPO)
        if rel.parts[0] in ("tests", "docs") or rel.parts[0].startswith("."):
            continue
        pkg = list(rel.parent.parts)
        targets = set()
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = pkg[: len(pkg) - (node.level - 1)] if node.level > 1 else pkg
                    names = [base + node.module.split(".")] if node.module else [base + [a.name] for a in node.names]
                elif node.module and node.module.split(".")[0] == "stylert":
                    names = [node.module.split(".")[1:] or [a.name for a in node.names][:1]]
            elif isinstance(node, ast.Import):
                names = [a.name.split(".")[1:] for a in node.names if a.name.startswith("stylert.")]
            elif (isinstance(node, ast.Call)
                  and getattr(node.func, "attr", getattr(node.func, "id", None)) == "import_module"
                  and node.args and isinstance(node.args[0], ast.Constant)
                  and str(node.args[0].value).startswith("stylert.")):
                names = [node.args[0].value.split(".")[1:]]
            for n in names:
                if n and n[0] in LAYERS:
                    targets.add(n[0])
        found[str(rel)] = targets
    return found


def documented_layers() -> dict[str, set[str]]:
    text = (REPO / "docs" / "architecture.md").read_text(encoding="utf-8")
    table = {}
    for row in re.findall(r"^\| `([\w./]+)` \|.*\|\s*([^|]*?)\s*\|$", text, flags=re.M):
        name, allowed = row
        layer = name.rstrip("/").removesuffix(".py")
        table[layer] = {w for w in re.findall(r"[a-z]+", allowed.split(";")[0])} & set(LAYERS)
    return table


def test_architecture_imports():
    table = documented_layers()
    assert set(table) == set(LAYERS), f"docs/architecture.md lists {sorted(table)}, the code has {LAYERS}"
    wrong = []
    for rel, targets in imports_by_file().items():
        layer = _layer_of(Path(rel))
        if layer not in table:
            continue
        for t in sorted(targets - {layer} - table[layer]):
            if (rel, t) not in KNOWN_EXCEPTIONS:
                wrong.append(f"{rel} imports {t}/, which docs/architecture.md does not allow {layer}/")
    assert not wrong, "\n".join(wrong)


# ------------------------------------------------------------------------------------ running the docs
def _env(cache: Path | None = None) -> dict:
    env = dict(os.environ)
    if REPO.name == "stylert":  # this checkout is the package: make `python -m stylert` run it
        env["PYTHONPATH"] = os.pathsep.join([str(REPO.parent), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["STYLERT_WEIGHTS"] = str(SHARED / "weights")
    env.setdefault("OMP_NUM_THREADS", "1")
    if cache is not None:
        env["STYLERT_CACHE"] = str(cache)
    return env


def _need_shared() -> None:
    if not (SHARED / "images").is_dir() or not (SHARED / "weights" / "adain" / "decoder.pth").is_file():
        message = f"the shared images and weights are not at {SHARED}"
        if os.environ.get("STYLERT_REQUIRE_SHARED"):
            pytest.fail(message + " (STYLERT_REQUIRE_SHARED is set)")
        pytest.skip(message)


def _inputs(work: Path) -> None:
    """The files the docs' examples name, as small real inputs."""
    images = SHARED / "images"
    links = {"photo.jpg": "content/cornell.jpg", "starry.jpg": "style/la_muse.jpg",
             "a.jpg": "style/sketch.png", "b.jpg": "style/mondrian.jpg", "mask.png": "mask/mask.png"}
    for name, src in links.items():
        shutil.copy(images / src, work / name)
    for folder, files in {"photos": ["content/cornell.jpg", "content/sailboat.jpg"],
                          "styles": ["style/la_muse.jpg", "style/sketch.png"]}.items():
        (work / folder).mkdir()
        for src in files:
            shutil.copy(images / src, work / folder / Path(src).name)
    cache = work / ".cache" / "weights" / "adain"
    cache.mkdir(parents=True)
    for f in (SHARED / "weights" / "adain").glob("*.pth"):
        os.symlink(f, cache / f.name)  # `stylert weights fetch` finds them verified: no download


def _substitute(text: str) -> str:
    return text.replace("../shared/", str(SHARED) + "/")


def run_block(block: Block, work: Path) -> None:
    env = _env(cache=work / ".cache")
    if block.lang == "python":
        script = work / "doc_example.py"
        script.write_text(_substitute(block.text), encoding="utf-8")
        result = subprocess.run([sys.executable, str(script)], cwd=work, env=env, capture_output=True,
                                text=True, timeout=600)
        assert result.returncode == 0, f"{block.where}: the example failed:\n{result.stdout}\n{result.stderr}"
        return
    for n, line in logical_lines(block):
        words = command_words(line)
        assert words is not None, f"{block.where}: line {n} is not a stylert command, so it cannot run here: {line}"
        words = [_substitute(w) for w in words]
        argv = [sys.executable, "-m", "stylert", *words[1:]] if words[0] == "stylert" else [sys.executable, *words[1:]]
        result = subprocess.run(argv, cwd=work, env=env, capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, (f"{block.path.relative_to(REPO)}:{n}: {line.strip()}\n"
                                        f"exit {result.returncode}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")


RUN_BLOCKS = [b for b in BLOCKS if b.marker == "run"]
EXPORT_LINE = "stylert export -o exports/adain"


def _writes_export(block: Block) -> bool:
    return any(line.split("#")[0].strip() == EXPORT_LINE for _, line in logical_lines(block))


@pytest.fixture(scope="session")
def doc_workdir(tmp_path_factory):
    """The README's quick start, run once: its export (``stylert export -o exports/adain``) serves
    every other runnable block."""
    _need_shared()
    first = [b for b in RUN_BLOCKS if _writes_export(b)]
    assert first, f"no runnable block holds '{EXPORT_LINE}'"
    work = tmp_path_factory.mktemp("docs-quickstart")
    _inputs(work)
    run_block(first[0], work)
    return first[0], work


@pytest.mark.real_weights
@pytest.mark.parametrize("block", RUN_BLOCKS, ids=[b.where for b in RUN_BLOCKS])
def test_runnable_block(block, doc_workdir, tmp_path):
    quickstart, done = doc_workdir
    if block is quickstart:
        assert (done / "exports" / "adain" / "manifest.json").is_file() and (done / "out.png").is_file()
        return
    _inputs(tmp_path)
    if not _writes_export(block):
        shutil.copytree(done / "exports" / "adain", tmp_path / "exports" / "adain", symlinks=True)
    run_block(block, tmp_path)
