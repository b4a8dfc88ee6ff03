"""Active learning on Al–Ni with EMT as the oracle: uncertainty-driven against random selection.

Both strategies start from the same 10 labelled structures (drawn at random from the training
pool of the Al–Ni study), run the same loop (:func:`hybridpot.uncertainty.run_active_learning`: a
4-member radial Behler–Parrinello ensemble, EMT labels) and differ only in which candidates they
label. Exploration is Langevin MD at 600/1200/2000 K from nine unlabelled start cells, one of each
system of interest (fcc Al, fcc Ni, B2 NiAl, L1₂ Ni₃Al and the liquids Ni_x Al_(1−x), x = 0, ¼, ½,
¾, 1): MD keeps the composition, so the starts say which systems the potential is for. The error
is measured on the 60 held-out test structures of the Al–Ni study (crystals at 300–900 K, strained cells,
normal-mode displacements, liquids at 1300–2000 K), never labelled by either loop.

    nice -n 10 python experiments/uncertainty/active_learning_alni.py

Writes ``experiments/uncertainty/results_active_learning_alni.json`` (every row of every loop,
after every loop) and the figure ``docs/figures/active_learning_alni.png``; prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

import jax
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "alni"))

from common import SPECIES, graphs_of, load_dataset, split_indices  # noqa: E402

from hybridpot.models import fit_descriptor_scaling, symmetry_function_spec  # noqa: E402
from hybridpot.models.behler_parrinello import behler_parrinello_model_args  # noqa: E402
from hybridpot.potentials import save_potential  # noqa: E402
from hybridpot.train import Dataset, config_from_dict  # noqa: E402
from hybridpot.uncertainty import ActiveLearningConfig, ExplorationConfig, run_active_learning  # noqa: E402

CUTOFF = 5.0  # Å: radial-only descriptors reach the second shell of both metals
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def make_model(labelled: Dataset):
    """Radial-only BP (2 × 12 G2 per atom, 32-32 tanh networks), scaling fitted to ``labelled``."""
    spec = symmetry_function_spec(SPECIES, CUTOFF, num_radial=12, num_angular_eta=0)
    scaling = fit_descriptor_scaling(spec, graphs_of(labelled, CUTOFF))
    return "behler_parrinello", behler_parrinello_model_args(spec, scaling, hidden=(32, 32))


def train_config(steps: int, n_members: int, seed: int, learning_rate: float):
    """The trainer config of every iteration (float32, Adam with cosine decay, EMA)."""
    return config_from_dict({
        "data": {"batch_size": 8, "n_buckets": 1},
        "loss": {"energy_weight": 50.0, "energy_per_atom": True, "forces_weight": 1.0},
        "optim": {"learning_rate": learning_rate, "warmup_steps": 20, "decay": "cosine", "final_lr_fraction": 0.01,
                  "clip_norm": 10.0, "ema_decay": 0.99},
        "run": {"seed": seed, "n_seeds": n_members, "max_steps": steps, "checkpoint_every": steps,
                "eval_every": steps, "progress": False},
    })


def emt():
    """The oracle: a fresh ASE EMT calculator."""
    from ase.calculators.emt import EMT

    return EMT()


def main(argv=None):
    """Command line: run both strategies for every replica, print and save the results."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--replicas", type=int, nargs="+", default=[0, 1, 2, 3, 4], help="loop seeds")
    parser.add_argument("--iterations", type=int, default=4)
    parser.add_argument("--select", type=int, default=10)
    parser.add_argument("--initial", type=int, default=10)
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--learning-rate", type=float, default=1e-2)
    parser.add_argument("--members", type=int, default=4)
    parser.add_argument("--md-steps", type=int, default=200)
    parser.add_argument("--trajectories", type=int, default=9)
    parser.add_argument("--sample-every", type=int, default=5)
    parser.add_argument("--max-force-std", type=float, default=1.0, help="eV/Å: a trajectory stops beyond it")
    parser.add_argument("--temperatures", type=float, nargs="+", default=[600.0, 1200.0, 2000.0])
    parser.add_argument("--strategies", nargs="+", default=["uncertainty", "random"])
    parser.add_argument("--out", default=os.path.join(HERE, "results_active_learning_alni.json"))
    parser.add_argument("--figure", default=os.path.join(ROOT, "docs", "figures", "active_learning_alni.png"))
    parser.add_argument("--run-dir", default=None, help="keep the loop folders here (default: a temporary folder)")
    parser.add_argument("--models-out", default=None,
                        help="folder for each loop's final committee as a model file (<strategy>_<replica>.npz)")
    args = parser.parse_args(argv)

    t_start = time.time()
    data, kinds = load_dataset()
    pool, _, test_idx = split_indices(len(data))
    test = Dataset([data[i] for i in test_idx])
    print(f"jax {jax.__version__} on {jax.devices()[0].platform}; test {len(test)} structures; "
          f"{len(pool)} in the pool the initial sets are drawn from", flush=True)
    exploration = ExplorationConfig(temperatures_K=tuple(args.temperatures), n_trajectories=args.trajectories,
                                    n_steps=args.md_steps, timestep_fs=2.0, sample_every=args.sample_every,
                                    max_force_std=args.max_force_std)
    starts = _starts(data, kinds, pool)
    rows = []
    with tempfile.TemporaryDirectory(prefix="hybridpot-al-") as scratch:
        base = args.run_dir or scratch
        for replica in args.replicas:
            start = np.random.default_rng(replica).choice(pool, size=args.initial, replace=False)
            initial = Dataset([data[i] for i in start])
            for strategy in args.strategies:
                t0 = time.time()
                config = ActiveLearningConfig(n_iterations=args.iterations, n_select=args.select, strategy=strategy,
                                              seed=replica, exploration=exploration)
                result = run_active_learning(
                    initial, test, emt, make_model, train_config(args.steps, args.members, replica, args.learning_rate),
                    config, os.path.join(base, f"{strategy}_{replica}"), starts=starts,
                    log=lambda s: print(f"[{strategy} {replica}] {s}", flush=True))
                for row in result.history:
                    rows.append({"replica": replica, "strategy": strategy, **row})
                if args.models_out:
                    os.makedirs(args.models_out, exist_ok=True)
                    path = save_potential(os.path.join(args.models_out, f"{strategy}_{replica}"), result.potential)
                    print(f"[{strategy} {replica}] wrote {path}", flush=True)
                print(f"[{strategy} {replica}] {time.time() - t0:.0f} s", flush=True)
                with open(args.out, "w") as f:  # after every loop: a long study keeps what it has
                    json.dump({"argv": sys.argv, "jax": jax.__version__, "seconds": time.time() - t_start,
                               "rows": rows}, f, indent=1)
    print(f"\ntotal {time.time() - t_start:.0f} s\n")
    print(table(rows))
    plot(rows, args.figure)


def _starts(data: Dataset, kinds, pool):
    """One unlabelled cell (ASE ``Atoms``, geometry only) of each system: the first pool
    structure of each config type of MD crystals and liquids."""
    from ase import Atoms

    out, seen = [], set()
    for i in pool:
        system = kinds[i]
        if system in seen or not (system.startswith("md_") or system.startswith("liquid_")):
            continue
        seen.add(system)
        s = data[i]
        out.append(Atoms(numbers=s.numbers, positions=s.positions, cell=s.cell, pbc=s.pbc))
    return out


def summary(rows):
    """``{(strategy, n_labelled): (E mean, E std, F mean, F std, spearman mean)}`` over replicas (meV units)."""
    out = {}
    for key in sorted({(r["strategy"], r["n_labelled"]) for r in rows}):
        sel = [r for r in rows if (r["strategy"], r["n_labelled"]) == key]
        e = np.array([1000 * r["energy_per_atom_rmse"] for r in sel])
        f = np.array([1000 * r["forces_rmse"] for r in sel])
        rho = np.array([r["forces_calibration"]["spearman"] for r in sel if "forces_calibration" in r])
        out[key] = (e.mean(), e.std(), f.mean(), f.std(), rho.mean() if rho.size else np.nan, len(sel))
    return out


def table(rows) -> str:
    """Markdown table: test RMSE (mean ± std over replicas) per strategy and labelling budget."""
    lines = ["| labelled | strategy | energy RMSE (meV/atom) | force RMSE (meV/Å) | Spearman ρ (force σ vs error) | replicas |",
             "|---|---|---|---|---|---|"]
    for (strategy, n), (em, es, fm, fs, rho, k) in sorted(summary(rows).items(), key=lambda x: (x[0][1], x[0][0])):
        lines.append(f"| {n} | {strategy} | {em:.2f} ± {es:.2f} | {fm:.1f} ± {fs:.1f} | {rho:.2f} | {k} |")
    return "\n".join(lines)


def plot(rows, path):
    """Test energy and force RMSE against labelled structures, mean ± std over replicas."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    stats = summary(rows)
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    for strategy, style in (("uncertainty", "o-"), ("random", "s--")):
        keys = sorted(k for k in stats if k[0] == strategy)
        if not keys:
            continue
        n = np.array([k[1] for k in keys])
        for ax, (m, s) in zip(axes, ((0, 1), (2, 3))):
            mean = np.array([stats[k][m] for k in keys])
            std = np.array([stats[k][s] for k in keys])
            ax.errorbar(n, mean, yerr=std, fmt=style, capsize=3, label=strategy)
    axes[0].set_ylabel("test energy RMSE (meV/atom)")
    axes[1].set_ylabel("test force RMSE (meV/Å)")
    for ax in axes:
        ax.set_xlabel("labelled structures")
        ax.set_yscale("log")
        ax.legend()
    fig.suptitle("Al–Ni, EMT oracle: active learning vs random selection")
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)


if __name__ == "__main__":
    main()
