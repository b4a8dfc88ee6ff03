"""rMD17: the MACE-like equivariant model against DimeNet++ at the same CPU wall-clock budget.

Protocol as for DimeNet++ in ``run_md17.py``: per molecule 1000 training frames of the shared
rMD17 file and 1000 set aside for validation, test on the remaining frames (``--n-test`` caps
them); loss MSE(E) + 100·MSE(F), AMSGrad with warm-up and cosine decay, EMA 0.99, batch 32,
per-element reference energies fitted by least squares and the network scaled by the training
force RMS; several seeds vmapped in one program per model. A fixed budget selects nothing, so the
validation frames are not evaluated (their cost would come out of the budget).

Equal budget: each model first runs ``--calibration-steps`` steps, timing each one, for its
steady steps/s (the second half of them) and its start-up (data preparation and compilation, to
the first finished step), then trains for ``(budget − start-up) × steps/s`` steps, so that both
get the whole cosine schedule within about the same wall clock. At ``--curve-points`` even times
of the budget the callback scores the EMA parameters on ``--curve-frames`` test frames; the
curve's clock is the training wall clock (compilation included, the curve's own evaluations
excluded). Final energy and force MAE on the test frames in meV, meV/Å and kcal/mol(/Å), per seed.

    python experiments/md17/equivariant_vs_dimenet.py --molecules ethanol aspirin --budget-minutes 10 \\
        --out docs/studies/md17_equivariant.json
    python experiments/md17/equivariant_vs_dimenet.py --replot docs/studies/md17_equivariant*.json \\
        --plot docs/figures/md17_equivariant.png
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

#: Published rMD17 MAE at 950–1000 training frames (energy meV, forces meV/Å): MACE (Batatia et al.
#: 2022, Table 2), NequIP (Batzner et al. 2022, l = 3), DimeNet++ is not reported on rMD17.
PUBLISHED = {
    "aspirin": {"MACE": (2.2, 6.6), "NequIP": (2.3, 8.2)},
    "ethanol": {"MACE": (0.4, 2.1), "NequIP": (0.4, 2.8)},
}


def parse_args(argv=None):
    """Command-line arguments of the study."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--molecules", nargs="+", default=["ethanol", "aspirin"])
    p.add_argument("--budget-minutes", type=float, default=8.0, help="training wall clock per model")
    p.add_argument("--calibration-steps", type=int, default=20)
    p.add_argument("--n-train", type=int, default=1000)
    p.add_argument("--n-valid", type=int, default=1000)
    p.add_argument("--n-test", type=int, default=1000, help="cap on test frames")
    p.add_argument("--curve-frames", type=int, default=200, help="test frames scored along training")
    p.add_argument("--curve-points", type=int, default=8, help="curve evaluations over the budget")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--learning-rate", type=float, default=1e-3)
    p.add_argument("--forces-weight", type=float, default=100.0)
    p.add_argument("--n-seeds", type=int, default=2)
    p.add_argument("--models", nargs="+", default=["MACE", "DimeNet++"], choices=["MACE", "DimeNet++"])
    p.add_argument("--channels", type=int, default=32)
    p.add_argument("--lmax", type=int, default=1)
    p.add_argument("--sh-lmax", type=int, default=3)
    p.add_argument("--run-dir", default="runs/md17_equivariant")
    p.add_argument("--out", default=None, help="write the rows as JSON here (after every model)")
    p.add_argument("--plot", default=None, help="draw test force MAE against wall clock into this PNG")
    p.add_argument("--shared-dir", default=None, help="the shared md17 folder (default: beside the repo)")
    p.add_argument("--replot", nargs="+", default=None, metavar="JSON",
                   help="train nothing: print the table of the rows of these --out files and draw --plot")
    return p.parse_args(argv)


def _config(args, max_steps: int, eval_every: int):
    from hybridpot.train import TrainConfig
    from hybridpot.train.config import (
        DataConfig,
        LossConfig,
        NormalisationConfig,
        OptimConfig,
        RunConfig,
    )

    return TrainConfig(
        data=DataConfig(batch_size=args.batch_size, n_buckets=1, prefetch=2),
        loss=LossConfig(kind="mse", energy_weight=1.0, energy_per_atom=False, forces_weight=args.forces_weight),
        optim=OptimConfig(name="amsgrad", learning_rate=args.learning_rate, warmup_steps=min(100, max_steps // 10),
                          decay="cosine", final_lr_fraction=0.05, ema_decay=0.99),
        normalisation=NormalisationConfig(shift=False, scale=False),
        run=RunConfig(n_seeds=args.n_seeds, max_steps=max_steps, eval_every=eval_every, checkpoint_every=max_steps,
                      log_every=10, progress=False),
    )


def model_spec(name: str, args, species, train_graphs) -> tuple[str, dict]:
    """``(model kind, constructor arguments)`` of the model under its study name: MACE-like
    (``--channels``, ``--lmax``) or DimeNet++ (published sizes); the model file stores them."""
    from hybridpot.models import average_neighbour_count

    if name == "DimeNet++":
        return "dimenet++", {"species": list(species)}
    return "mace", {"species": list(species), "channels": args.channels, "lmax": args.lmax, "sh_lmax": args.sh_lmax,
                    "avg_num_neighbors": float(average_neighbour_count(train_graphs))}


def train_at_budget(name, args, species, train, curve_set, normalisation, train_graphs, run_dir):
    """Calibrate steps/s, then train for the budget.

    Returns ``(result, steps, curve, train_seconds, calibrated steps/s)``.
    """
    import jax

    from hybridpot.potentials import Potential, build_model
    from hybridpot.train import evaluate, fit

    model = build_model(*model_spec(name, args, species, train_graphs))
    ticks = []

    def time_step(step, state):
        jax.block_until_ready(state.params)
        ticks.append(time.perf_counter())

    t = time.perf_counter()
    fit(model, train, None, _config(args, args.calibration_steps, args.calibration_steps),
        run_dir + "_calibration", normalisation=normalisation, callback=time_step)
    # the steady rate from the second half of the calibration steps (the first ones still warm up);
    # start-up (data preparation and compilation) is the time to the first finished step: the
    # budget includes it, since the run below compiles its own step again
    half = len(ticks) // 2
    rate = (len(ticks) - 1 - half) / (ticks[-1] - ticks[half])
    start_up = ticks[0] - t
    steps = max(1, int((args.budget_minutes * 60 - start_up) * rate))
    config = _config(args, steps, eval_every=steps)
    curve, clock = [], {"eval": 0.0, "next": 0.0}
    tick = args.budget_minutes * 60 / args.curve_points

    def callback(step, state):
        t = time.perf_counter()
        elapsed = t - clock["t0"] - clock["eval"]
        if elapsed < clock["next"] and step + 1 != steps:
            return
        clock["next"] = (np.floor(elapsed / tick) + 1) * tick
        m = evaluate(Potential(model, state.ema_params, normalisation), curve_set, config)
        curve.append({"step": step + 1, "seconds": elapsed, "forces_mae_meV": (np.asarray(m["forces_mae"]) * 1e3).tolist()})
        clock["eval"] += time.perf_counter() - t

    clock["t0"] = time.perf_counter()
    # no validation set: with one evaluation at the end it would select nothing and cost budget
    result = fit(model, train, None, config, run_dir, normalisation=normalisation, callback=callback)
    train_seconds = time.perf_counter() - clock["t0"] - clock["eval"]
    return result, steps, curve, train_seconds, rate


def run(args) -> list[dict]:
    """Both models per molecule; one row per model (written to ``--out`` after each)."""
    import jax

    from hybridpot.graph import build_graph
    from hybridpot.io.md17 import load_md17, protocol_split
    from hybridpot.potentials import EnergyNormalisation, TrainedPotential, save_potential
    from hybridpot.train import evaluate, fit_energy_normalisation
    from hybridpot.units import EV_TO_KCAL_PER_MOL

    rows = []
    for mol in args.molecules:
        frames = load_md17(mol, labels="rmd17", shared_dir=args.shared_dir)
        tr, va, te = protocol_split(frames.n_frames, args.n_train, args.n_valid)
        te = te[: args.n_test]
        train, test = frames.to_dataset(tr), frames.to_dataset(te)
        curve_set = frames.to_dataset(te[: args.curve_frames])
        species = tuple(sorted(set(frames.numbers.tolist())))
        train_graphs = [build_graph(frames.positions[i], frames.numbers, 5.0) for i in tr]
        force_rms = float(np.sqrt(np.mean(frames.forces[tr] ** 2)))
        mu = fit_energy_normalisation([frames.numbers] * len(tr), frames.energy[tr], fit_scale=False).shift
        normalisation = EnergyNormalisation(mu, np.asarray(force_rms))
        for name in args.models:
            run_dir = os.path.join(args.run_dir, f"{mol}_{name.replace('+', 'p')}_{int(time.time())}")
            result, steps, curve, seconds, rate = train_at_budget(
                name, args, species, train, curve_set, normalisation, train_graphs, run_dir)
            # the final state (no validation set) as a model file for evaluate, md and the calculator
            model_file = save_potential(os.path.join(run_dir, "model.npz"), TrainedPotential(
                *model_spec(name, args, species, train_graphs), result.potential.params, result.potential.normalisation))
            m = evaluate(result.potential, test, _config(args, steps, steps))
            e, f = np.asarray(m["energy_mae"]), np.asarray(m["forces_mae"])
            n_params = int(sum(np.prod(x.shape[1:]) for x in jax.tree.leaves(result.params)))
            row = dict(molecule=mol, model=name, budget_minutes=args.budget_minutes, steps=steps,
                       train_seconds=seconds, calibrated_steps_per_second=rate,
                       steps_per_second=result.steps_per_second, n_params=n_params, n_seeds=args.n_seeds,
                       n_train=len(tr), n_valid=len(va), n_test=len(te), batch_size=args.batch_size,
                       learning_rate=args.learning_rate,
                       energy_mae_meV=(e * 1e3).tolist(), forces_mae_meV=(f * 1e3).tolist(),
                       energy_mae_kcal=(e * EV_TO_KCAL_PER_MOL).tolist(),
                       forces_mae_kcal=(f * EV_TO_KCAL_PER_MOL).tolist(), curve=curve,
                       hyper=(dict(channels=args.channels, lmax=args.lmax, sh_lmax=args.sh_lmax, correlation=3,
                                   num_interactions=2) if name == "MACE" else "published DimeNet++"),
                       model_file=model_file)
            rows.append(row)
            print(json.dumps({k: v for k, v in row.items() if k != "curve"}), flush=True)
            if args.out:
                with open(args.out, "w") as fh:
                    json.dump({"args": vars(args), "rows": rows}, fh, indent=1)
    return rows


def table(rows: list[dict]) -> str:
    """Markdown table: mean ± spread over seeds, and the published numbers."""
    lines = ["| molecule | model | training (min) | steps | params | energy MAE (meV) | force MAE (meV/Å) | "
             "force MAE (kcal/mol/Å) | published E / F (meV, meV/Å) |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        e, f, fk = (np.asarray(r[k]) for k in ("energy_mae_meV", "forces_mae_meV", "forces_mae_kcal"))
        pub = PUBLISHED.get(r["molecule"], {}).get("MACE" if r["model"] == "MACE" else "", None)
        lines.append(f"| {r['molecule']} | {_label(r)} | {r['train_seconds'] / 60:.1f} | {r['steps']} | "
                     f"{r['n_params']:,} | {e.mean():.1f} ± {e.std():.1f} | {f.mean():.1f} ± {f.std():.1f} | "
                     f"{fk.mean():.3f} | {'—' if pub is None else f'{pub[0]} / {pub[1]}'} |")
    return "\n".join(lines)


def _label(row: dict) -> str:
    return f"{row['model']} (lr {row['learning_rate']:g})"


def plot(rows: list[dict], png: str) -> None:
    """Test force MAE (mean over seeds) against training wall clock, one panel per molecule."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    molecules = list(dict.fromkeys(r["molecule"] for r in rows))
    fig, axes = plt.subplots(1, len(molecules), figsize=(5 * len(molecules), 3.8), squeeze=False)
    for ax, mol in zip(axes[0], molecules):
        for r in rows:
            if r["molecule"] != mol:
                continue
            t = [c["seconds"] / 60 for c in r["curve"]]
            ax.plot(t, [np.mean(c["forces_mae_meV"]) for c in r["curve"]], marker="o", ms=3, label=_label(r))
        ax.set(title=f"rMD17 {mol}", xlabel="training wall clock (min, 2-core CPU)",
               ylabel="test force MAE (meV/Å)", yscale="log")
        ax.legend()
    fig.tight_layout()
    fig.savefig(png, dpi=120)


def main(argv=None):
    """Run the study, print the table, write JSON and the plot."""
    args = parse_args(argv)
    if args.replot:
        rows = []
        for path in args.replot:
            with open(path) as fh:
                stored = json.load(fh)
            # files written before rows carried their learning rate: the run's argument
            rows += [{"learning_rate": stored["args"]["learning_rate"], **r} for r in stored["rows"]]
    else:
        rows = run(args)
    print(table(rows))
    if args.plot:
        plot(rows, args.plot)


if __name__ == "__main__":
    main()
