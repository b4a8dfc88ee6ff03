"""Diatomic study training speed: one fused program vs a Python loop vs PyTorch per run.

Measures, for the paper-protocol APHYNITY model (Morse + 1→50→24→12→1 ReLU MLP, full-batch
Adam, float32) on the paper's nested training sets of a 164-point curve (8 to 64 points),
both states × 8 fractions × 11 seeds = 176 runs, with the paper's step table of each
(state, fraction) scaled down so that its longest run takes ``--steps`` steps:

1. the study's program (``train_model``; compiled ahead, compilation not timed): every run in
   one ``jit``; runs that share a training set size and a step count are one ``vmap``, and
   every scan step advances each group that still has steps to take, on its own points only;
2. the same jitted single-run program (``train_run``) on each run's own points, called in a
   Python loop (its rate measured on one run of ``--steps`` steps per training-set size);
3. the paper's own approach: PyTorch, one run at a time, a Python loop over Adam steps
   (same architecture and initialisation family), on the same machine (its rate measured
   on one run of ``--torch-steps`` steps per training-set size).

Each is projected to the full paper protocol (all six models × 8 fractions × 11 seeds × 2
states at the paper's step counts) by scaling the measured APHYNITY time by the step tables'
reduction and by the ratio of all models' optimiser steps to APHYNITY's (every model has the
same network).

Run: ``python benchmarks/diatomic_training.py [--steps 2000] [--torch-steps 3000]``.
"""

from __future__ import annotations

import argparse
import platform
import time
from dataclasses import replace

import jax
import jax.numpy as jnp
import numpy as np

from hybridpot.physics import MorseParams, morse_energy
from hybridpot.studies.diatomic import get_protocol, nested_training_sets
from hybridpot.studies.diatomic.protocols import MODELS, STATES
from hybridpot.studies.diatomic.training import MORSE, Curves, model_program, pad_training_sets, stack_hypers, train_run

N_SEEDS = 11
R = np.concatenate([np.arange(0.5, 8.0, 0.1), np.linspace(8.0, 19.6, 89)])[:164].astype(np.float32)
SETS = nested_training_sets(len(R))


def _curves(n_states: int) -> Curves:
    y = np.asarray(morse_energy(R, MorseParams(0.1745, 1.94, 0.741, -1.1745))) + 0.01 * np.exp(-R)
    r, yy, w = pad_training_sets(R, y.astype(np.float32), SETS)
    return Curves(*(jnp.asarray(np.stack([a] * n_states), jnp.float32) for a in (r, yy, w)))


def run_steps(model: str) -> list[list[int]]:
    """``[state][fraction]`` optimiser steps of one run of ``model`` in the paper protocol."""
    return [[sum(stage.steps[f] for stage in get_protocol("paper", s).stages[model]) for f in range(len(SETS))] for s in STATES]


def scaled_protocols(scale: float):
    """The paper protocol of each state reduced to APHYNITY with every step count × ``scale``."""
    out = []
    for s in STATES:
        p = get_protocol("paper", s)
        stage = p.stages["aphynity"][0]
        out.append(replace(p, stages={"aphynity": (replace(stage, steps=tuple(max(1, round(n * scale)) for n in stage.steps)),)}))
    return out


def time_fused(scale: float) -> float:
    """Seconds of the fused program (compiled beforehand, not timed) for the scaled APHYNITY protocol."""
    protocols = scaled_protocols(scale)
    keys = jnp.stack([jax.random.key(s) for s in range(N_SEEDS)])
    curves = _curves(len(STATES))
    program, args = model_program("aphynity", protocols, MORSE, curves, keys)
    t = time.perf_counter()
    compiled = program.lower(*args).compile()
    print(f"fused program: compiled in {time.perf_counter() - t:.1f} s")
    t = time.perf_counter()
    jax.block_until_ready(compiled(*args))
    return time.perf_counter() - t


def loop_rates(steps: int) -> list[float]:
    """Optimiser steps/s of the jitted single-run program on each training set's own points."""
    protocol = get_protocol("paper", "X")
    stage = replace(protocol.stages["aphynity"][0], steps=(steps,) * len(SETS))
    protocol = replace(protocol, stages={"aphynity": (stage,)})
    hypers = stack_hypers([protocol], "aphynity", jnp.float32)
    curves = _curves(1)
    single = jax.jit(lambda r, y, w, h, k: train_run("aphynity", protocol, MORSE, r, y, w, h, k))
    rates = []
    for f, points in enumerate(SETS):
        n = len(points)
        args = (curves.r[0, f, :n], curves.y[0, f, :n], curves.w[0, f, :n], jax.tree.map(lambda a: a[0, f], hypers), jax.random.key(f))
        jax.block_until_ready(single(*args))
        t = time.perf_counter()
        jax.block_until_ready(single(*args))
        rates.append(steps / (time.perf_counter() - t))
    return rates


def torch_rates(steps: int) -> tuple[list[float], str, str] | None:
    """PyTorch optimiser steps/s of one run on each training set, its device and version."""
    try:
        import torch
    except ImportError:
        return None
    device = "cuda" if torch.cuda.is_available() else "cpu"
    # The peer's best setting: for a 1→50→24→12→1 network on 64 points one CPU thread is
    # several times faster than two (measured here: ~1,400 vs ~100 steps/s).
    torch.set_num_threads(1)
    torch.manual_seed(0)
    curves = _curves(1)
    rates = []
    for f, points in enumerate(SETS):
        r, y = (torch.tensor(np.asarray(a[0, f, : len(points)]), device=device) for a in (curves.r, curves.y))
        net = torch.nn.Sequential(
            torch.nn.Linear(1, 50), torch.nn.ReLU(), torch.nn.Linear(50, 24), torch.nn.ReLU(),
            torch.nn.Linear(24, 12), torch.nn.ReLU(), torch.nn.Linear(12, 1),
        ).to(device)
        morse = torch.nn.Parameter(torch.tensor([4.0, 3.0, 0.7, 0.0], device=device))
        opt = torch.optim.Adam(list(net.parameters()) + [morse], lr=1e-3)
        x = r[:, None]

        def step():
            opt.zero_grad()
            d_e, a, r_e, v = morse
            phys = d_e * (1 - torch.exp(-a * (r - r_e))) ** 2 + v
            total = phys + net(x)[:, 0]
            loss = ((total - y) ** 2).mean() + 2.0 * ((phys - y) ** 2).mean()
            loss.backward()
            opt.step()

        for _ in range(100):
            step()
        if device == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter()
        for _ in range(steps):
            step()
        if device == "cuda":
            torch.cuda.synchronize()
        rates.append(steps / (time.perf_counter() - t))
    return rates, device, torch.__version__


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000, help="steps of the longest fused run (the paper's table scaled down), and of each timed single JAX run")
    parser.add_argument("--torch-steps", type=int, default=3000, help="optimiser steps per timed PyTorch run")
    args = parser.parse_args()
    aphynity = run_steps("aphynity")
    aphynity_total = N_SEEDS * sum(map(sum, aphynity))
    scale = args.steps / max(map(max, aphynity))
    measured = N_SEEDS * sum(max(1, round(n * scale)) for row in aphynity for n in row)
    all_total = N_SEEDS * sum(sum(map(sum, run_steps(m))) for m in MODELS)
    to_full = all_total / aphynity_total

    with jax.enable_x64(False):
        fused = time_fused(scale) * aphynity_total / measured * to_full
        loop_rate = loop_rates(args.steps)
    per_run = lambda rates: N_SEEDS * sum(n / rates[f] for row in aphynity for f, n in enumerate(row)) * to_full  # noqa: E731
    rows = [("hybridpot: one fused program (train_model)", all_total / fused, fused)]
    rows.append(("hybridpot: Python loop of jitted runs", all_total / per_run(loop_rate), per_run(loop_rate)))
    peer = torch_rates(args.torch_steps)
    if peer:
        rates, device, version = peer
        rows.append((f"PyTorch {version} per run ({device})", all_total / per_run(rates), per_run(rates)))
    kind = f"{jax.devices()[0].device_kind} ({jax.default_backend()}), {platform.processor() or platform.machine()}"
    print(f"device: {kind}; jax {jax.__version__}")
    print(f"full paper protocol: {all_total:,} optimiser steps; fused APHYNITY measured on {measured:,} of its {aphynity_total:,}")
    print()
    print("| approach | optimiser steps/s | projected full paper study | speed-up vs PyTorch (projected time) |")
    print("|---|---|---|---|")
    reference = rows[-1][2] if peer else None
    for name, rate, projected in rows:
        ratio = f"{reference / projected:.1f}×" if reference else "n/a"
        print(f"| {name} | {rate:,.0f} | {projected / 3600:.2f} h | {ratio} |")


if __name__ == "__main__":
    main()
