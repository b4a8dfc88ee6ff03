"""Al–Ni study: a Behler–Parrinello network, plain and as a hybrid, against EMT at several training sizes.

Models (all through :func:`hybridpot.train.fit`):

* ``bp``: the BP network alone (per-element energy shift and force-RMS scale of the trainer);
* ``sm+bp`` (Sequential Phy-ML / Δ-learning): a second-moment embedded-atom baseline
  (:mod:`hybridpot.physics.embedded_atom`) is first fitted by least squares to the same training
  structures, then frozen (a fixed :func:`hybridpot.potentials.embedded_atom_term`) and composed with
  the network by :func:`hybridpot.hybrid.additive`; the network learns the rest;
* ``sm+bp λ=…`` (APHYNITY-style): the same hybrid as :func:`hybridpot.hybrid.aphynity` with
  ``penalty=λ`` (``--learned-weights``), a penalty on the size of the learned part;
* ``sm``: the fitted baseline alone, for reference.

The descriptor is set by ``--cutoff``, ``--radial`` and ``--angular-eta`` (0: a radial-only BP).

Held-out test set: 60 structures never used for fitting (30 more for validation / best checkpoint).
Reports energy RMSE (meV/atom) and force RMSE (meV/Å) on the test set, as a markdown table.
With ``--models-out DIR`` every run is also written as a model file ``DIR/<model>-n<size>.npz``
that ``hybridpot evaluate``, ``hybridpot md`` and the ASE calculator load.

    nice -n 15 python experiments/alni/train_bp.py --sizes 25 50 100 200 --steps 600
    nice -n 5 python experiments/alni/train_bp.py --sizes 100 250 --steps 3000 --cutoff 5.0 --radial 12 \
        --angular-eta 0 --learning-rate 1e-2 --learned-weights 0 100 --out experiments/alni/results_train_bp_radial.json
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

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import (  # noqa: E402
    CUTOFF,
    fit_second_moment,
    graphs_of,
    load_dataset,
    make_bp,
    second_moment_spec,
    second_moment_term,
    split_indices,
)

from hybridpot.graph import batch_graphs  # noqa: E402
from hybridpot.hybrid import additive, aphynity  # noqa: E402
from hybridpot.models import behler_parrinello_model_args  # noqa: E402
from hybridpot.potential import energy_and_forces  # noqa: E402
from hybridpot.potentials import TrainedPotential, save_potential  # noqa: E402
from hybridpot.train import Dataset, config_from_dict, evaluate, fit  # noqa: E402


def config(steps: int, batch_size: int, seed: int, learning_rate: float = 3e-3):
    """The training config of every run (float32, Adam, cosine decay, EMA, best-on-validation)."""
    return config_from_dict({
        "data": {"batch_size": batch_size, "n_buckets": 2},
        "loss": {"energy_weight": 50.0, "energy_per_atom": True, "forces_weight": 1.0},
        "optim": {"learning_rate": learning_rate, "warmup_steps": 20, "decay": "cosine", "final_lr_fraction": 0.01,
                  "clip_norm": 10.0, "ema_decay": 0.99},
        "run": {"seed": seed, "max_steps": steps, "eval_every": max(steps // 6, 1),
                "checkpoint_every": steps, "progress": False},
    })


def physics_metrics(params, offsets, dataset: Dataset) -> dict:
    """Energy-per-atom and force RMSE of the fitted baseline alone on ``dataset``."""
    graph = batch_graphs(graphs_of(dataset))
    term = second_moment_term(params, CUTOFF)
    e, f = energy_and_forces(lambda p, g: term.energy(p, g, None))({}, graph)
    n = np.asarray(graph.n_node, np.float64)
    shift = np.array([sum(offsets[z] for z in s.numbers) for s in dataset.structures])
    e_ref = np.array([s.energy for s in dataset.structures])
    f_ref = np.concatenate([s.forces for s in dataset.structures])
    return {"energy_per_atom_rmse": float(np.sqrt(np.mean(((np.asarray(e) + shift - e_ref) / n) ** 2))),
            "forces_rmse": float(np.sqrt(np.mean((np.asarray(f) - f_ref) ** 2)))}


def main(argv=None):
    """Command line; prints a markdown table and writes ``--out`` (JSON)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[25, 50, 100, 200])
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--hidden", type=int, nargs="+", default=[32, 32])
    parser.add_argument("--cutoff", type=float, default=CUTOFF, help="BP cutoff, Å (the baseline keeps 4 Å)")
    parser.add_argument("--radial", type=int, default=8, help="G2 functions per species")
    parser.add_argument("--angular-eta", type=int, default=3, help="η values of G4 (0: radial-only BP)")
    parser.add_argument("--learning-rate", type=float, default=3e-3)
    parser.add_argument("--learned-weights", type=float, nargs="+", default=[0.0],
                        help="sm+bp runs with these APHYNITY-style penalties λ on the learned part (eV/atom)²")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--models", nargs="+", default=["bp", "sm+bp"])
    parser.add_argument("--out", default=os.path.join("experiments", "alni", "results_train_bp.json"))
    parser.add_argument("--save-params", default=None, help="npz file for the params of the largest runs (md_jaxmd.py)")
    parser.add_argument("--models-out", default=None, help="folder for a model file of every run")
    args = parser.parse_args(argv)
    if args.save_params and (args.cutoff, args.radial, args.angular_eta) != (CUTOFF, 8, 3):
        parser.error("--save-params stores the default descriptor only (md_jaxmd.py rebuilds it)")

    t_start = time.time()
    data, kinds = load_dataset()
    pool, valid_idx, test_idx = split_indices(len(data))
    valid = Dataset([data[i] for i in valid_idx])
    test = Dataset([data[i] for i in test_idx])
    rows, saved = [], {}
    print(f"{len(data)} structures: pool {len(pool)}, valid {len(valid)}, test {len(test)}; "
          f"jax {jax.__version__} on {jax.devices()[0].platform}", flush=True)
    for n in args.sizes:
        train = Dataset([data[i] for i in pool[:n]])
        model, spec, scaling = make_bp(train, tuple(args.hidden), args.cutoff, args.angular_eta, args.radial)
        cfg = config(args.steps, args.batch_size, args.seed, args.learning_rate)
        runs = [(name, weight) for name in args.models for weight in (args.learned_weights if name == "sm+bp" else [0.0])]
        physics, extra = None, {}
        if any(name == "sm+bp" for name, _ in runs):
            t0 = time.time()
            sm_params, offsets, info = fit_second_moment(train)
            physics = second_moment_term(sm_params, CUTOFF)  # fixed: the trainer does not update it
            extra = {"sm_fit": info, "sm_test": physics_metrics(sm_params, offsets, test), "sm_params": sm_params}
            rows.append({"n_train": n, "model": "sm", **extra["sm_test"], "seconds": time.time() - t0})
            print(_row(rows[-1]), flush=True)
        for name, weight in runs:
            t0 = time.time()
            run_model = _run_model(model, physics if name == "sm+bp" else None, weight)
            label = name if not weight else f"{name} λ={weight:g}"
            with tempfile.TemporaryDirectory() as run_dir:
                result = fit(run_model, train, valid, cfg, run_dir)
                if args.models_out:
                    path = _save_model(args.models_out, run_dir, label, n, spec, scaling, tuple(args.hidden),
                                       extra.get("sm_params") if name == "sm+bp" else None, weight)
                    print(f"wrote {path}", flush=True)
            metrics = evaluate(result.potential, test, cfg)
            rows.append({"n_train": n, "model": label, "energy_per_atom_rmse": float(metrics["energy_per_atom_rmse"][0]),
                         "forces_rmse": float(metrics["forces_rmse"][0]), "steps": args.steps,
                         "steps_per_second": float(result.steps_per_second), "seconds": time.time() - t0})
            if "learned_per_atom_rmse" in metrics:
                rows[-1]["learned_per_atom_rmse"] = float(metrics["learned_per_atom_rmse"][0])
            print(_row(rows[-1]), flush=True)
            if n == max(args.sizes) and not weight:
                saved[name] = (result, spec, scaling, extra if name == "sm+bp" else {})
    print(f"\ntotal {time.time() - t_start:.0f} s\n")
    print(table(rows))
    with open(args.out, "w") as f:
        json.dump({"argv": sys.argv, "rows": rows, "seconds": time.time() - t_start}, f, indent=1)
    if args.save_params:
        _save(args.save_params, saved, pool[: max(args.sizes)])


def _run_model(model, physics, weight: float):
    """The model one run trains: the BP network alone (``physics`` None), the Δ-learning hybrid
    ``additive(physics, model)``, or with ``weight`` λ > 0 ``aphynity(physics, model, penalty=λ)``."""
    if physics is None:
        return model
    return aphynity(physics, model, penalty=weight) if weight else additive(physics, model)


def _save_model(folder, run_dir, label, n_train, spec, scaling, hidden, sm_params, weight) -> str:
    """The run's best parameters as a model file ``folder/<label>-n<n_train>.npz`` (λ written out)."""
    physics = strategy = None
    if sm_params is not None:  # the fixed fitted baseline, rebuilt by name from the file
        physics = second_moment_spec(sm_params)
        strategy = {"name": "aphynity", "penalty": weight} if weight else {"name": "additive"}
    potential = TrainedPotential.from_run(run_dir, "behler_parrinello",
                                          behler_parrinello_model_args(spec, scaling, hidden=hidden),
                                          physics=physics, strategy=strategy, metadata={"script": "experiments/alni/train_bp.py"})
    os.makedirs(folder, exist_ok=True)
    return save_potential(os.path.join(folder, f"{label.replace(' λ=', '-lambda')}-n{n_train}.npz"), potential)


def _row(r: dict) -> str:
    return (f"n={r['n_train']:4d} {r['model']:6s} E {1000 * r['energy_per_atom_rmse']:7.2f} meV/atom  "
            f"F {1000 * r['forces_rmse']:7.1f} meV/Å  ({r['seconds']:.0f} s)")


def table(rows) -> str:
    """Markdown table of the test-set RMSEs (and, for hybrids, the RMS of the learned part per atom)."""
    out = ["| training structures | model | energy RMSE (meV/atom) | force RMSE (meV/Å) | learned part RMS (meV/atom) "
           "| time (s) |",
           "|---|---|---|---|---|---|"]
    for r in rows:
        learned = f"{1000 * r['learned_per_atom_rmse']:.1f}" if "learned_per_atom_rmse" in r else "–"
        out.append(f"| {r['n_train']} | {r['model']} | {1000 * r['energy_per_atom_rmse']:.2f} | "
                   f"{1000 * r['forces_rmse']:.1f} | {learned} | {r['seconds']:.0f} |")
    return "\n".join(out)


def _save(path, saved, train_idx):
    """Parameters (member 0), normalisation, scaling and baseline of the largest runs, for MD."""
    arrays = {"train_idx": np.asarray(train_idx)}
    for name, (result, spec, scaling, extra) in saved.items():
        # the network's own parameters (a hybrid's "learned" group; its fixed physics group is
        # empty and stored below as sm/*), keyed as md_jaxmd.py rebuilds them
        params = result.best_params["learned"] if result.model.hybrid is not None else result.best_params
        flat = jax.tree_util.tree_flatten_with_path(jax.tree_util.tree_map(lambda x: np.asarray(x)[0], params))[0]
        for keypath, leaf in flat:
            arrays[f"{name}/params/{jax.tree_util.keystr(keypath)}"] = leaf
        arrays[f"{name}/shift"] = np.asarray(result.normalisation.shift)
        arrays[f"{name}/scale"] = np.asarray(result.normalisation.scale)
        arrays[f"{name}/scaling_mean"] = scaling.mean
        arrays[f"{name}/scaling_scale"] = scaling.scale
        if "sm_params" in extra:
            for field, value in zip(extra["sm_params"]._fields, extra["sm_params"]):
                arrays[f"{name}/sm/{field}"] = np.asarray(value)
    np.savez(path, **arrays)


if __name__ == "__main__":
    main()
