"""Diatomic study training speed: one vmapped program vs a Python loop vs PyTorch per run.

Measures, for the paper-protocol APHYNITY model (Morse + 1→50→24→12→1 ReLU MLP, full-batch
Adam, float32, 64 padded training points):

1. the study's program: every run (2 states × 8 fractions × 11 seeds = 176) in one
   ``jit(vmap(vmap(vmap(scan))))``;
2. the same jitted single-run program called in a Python loop over the runs;
3. the paper's own approach: PyTorch, one run at a time, a Python loop over Adam steps
   (same architecture and initialisation family), on the same machine.

From the measured optimiser steps per second it projects the wall time of the full paper
protocol (all six models × 8 fractions × 11 seeds × 2 states at the paper's step counts).

Run: ``python benchmarks/diatomic_training.py [--steps 2000] [--torch-steps 3000]``.
"""

from __future__ import annotations

import argparse
import platform
import time

import jax
import jax.numpy as jnp
import numpy as np

from hybridpot.physics import morse_energy, MorseParams
from hybridpot.studies.diatomic import get_protocol, nested_training_sets
from hybridpot.studies.diatomic.protocols import MODELS, STATES
from hybridpot.studies.diatomic.training import MORSE, Curves, pad_training_sets, stack_hypers, train_model, train_run
from dataclasses import replace

N_SEEDS = 11
R = np.concatenate([np.arange(0.5, 8.0, 0.1), np.linspace(8.0, 19.6, 89)])[:164].astype(np.float32)


def _curves(n_states: int) -> Curves:
    y = np.asarray(morse_energy(R, MorseParams(0.1745, 1.94, 0.741, -1.1745))) + 0.01 * np.exp(-R)
    r, yy, w = pad_training_sets(R, y.astype(np.float32), nested_training_sets(len(R)))
    return Curves(*(jnp.asarray(np.stack([a] * n_states), jnp.float32) for a in (r, yy, w)))


def paper_total_steps() -> tuple[int, int]:
    """(optimiser steps of every run of the full paper protocol, scan steps of the vmapped program)."""
    total, scan = 0, 0
    for model in MODELS:
        protocols = [get_protocol("paper", s) for s in STATES]
        for p in protocols:
            total += N_SEEDS * sum(sum(stage.steps) for stage in p.stages[model])
        scan += sum(max(max(p.stages[model][i].steps) for p in protocols) for i in range(len(protocols[0].stages[model])))
    return total, scan


def time_jax(steps: int) -> dict:
    protocol = get_protocol("paper", "X")
    stage = replace(protocol.stages["aphynity"][0], steps=(steps,) * 8)
    protocol = replace(protocol, stages={**protocol.stages, "aphynity": (stage,)})
    keys = jnp.stack([jax.random.key(s) for s in range(N_SEEDS)])
    with jax.enable_x64(False):
        curves = _curves(2)
        train_model("aphynity", [protocol] * 2, MORSE, curves, keys)[0]["learned"]["params"]["Dense_0"]["kernel"].block_until_ready()
        t = time.perf_counter()
        out = train_model("aphynity", [protocol] * 2, MORSE, curves, keys)
        jax.block_until_ready(out)
        vmapped = time.perf_counter() - t
        n_runs = 2 * 8 * N_SEEDS

        hypers = stack_hypers([protocol], "aphynity", jnp.float32)
        single = jax.jit(lambda r, y, w, h, k: train_run("aphynity", protocol, MORSE, r, y, w, h, k))
        one = lambda f, s: single(curves.r[0, f], curves.y[0, f], curves.w[0, f], jax.tree.map(lambda a: a[0, f], hypers), keys[s])
        jax.block_until_ready(one(0, 0))
        loop_runs = 16  # a sample of the runs; the loop's cost is linear in their number
        t = time.perf_counter()
        for i in range(loop_runs):
            jax.block_until_ready(one(i % 8, i % N_SEEDS))
        loop = (time.perf_counter() - t) / loop_runs * n_runs
    return {"n_runs": n_runs, "vmapped_s": vmapped, "loop_s": loop, "steps": steps}


def time_torch(steps: int) -> dict | None:
    try:
        import torch
    except ImportError:
        return None
    device = "cuda" if torch.cuda.is_available() else "cpu"
    # The peer's best setting: for a 1→50→24→12→1 network on 64 points one CPU thread is
    # several times faster than two (measured here: ~1,400 vs ~100 steps/s).
    torch.set_num_threads(1)
    torch.manual_seed(0)
    r, y, w = (torch.tensor(a[0, 7], device=device) for a in map(np.asarray, _curves(1)))
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

    for _ in range(200):
        step()
    if device == "cuda":
        torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(steps):
        step()
    if device == "cuda":
        torch.cuda.synchronize()
    return {"device": device, "steps_per_s": steps / (time.perf_counter() - t), "version": torch.__version__}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000, help="optimiser steps per JAX run")
    parser.add_argument("--torch-steps", type=int, default=3000, help="optimiser steps of the PyTorch run")
    args = parser.parse_args()
    total_steps, scan_steps = paper_total_steps()
    j = time_jax(args.steps)
    tr = time_torch(args.torch_steps)
    device = f"{jax.devices()[0].device_kind} ({jax.default_backend()}), {platform.processor() or platform.machine()}"
    run_steps = j["n_runs"] * j["steps"]
    rows = [
        ("hybridpot: one vmapped program", run_steps / j["vmapped_s"], scan_steps * j["vmapped_s"] / j["steps"]),
        ("hybridpot: Python loop of jitted runs", run_steps / j["loop_s"], total_steps / (run_steps / j["loop_s"])),
    ]
    if tr:
        rows.append((f"PyTorch {tr['version']} per run ({tr['device']})", tr["steps_per_s"], total_steps / tr["steps_per_s"]))
    print(f"device: {device}; jax {jax.__version__}")
    print(f"full paper protocol: {total_steps:,} optimiser steps; vmapped program: {scan_steps:,} scan steps × {j['n_runs']} runs")
    print()
    print("| approach | optimiser steps/s | projected full paper study | speed-up vs PyTorch (projected time) |")
    print("|---|---|---|---|")
    reference = rows[-1][2] if tr else None
    for name, rate, projected in rows:
        ratio = f"{reference / projected:.1f}×" if reference else "n/a"
        print(f"| {name} | {rate:,.0f} | {projected / 3600:.2f} h | {ratio} |")


if __name__ == "__main__":
    main()
