"""Δ-learning study: a Behler–Parrinello network on E_high directly vs on E_high − E_low (GFN2-xTB),
at several numbers of high-level (rMD17 PBE/def2-SVP) labels of ethanol.

Data: the 200 bundled frames with both label sets (:func:`hybridpot.delta.bundled_delta_pair`). One
fixed seeded split: ``--n-test`` test frames, ``--n-valid`` validation frames (best checkpoint), the
rest a pool whose prefixes are the training sets. For every training size n:

* ``direct``: BP trained on (E_high, F_high); prediction = network;
* ``delta``: BP trained on (E_high − E_low, F_high − F_low) (:func:`hybridpot.delta.delta_dataset`);
  prediction = E_low + network;
* ``xtb+offset``: the low level alone, E_low + Σ_i μ_{Z_i} with μ fitted by least squares to
  E_high − E_low on the same n frames; its forces are F_low unchanged.

Both networks: same descriptors (scaling fitted on the n training geometries), architecture,
config, steps and seeds (``run.n_seeds`` vmapped members of one :func:`hybridpot.train.fit`).
Errors on the test frames against the high level: energy MAE/RMSE (meV per molecule) and force
MAE/RMSE (meV/Å, per component), mean ± std over members. Writes ``--out`` (JSON), prints a
markdown table and draws ``--figure``::

    nice -n 10 python experiments/delta/run_delta.py --sizes 10 25 50 100 150 --steps 3000
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SPECIES = (1, 6, 8)
APPROACHES = ("direct", "delta")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[10, 25, 50, 100, 150])
    p.add_argument("--n-test", type=int, default=40)
    p.add_argument("--n-valid", type=int, default=10)
    p.add_argument("--split-seed", type=int, default=0)
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--learning-rate", type=float, default=3e-3)
    p.add_argument("--energy-weight", type=float, default=10.0, help="per molecule, eV⁻² relative to forces (eV/Å)⁻²")
    p.add_argument("--forces-weight", type=float, default=1.0)
    p.add_argument("--hidden", type=int, nargs="+", default=[32, 32])
    p.add_argument("--cutoff", type=float, default=5.0)
    p.add_argument("--n-seeds", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=os.path.join(ROOT, "experiments", "delta", "results_delta.json"))
    p.add_argument("--figure", default=os.path.join(ROOT, "docs", "figures", "delta_learning_curve.png"))
    p.add_argument("--models-out", default=None,
                   help="folder for a model file of every run (<approach>-n<size>.npz; the delta one is the correction)")
    return p.parse_args(argv)


def split(n_frames: int, n_test: int, n_valid: int, seed: int):
    """Seeded ``(pool, valid, test)`` frame indices; training sets are prefixes of ``pool``."""
    order = np.random.default_rng(seed).permutation(n_frames)
    return order[n_test + n_valid :], order[n_test : n_test + n_valid], order[:n_test]


def train_config(args):
    """The config of every fit (float32, Adam, warm-up + cosine decay, EMA, best on validation)."""
    from hybridpot.train import config_from_dict

    return config_from_dict({
        "data": {"batch_size": args.batch_size, "n_buckets": 1},
        "loss": {"kind": "mse", "energy_weight": args.energy_weight, "energy_per_atom": False,
                 "forces_weight": args.forces_weight},
        "optim": {"learning_rate": args.learning_rate, "warmup_steps": min(100, args.steps // 10), "decay": "cosine",
                  "final_lr_fraction": 0.01, "clip_norm": 10.0, "ema_decay": 0.99},
        "normalisation": {"shift": True, "scale": True},
        "run": {"seed": args.seed, "n_seeds": args.n_seeds, "max_steps": args.steps,
                "eval_every": max(args.steps // 20, 1), "checkpoint_every": args.steps, "progress": False},
    })


def make_bp(train, args):
    """A BP network for H, C, O whose descriptor scaling is fitted on the training geometries."""
    from hybridpot.graph import build_graph
    from hybridpot.models import behler_parrinello, fit_descriptor_scaling, symmetry_function_spec

    spec = symmetry_function_spec(SPECIES, args.cutoff, args.cutoff, num_radial=8, num_angular_eta=3)
    graphs = [build_graph(s.positions, s.numbers, args.cutoff) for s in train.structures]
    scaling = fit_descriptor_scaling(spec, graphs)
    return behler_parrinello(spec, scaling, hidden=tuple(args.hidden)), spec, scaling


def errors(energy_pred, forces_pred, high) -> dict:
    """Test errors of ``[n_seeds, n]`` eV energies and ``[n_seeds, n, A, 3]`` eV/Å forces against
    ``high``: ``{metric: [n_seeds]}`` in meV and meV/Å."""
    e_ref = np.array([s.energy for s in high.structures])
    f_ref = np.stack([s.forces for s in high.structures])
    de = np.asarray(energy_pred, np.float64) - e_ref
    df = np.asarray(forces_pred, np.float64) - f_ref
    axes = tuple(range(1, df.ndim))
    return {"energy_mae": 1000 * np.mean(np.abs(de), axis=1), "energy_rmse": 1000 * np.sqrt(np.mean(de**2, axis=1)),
            "forces_mae": 1000 * np.mean(np.abs(df), axis=axes), "forces_rmse": 1000 * np.sqrt(np.mean(df**2, axis=axes))}


def summary(errs: dict) -> dict:
    """Mean and std over members of each metric (plus every member's value)."""
    return {k: {"mean": float(np.mean(v)), "std": float(np.std(v)), "members": np.atleast_1d(v).tolist()}
            for k, v in errs.items()}


def run(args) -> dict:
    import jax

    from hybridpot.delta import bundled_delta_pair, delta_dataset
    from hybridpot.models import behler_parrinello_model_args
    from hybridpot.potentials import TrainedPotential, save_potential
    from hybridpot.train import Dataset, fit, fit_energy_normalisation, predict

    t_start = time.time()
    high, low = bundled_delta_pair()
    corr = delta_dataset(high, low)
    pool, valid_idx, test_idx = split(len(high), args.n_test, args.n_valid, args.split_seed)
    if max(args.sizes) > len(pool):
        raise ValueError(f"largest size {max(args.sizes)} exceeds the pool of {len(pool)} frames")
    subset = lambda data, idx: Dataset([data[i] for i in idx])  # noqa: E731
    sets = {"direct": high, "delta": corr}
    test_high, test_low = subset(high, test_idx), subset(low, test_idx)
    e_low_test = np.array([s.energy for s in test_low.structures])
    f_low_test = np.stack([s.forces for s in test_low.structures])
    cfg = train_config(args)
    print(f"{len(high)} frames: pool {len(pool)}, valid {len(valid_idx)}, test {len(test_idx)}; "
          f"jax {jax.__version__} on {jax.devices()[0].platform}, {os.cpu_count()} CPU cores", flush=True)
    rows = []
    for n in args.sizes:
        train_idx = pool[:n]
        model, spec, scaling = make_bp(subset(high, train_idx), args)
        # the low level alone, after a per-element offset fitted on the same n frames
        mu = fit_energy_normalisation([high[i].numbers for i in train_idx], np.array([high[i].energy for i in train_idx]),
                                      physics_energies=np.array([low[i].energy for i in train_idx]), fit_scale=False).shift
        offset = np.array([mu[s.numbers].sum() for s in test_low.structures])
        rows.append({"n_train": n, "approach": "xtb+offset", "seconds": 0.0,
                     **summary(errors((e_low_test + offset)[None], f_low_test[None], test_high))})
        print(_line(rows[-1]), flush=True)
        for name in APPROACHES:
            t0 = time.time()
            with tempfile.TemporaryDirectory() as run_dir:
                result = fit(model, subset(sets[name], train_idx), subset(sets[name], valid_idx), cfg, run_dir)
                if args.models_out:  # the delta model is E_high − E_xTB: delta_calculator(TBLite(...), it)
                    os.makedirs(args.models_out, exist_ok=True)
                    trained = TrainedPotential.from_run(run_dir, "behler_parrinello", behler_parrinello_model_args(
                        spec, scaling, hidden=tuple(args.hidden)))
                    print(f"wrote {save_potential(os.path.join(args.models_out, f'{name}-n{n}'), trained)}", flush=True)
            pred = predict(result.potential, subset(sets[name], test_idx), dtype=np.dtype(cfg.run.dtype))
            energy, forces = pred["energy"], np.stack(pred["forces"], axis=1)  # [n_seeds, n], [n_seeds, n, A, 3]
            if name == "delta":  # E = E_low + E_corr, F = F_low + F_corr
                energy, forces = e_low_test[None] + energy, f_low_test[None] + forces
            rows.append({"n_train": n, "approach": name, **summary(errors(energy, forces, test_high)),
                         "steps": args.steps, "steps_per_second": float(result.steps_per_second),
                         "n_compilations": int(result.n_compilations), "seconds": time.time() - t0})
            print(_line(rows[-1]), flush=True)
    return {"argv": sys.argv, "config": {k: v for k, v in vars(args).items()}, "n_features": int(spec.n_features),
            "split": {"pool": pool.tolist(), "valid": valid_idx.tolist(), "test": test_idx.tolist()},
            "device": f"{jax.devices()[0].platform}, {os.cpu_count()} CPU cores, {platform.processor() or platform.machine()}",
            "versions": {"jax": jax.__version__, "python": platform.python_version()},
            "units": {"energy": "meV per molecule", "forces": "meV/Å per component"},
            "rows": rows, "seconds": time.time() - t_start}


def _line(r: dict) -> str:
    return (f"n={r['n_train']:4d} {r['approach']:10s} E MAE {r['energy_mae']['mean']:8.2f} ± {r['energy_mae']['std']:6.2f} meV  "
            f"F MAE {r['forces_mae']['mean']:7.1f} ± {r['forces_mae']['std']:5.1f} meV/Å  ({r['seconds']:.0f} s)")


def table(rows) -> str:
    """Markdown table of the test errors (mean ± std over members)."""
    pm = lambda m, d: f"{m['mean']:.{d}f} ± {m['std']:.{d}f}"  # noqa: E731
    out = ["| high-level labels | approach | energy MAE (meV) | energy RMSE (meV) | force MAE (meV/Å) | force RMSE (meV/Å) |",
           "|---|---|---|---|---|---|"]
    for r in rows:
        out.append(f"| {r['n_train']} | {r['approach']} | {pm(r['energy_mae'], 1)} | {pm(r['energy_rmse'], 1)} | "
                   f"{pm(r['forces_mae'], 1)} | {pm(r['forces_rmse'], 1)} |")
    return "\n".join(out)


def plot(rows, path: str, n_seeds: int) -> None:
    """Log–log learning curves: energy and force MAE against the number of high-level labels."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9.0, 3.8))
    styles = {"direct": ("C0", "o", "BP on $E_\\mathrm{high}$ (direct)"),
              "delta": ("C3", "s", "xTB + BP on $E_\\mathrm{high}-E_\\mathrm{low}$ (Δ)"),
              "xtb+offset": ("0.4", None, "xTB + per-element offset")}
    for ax, metric, unit in zip(axes, ("energy_mae", "forces_mae"), ("meV", "meV/Å")):
        for name, (color, marker, label) in styles.items():
            sel = [r for r in rows if r["approach"] == name]
            n = [r["n_train"] for r in sel]
            mean = np.array([r[metric]["mean"] for r in sel])
            std = np.array([r[metric]["std"] for r in sel])
            if marker is None:
                ax.plot(n, mean, "--", color=color, label=label)
            else:
                ax.errorbar(n, mean, yerr=std, color=color, marker=marker, capsize=3, label=label)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("high-level (PBE) training labels")
        ax.set_ylabel(f"test {metric.split('_')[0]} MAE ({unit})")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle(f"ethanol (rMD17): direct vs Δ-learning on GFN2-xTB, mean ± std over {n_seeds} seeds", fontsize=10)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None):
    """Command line: train, print the table, write the JSON and the figure."""
    args = parse_args(argv)
    results = run(args)
    print(f"\ntotal {results['seconds']:.0f} s\n")
    print(table(results["rows"]))
    with open(args.out, "w") as f:
        json.dump(results, f, indent=1)
    if args.figure:
        plot(results["rows"], args.figure, args.n_seeds)


if __name__ == "__main__":
    main()
