"""Every command and code block of README.md and docs/ runs as written (see tests/docs_blocks.py).

The default selection checks that every block is classified (run, args-only, skipped with a
reason, or output); the ``heavy`` selection runs each page in its own process and scratch copy of
the repository: python and bash blocks in order, the main job of the README included.
"""

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from docs_blocks import ROOT, doc_pages, page_blocks  # noqa: E402

PAGES = doc_pages()


@pytest.mark.parametrize("page", PAGES, ids=str)
def test_every_block_is_classified(page):
    text = re.sub(r"`[^`\n]*`", "", (ROOT / page).read_text())  # directives quoted as code are prose
    blocks, requires = page_blocks(page)
    assert len(re.findall(r"<!-- docs-test:", text)) == len(re.findall(r"<!-- docs-test: (skip|args|requires): .+? -->|<!-- docs-test: setup\n", text)), \
        f"{page}: a docs-test directive is misspelt"
    for block in blocks:
        where = f"{page}:{block.line}"
        assert block.language in ("python", "bash", "yaml", "text", ""), f"{where}: unknown language {block.language!r}"
        if block.mode == "args":
            assert block.language == "bash", f"{where}: args-only applies to bash commands"
        if block.mode in ("skip", "args") and block.language in ("python", "bash"):
            assert block.reason.strip(), f"{where}: say why the block is not run"
        if block.language == "" and block.mode != "args":
            first = block.code.strip().split("\n")[0]
            assert not re.match(r"(nice |python |hybridpot |pip )", first), f"{where}: a command in an unlabelled block (label it bash)"
    for name in requires:
        assert re.fullmatch(r"[A-Za-z_][\w.]*|shared/data/\w+", name), f"{page}: requires names modules or shared data, got {name!r}"


def _runnable(page) -> bool:
    blocks, _ = page_blocks(page)
    return any(b.mode in ("run", "setup", "args") or b.language == "yaml" for b in blocks)


@pytest.mark.heavy
@pytest.mark.parametrize("page", [p for p in PAGES if _runnable(p)], ids=str)
def test_page_runs_as_written(page, tmp_path):
    _, requires = page_blocks(page)
    env = dict(os.environ)
    shared = Path(env.get("HYBRIDPOT_SHARED_DATA", ROOT.parent / "shared" / "data"))
    env["HYBRIDPOT_SHARED_DATA"] = str(shared)
    for name in requires:
        if name.startswith("shared/data/"):
            if not (shared / name.split("/")[-1]).is_dir():
                pytest.skip(f"{page} reads {name}, which is absent here")
        elif importlib.util.find_spec(name) is None:
            pytest.skip(f"{page} needs {name} (an optional extra)")
    done = subprocess.run([sys.executable, str(ROOT / "tests" / "docs_blocks.py"), "run", str(page)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=1500)
    assert done.returncode == 0, f"{page} failed:\n{done.stdout[-6000:]}\n{done.stderr[-6000:]}"
