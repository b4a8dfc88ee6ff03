"""Start-up of ``hybridpot train``: compile seconds per model family, first run vs second run.

Each model family's template trains for two steps on 20 frames of the bundled MD17 ethanol
file, twice, each time in a fresh process sharing one new persistent compilation cache folder
(``--compile-cache``, on by default in the command line): the first run compiles and fills the
cache, the second loads the programs from it. Prints, per family, the wall time of the process
(Python start to exit) and the seconds XLA spent compiling (JAX's
``/jax/core/compile/backend_compile_duration`` events), for both runs.

Run: ``python benchmarks/compile_cache.py [--models pair_mlp behler_parrinello dimenet++ mace]``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

import hybridpot
from hybridpot.cli.templates import MODEL_SECTIONS, template

ROOT = Path(hybridpot.__file__).resolve().parents[1]
DATA = ROOT / "hybridpot" / "data" / "md17_ethanol_rmd17_200.npz"

# `hybridpot train` in this process, adding up XLA compile seconds and persistent-cache hits
CHILD = """\
import sys, jax.monitoring
compile_s, hits = [0.0], [0]
def on_duration(name, secs, **kw):
    if name == "/jax/core/compile/backend_compile_duration":
        compile_s[0] += secs
def on_event(name, **kw):
    if name == "/jax/compilation_cache/cache_hits":
        hits[0] += 1
jax.monitoring.register_event_duration_secs_listener(on_duration)
jax.monitoring.register_event_listener(on_event)
from hybridpot.cli import main
status = main(sys.argv[1:])
print(f"COMPILE {compile_s[0]:.3f} HITS {hits[0]}")
sys.exit(status)
"""


def train_once(folder: Path, config: Path, cache: Path, out: str) -> tuple[float, float, int]:
    """(wall s, XLA compile s, cache hits) of one `hybridpot train` process."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    argv = [sys.executable, "-c", CHILD, "--compile-cache", str(cache), "train", str(config), "--out", out, "--no-progress"]
    t = time.perf_counter()
    done = subprocess.run(argv, cwd=folder, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t
    if done.returncode != 0:
        raise RuntimeError(f"hybridpot train failed:\n{done.stderr[-3000:]}")
    fields = done.stdout.rsplit("COMPILE", 1)[1].split()
    return wall, float(fields[0]), int(fields[2])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(MODEL_SECTIONS), choices=list(MODEL_SECTIONS))
    args = parser.parse_args()
    print(f"hybridpot train, 2 steps on 20 MD17 ethanol frames; python {sys.version.split()[0]}, {os.cpu_count()} CPU(s)")
    print()
    print("| model | first run: wall s | first run: compile s | second run: wall s | second run: compile s | cache hits |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for kind in args.models:
            cfg = yaml.safe_load(template(kind))
            cfg["dataset"].update(train=f"{DATA}@0:20", valid_fraction=0.2, format="md17")
            cfg["run"].update(max_steps=2, eval_every=2, checkpoint_every=2)
            cfg["data"].update(batch_size=4, n_buckets=1)
            config = folder / f"{kind}.yaml"
            config.write_text(yaml.safe_dump(cfg, allow_unicode=True))
            cache = folder / f"cache-{kind}"
            first = train_once(folder, config, cache, f"{kind}-1")
            second = train_once(folder, config, cache, f"{kind}-2")
            print(f"| {kind} | {first[0]:.1f} | {first[1]:.1f} | {second[0]:.1f} | {second[1]:.1f} | {second[2]} |")


if __name__ == "__main__":
    main()
