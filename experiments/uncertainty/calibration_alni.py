"""Is the spread of a vmapped ensemble a calibrated error bar? Al–Ni (EMT), held-out data.

An ensemble of ``--members`` radial Behler–Parrinello networks (the model of
``active_learning_alni.py``) is trained in one vmapped run on ``--train`` structures of the
Al–Ni pool. On the 30 validation structures the one-parameter recalibration σ → sσ is fitted
(:func:`hybridpot.uncertainty.fit_sigma_scale`), separately for energies per atom and force
components; on the 60 test structures the spread is scored before and after it (Spearman ρ,
Gaussian NLL, miscalibration area, coverage of the 68 % and 95 % intervals).

    nice -n 10 python experiments/uncertainty/calibration_alni.py

Writes ``experiments/uncertainty/results_calibration_alni.json`` and the figure
``docs/figures/calibration_alni.png``; prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

import jax

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "alni"))
sys.path.insert(0, HERE)

from active_learning_alni import make_model, train_config  # noqa: E402
from common import load_dataset, split_indices  # noqa: E402

from hybridpot import plots  # noqa: E402
from hybridpot.potentials import TrainedPotential, build_model, save_potential  # noqa: E402
from hybridpot.train import Dataset, fit  # noqa: E402
from hybridpot.uncertainty import calibration_report, committee_errors, ensemble_predict, fit_sigma_scale  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(HERE))


def main(argv=None):
    """Command line: train, calibrate on validation, score on test; print, save JSON and figure."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--train", type=int, default=100, help="training structures from the pool")
    parser.add_argument("--members", type=int, default=8)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--learning-rate", type=float, default=1e-2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=os.path.join(HERE, "results_calibration_alni.json"))
    parser.add_argument("--figure", default=os.path.join(ROOT, "docs", "figures", "calibration_alni.png"))
    parser.add_argument("--model-out", default=None, help="write the committee as a model file here (.npz)")
    args = parser.parse_args(argv)

    t0 = time.time()
    data, _ = load_dataset()
    pool, valid_idx, test_idx = split_indices(len(data))
    train = Dataset([data[i] for i in pool[: args.train]])
    valid = Dataset([data[i] for i in valid_idx])
    test = Dataset([data[i] for i in test_idx])
    kind, model_args = make_model(train)
    model = build_model(kind, model_args)
    with tempfile.TemporaryDirectory() as run_dir:
        result = fit(model, train, None, train_config(args.steps, args.members, args.seed, args.learning_rate), run_dir)
    if args.model_out:  # every member (no validation set: the last state); the calculator reports the spread
        trained = TrainedPotential(kind, model_args, result.potential.params, result.potential.normalisation)
        print(f"wrote {save_potential(args.model_out, trained)}")
    sets = {}
    for name, ds in (("valid", valid), ("test", test)):
        stats = ensemble_predict(result.potential, ds)
        sets[name] = committee_errors(stats, ds)
    rows = []
    for quantity in ("energy_per_atom", "forces"):
        scale = fit_sigma_scale(*sets["valid"][quantity])
        for label, s in (("raw", 1.0), ("recalibrated", scale)):
            rows.append({"quantity": quantity, "sigma": label, **calibration_report(*sets["test"][quantity], scale=s)})
    seconds = time.time() - t0
    print(f"jax {jax.__version__} on {jax.devices()[0].platform}; {args.members} members, {len(train)} training "
          f"structures, {args.steps} steps; {seconds:.0f} s\n")
    print(table(rows))
    with open(args.out, "w") as f:
        json.dump({"argv": sys.argv, "jax": jax.__version__, "seconds": seconds, "rows": rows}, f, indent=1)
    figure(sets["test"], {r["quantity"]: r["scale"] for r in rows if r["sigma"] == "recalibrated"}, args.figure)


def table(rows) -> str:
    """Markdown table of the test-set calibration measures."""
    out = ["| quantity | σ | RMSE | mean σ | Spearman ρ | NLL | miscalibration area | 68 % coverage | 95 % coverage |",
           "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        unit, k = ("meV/atom", 1000) if r["quantity"] == "energy_per_atom" else ("meV/Å", 1000)
        sigma = "raw" if r["sigma"] == "raw" else f"× {r['scale']:.2f} (fitted on valid)"
        out.append(f"| {r['quantity']} | {sigma} | {k * r['rmse']:.1f} {unit} | {k * r['mean_sigma']:.1f} {unit} | "
                   f"{r['spearman']:.2f} | {r['nll']:.2f} | {r['miscalibration_area']:.3f} | "
                   f"{r['coverage_68']:.2f} | {r['coverage_95']:.2f} |")
    return "\n".join(out)


def figure(test_sets: dict, scales: dict, path: str) -> None:
    """Calibration curves on the test set, raw and recalibrated, for energies and forces."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 4.2))
    for ax, (quantity, title) in zip(axes, (("energy_per_atom", "energy per atom"), ("forces", "force component"))):
        plots.calibration_plot(*test_sets[quantity], scales=(1.0, scales[quantity]), quantity=title, ax=ax)
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)


if __name__ == "__main__":
    main()
