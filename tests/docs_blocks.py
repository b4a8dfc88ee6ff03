"""The code blocks of README.md and docs/, and how tests/test_docs.py runs them as a user would.

A page runs in a fresh process and a scratch copy of the repository, its blocks in order: a
``python`` block in one namespace shared by the page's python blocks, a ``bash`` block by bash
(``set -e``). A directive in an HTML comment on the line before a block changes that:

* ``<!-- docs-test: skip: REASON -->``: not run (REASON says why, e.g. hours of CPU).
* ``<!-- docs-test: args: REASON -->`` (bash): every ``python SCRIPT ...`` and ``hybridpot ...``
  command has its arguments parsed by the program's own argparse parser, which must accept them;
  nothing else of the program runs, and ``cp`` of their outputs is skipped.
* ``<!-- docs-test: requires: MODULE[, MODULE] -->``: the page is skipped unless the modules import
  (optional extras such as tblite or pyscf); ``shared/data/NAME`` asks for that shared data folder.

and a hidden block, ``<!-- docs-test: setup`` + a python fence + ``-->``, runs before the next
block: it makes the inputs a snippet takes for granted (an ``atoms``, a small data file), never
the snippet's results. ``text``, ``yaml`` and unlabelled blocks are output, synopses or configs:
YAML blocks are parsed (and validated when they are training-config sections).

In bash blocks the environment steps of the install lines (``python3 -m venv .venv``,
``. .venv/bin/activate``, ``pip install -e ...``) are checked, not repeated: ``.ci/run`` performs
them for real before the tests, so here ``pip install -e ".[EXTRA]"`` only checks that each extra
exists in pyproject.toml, and a ``pytest`` line (the suite itself) is not rerun.

Sybil (the usual tool for this) evaluates python blocks inside the test process, where a page's
``jax.config.update("jax_enable_x64", True)`` would leak into every later test; hence this runner,
which gives each page its own process.

Run one page: ``python tests/docs_blocks.py run PAGE`` (from the repository root).
"""

from __future__ import annotations

import argparse
import os
import re
import runpy
import shlex
import shutil
import subprocess
import sys
import tempfile
import textwrap
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODES = ("run", "skip", "args", "setup")
_FENCE = re.compile(r"^[ \t]*```(\w*)\n(.*?)^[ \t]*```[ \t]*$", re.S | re.M)  # list items indent theirs
_SETUP = re.compile(r"<!-- docs-test: setup\n```python\n(.*?)```\n-->", re.S)
_DIRECTIVE = re.compile(r"<!-- docs-test: (skip|args|requires): (.+?) -->")


@dataclass(frozen=True)
class Block:
    """One fenced block of a page: language, code, mode (run/skip/args/setup), reason, line."""

    page: str
    line: int
    language: str
    code: str
    mode: str
    reason: str = ""


def doc_pages() -> list[Path]:
    """README.md and every page under docs/, relative to the repository root."""
    return [Path("README.md")] + sorted(p.relative_to(ROOT) for p in (ROOT / "docs").rglob("*.md"))


def page_blocks(page: Path) -> tuple[list[Block], list[str]]:
    """The blocks of ``page`` in order, and the modules its ``requires`` directive names."""
    text = (ROOT / page).read_text()
    blocks, requires = [], []
    setups = [(m.start(), m.group(1)) for m in _SETUP.finditer(text)]
    visible = _SETUP.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), text)  # keep offsets and line numbers
    for start, code in setups:
        blocks.append((start, Block(str(page), text.count("\n", 0, start) + 1, "python", code, "setup")))
    prose = re.sub(r"`[^`\n]*`", lambda m: " " * len(m.group(0)), visible)  # directives quoted as code are prose
    for m in _DIRECTIVE.finditer(prose):
        if m.group(1) == "requires":
            requires += [name.strip() for name in m.group(2).split(",")]
    for m in _FENCE.finditer(visible):
        language, code = m.group(1), textwrap.dedent(m.group(2))
        before = prose[: m.start()].rstrip("\n").rsplit("\n", 1)[-1]
        directive = _DIRECTIVE.fullmatch(before.strip())
        mode, reason = "run", ""
        if directive and directive.group(1) in ("skip", "args"):
            mode, reason = directive.group(1), directive.group(2)
        if language not in ("python", "bash"):
            mode = "skip" if mode == "run" else mode
        blocks.append((m.start(), Block(str(page), visible.count("\n", 0, m.start()) + 1, language, code, mode, reason)))
    return [b for _, b in sorted(blocks, key=lambda x: x[0])], requires


# --------------------------------------------------------------------------------------------
# Bash: the environment steps, and the args-only check, as shell functions.

_BASH_PRELUDE = r"""
set -e
python3() { if [ "$*" = "-m venv .venv" ]; then return 0; fi; command "$DOCS_PYTHON" "$@"; }
python() { command "$DOCS_PYTHON" "$@"; }
pip() { command "$DOCS_PYTHON" "$DOCS_RUNNER" check-pip "$@"; }
pytest() { echo "docs-test: '$*' is the test suite itself; not rerun" >&2; }
"""

_ARGS_PRELUDE = r"""
python() { command "$DOCS_PYTHON" "$DOCS_RUNNER" check-args python "$@"; }
hybridpot() { command "$DOCS_PYTHON" "$DOCS_RUNNER" check-args hybridpot "$@"; }
nice() { if [ "$1" = "-n" ]; then shift 2; fi; "$@"; }
cp() { :; }  # the files an args block copies are outputs of the programs that did not run
"""


def check_pip(argv: list[str]) -> None:
    """``pip install [-q] -e ".[a,b]"``: every extra must exist in pyproject.toml; nothing installed."""
    import tomllib

    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    if argv[:1] != ["install"] or "-e" not in argv:
        raise SystemExit(f"docs-test: only 'pip install -e .[extras]' is understood here, got: pip {' '.join(argv)}")
    target = argv[argv.index("-e") + 1]
    m = re.fullmatch(r"\.(?:\[(.*)\])?", target)
    if m is None:
        raise SystemExit(f"docs-test: pip install -e {target}: not this project")
    for extra in filter(None, (m.group(1) or "").split(",")):
        if extra not in extras:
            raise SystemExit(f"docs-test: pip install -e {target}: pyproject.toml has no extra {extra!r}")


class _ArgsAccepted(Exception):
    pass


def check_args(argv: list[str]) -> None:
    """Parse the arguments of ``python SCRIPT ARGS``, ``python -c CODE`` or ``hybridpot ARGS`` by the
    program's own parser and stop there; exit status 2 (argparse's) when it rejects them."""
    program, args = argv[0], argv[1:]
    if program == "hybridpot":
        from hybridpot.cli import build_parser

        build_parser().parse_args(args)
        return
    if args[:1] == ["-c"]:
        compile(args[1], "<python -c>", "exec")
        return
    script = args[0]
    if not Path(script).is_file():
        raise SystemExit(f"docs-test: {script}: no such script")
    original = argparse.ArgumentParser.parse_args

    def parse_then_stop(self, *a, **k):
        original(self, *a, **k)
        raise _ArgsAccepted

    argparse.ArgumentParser.parse_args = parse_then_stop
    sys.argv = list(args)
    sys.path.insert(0, str(Path(script).resolve().parent))
    try:
        runpy.run_path(script, run_name="__main__")
    except _ArgsAccepted:
        return
    raise SystemExit(f"docs-test: {script} ran without parsing arguments with argparse")


# --------------------------------------------------------------------------------------------
# Running a page.


def scratch_copy(destination: Path) -> Path:
    """The repository's files (no virtual environment, git data or run outputs) under ``destination``."""
    ignore = shutil.ignore_patterns(".git", ".venv*", "runs", "results", "site", "__pycache__", "*.egg-info",
                                    ".pytest_cache")
    shutil.copytree(ROOT, destination, ignore=ignore, symlinks=True)
    activate = destination / ".venv" / "bin" / "activate"  # the install lines' venv: already active
    activate.parent.mkdir(parents=True)
    activate.write_text("# the environment that runs the tests is already active\n")
    return destination


def _yaml_check(code: str) -> None:
    import yaml

    from hybridpot.train import config_from_dict

    value = yaml.safe_load(code)
    if isinstance(value, dict) and set(value) <= {"data", "loss", "optim", "normalisation", "run"}:
        config_from_dict(value)


def run_page(page: str, workdir: Path) -> None:
    """Run every block of ``page`` (see the module docstring) with ``workdir`` as working folder."""
    blocks, _ = page_blocks(Path(page))
    os.chdir(workdir)
    sys.path.insert(0, str(workdir))
    env = dict(os.environ, DOCS_PYTHON=sys.executable, DOCS_RUNNER=str(Path(__file__).resolve()))
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    namespace: dict = {"__name__": "__main__"}
    for block in blocks:
        where = f"{page}:{block.line}"
        if block.language == "yaml":
            _yaml_check(block.code)
        if block.mode not in ("run", "setup", "args"):
            continue
        print(f"docs-test: {where} ({block.language}, {block.mode})", flush=True)
        if block.language == "python":
            exec(compile(block.code, where, "exec"), namespace)
            continue
        prelude = _BASH_PRELUDE + (_ARGS_PRELUDE if block.mode == "args" else "")
        done = subprocess.run(["bash", "-c", prelude + block.code], env=env)
        if done.returncode:
            raise SystemExit(f"docs-test: {where}: bash block failed with status {done.returncode}")


def main(argv: list[str] | None = None) -> None:
    """``run PAGE [WORKDIR]``, or the helpers the bash prelude calls (``check-pip``, ``check-args``)."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[0] == "check-pip":
        check_pip(argv[1:])
    elif argv[0] == "check-args":
        check_args(argv[1:])
    elif argv[0] == "run":
        if len(argv) > 2:
            run_page(argv[1], Path(argv[2]))
        else:
            with tempfile.TemporaryDirectory(prefix="hybridpot-docs-") as tmp:
                run_page(argv[1], scratch_copy(Path(tmp) / "repo"))
    else:
        raise SystemExit(f"usage: {shlex.join(['python', 'tests/docs_blocks.py', 'run', 'PAGE'])}")


if __name__ == "__main__":
    main()
