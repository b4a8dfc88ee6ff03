"""Long-range study (issue 21): a local model with a 5 Å cutoff against long-range hybrids, by separation.

Data (``--data``): two oppositely charged fragments pulled apart, each frame's centroid separation in
``info["separation"]``: ``nacl_fragments.extxyz.gz`` (``make_data.py``: Na₄Cl₃⁺ + Na₃Cl₄⁻, 5.5–20 Å,
Tosi–Fumi + full Coulomb) or ``nh4_bf4_gfn2xtb.extxyz.gz`` (``make_dimers.py``: NH₄⁺ + BF₄⁻, 3.5–20 Å,
GFN2-xTB). Random frames are split into train / valid / test; the ``curve`` frames (one fixed pair
scanned in separation) are only evaluated. Models, all through :func:`hybridpot.train.fit` with the
same config:

* ``local``: a pair MLP (:mod:`hybridpot.models.pair_mlp`) with a 5 Å cutoff;
* ``qeq``: ``additive(qeq_ewald, pair MLP)``: charge equilibration whose electronegativities come
  from a second 5 Å pair MLP (start values of Rappé & Goddard; Na and Cl only), Coulomb of the
  Gaussian charges over all pairs (the structures are clusters), plus the same local pair MLP for the rest
  (:mod:`hybridpot.potentials.long_range`; ``--energy`` picks E_elec(q*) or E_Qeq(q*));
* ``latent``: the same with latent charges (``scheme="latent"``): the second pair MLP's per-atom
  outputs are the charges, from q⁰ = 0.

Reports the test energy and force errors per separation bin, the binding curve of each model against
the oracle, the learned charge of the first fragment, and a plot::

    python experiments/long_range/run.py --steps 6000 --learning-rate 1e-2 --forces-weight 1 \
        --out docs/studies/long_range_results.json --plot docs/figures/long_range_binding.png
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
from ase.data import chemical_symbols
from ase.io import read

from hybridpot.graph import build_graph
from hybridpot.potentials import TrainedPotential, build_potential_model, save_potential
from hybridpot.potentials.long_range import qeq_charges
from hybridpot.train import Dataset, config_from_dict, fit, predict

HERE = os.path.dirname(os.path.abspath(__file__))
CUTOFF = 5.0
#: QEq start values (χ, J) in eV of Rappé & Goddard, J. Phys. Chem. 95, 3358 (1991), for the elements used.
RAPPE_GODDARD = {11: (2.843, 4.592), 17: (8.564, 9.892)}


def model_specs(species, hidden, energy):
    """``{name: (model_kind, model_args, physics)}`` of the models (``qeq`` only for elements with start values)."""
    args = {"cutoff": CUTOFF, "species": species, "hidden": list(hidden), "n_basis": 12}
    charge_model = {"kind": "pair_mlp", "args": {"cutoff": CUTOFF, "species": species, "hidden": [16]}}
    # latent charges from 0 (q⁰ = 0): learned from energies and forces alone; Gaussian widths = the
    # covalent radii (Ko et al. 2021): the structures are clusters, no periodic real-space sum to screen
    latent = {"kind": "qeq_ewald", "species": species, "width_factor": 1.0, "scheme": "latent",
              "charge_model": charge_model}
    specs = {"local": ("pair_mlp", args, None), "latent": ("pair_mlp", args, latent)}
    if all(z in RAPPE_GODDARD for z in species):
        specs["qeq"] = ("pair_mlp", args, {
            "kind": "qeq_ewald", "species": species, "width_factor": 1.0, "energy": energy,
            "electronegativity": {z: RAPPE_GODDARD[z][0] for z in species},
            "hardness": {z: RAPPE_GODDARD[z][1] for z in species}, "charge_model": charge_model})
    return specs


def split(frames, n_train, n_valid, seed):
    rnd = [a for a in frames if a.info["config_type"] == "random"]
    order = np.random.default_rng(seed).permutation(len(rnd))
    pick = lambda idx: [rnd[i] for i in idx]  # noqa: E731
    return pick(order[:n_train]), pick(order[n_train:n_train + n_valid]), pick(order[n_train + n_valid:])


def errors_by_separation(pred, frames, edges):
    """Energy MAE (meV/atom) and force RMSE (meV/Å) of member 0 per separation bin."""
    d = np.array([a.info["separation"] for a in frames])
    e_err = (pred["energy"][0] - np.array([a.get_potential_energy() for a in frames])) / np.array([len(a) for a in frames])
    f_err = [pred["forces"][i][0] - a.get_forces() for i, a in enumerate(frames)]
    rows = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        idx = np.flatnonzero((d >= lo) & (d < hi))
        if idx.size == 0:
            continue
        rows.append({"d_min": float(lo), "d_max": float(hi), "n": int(idx.size),
                     "energy_mae_meV_per_atom": float(1e3 * np.mean(np.abs(e_err[idx]))),
                     "forces_rmse_meV_per_A": float(1e3 * np.sqrt(np.mean(np.concatenate([f_err[i] for i in idx]) ** 2)))})
    return rows, {"energy_mae_meV_per_atom": float(1e3 * np.mean(np.abs(e_err))),
                  "forces_rmse_meV_per_A": float(1e3 * np.sqrt(np.mean(np.concatenate(f_err) ** 2)))}


def fragment_charges(result, physics, frames, n_first):
    """Learned total charge of the first fragment (atoms 0 … n_first − 1) along the curve, e."""
    params = jax.tree.map(lambda x: np.asarray(x)[0], result.best_params)["physics"]
    out = []
    for a in frames:
        g = build_graph(a.positions, a.numbers, CUTOFF)
        out.append(float(np.sum(np.asarray(qeq_charges(physics, params, g))[:n_first])))
    return out


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=os.path.join(HERE, "nacl_fragments.extxyz.gz"))
    parser.add_argument("--n-train", type=int, default=300)
    parser.add_argument("--n-valid", type=int, default=50)
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--learning-rate", type=float, default=3e-3)
    parser.add_argument("--forces-weight", type=float, default=10.0, help="loss weight of the forces (energy: 1)")
    parser.add_argument("--hidden", type=int, nargs="+", default=[32, 32])
    parser.add_argument("--energy", choices=["elec", "qeq"], default="elec",
                        help="the long-range term's energy: E_elec(q*) or the minimised E_Qeq(q*)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--models", nargs="+", default=["local", "qeq", "latent"])
    parser.add_argument("--first-fragment-atoms", type=int, default=7,
                        help="atoms of the first (cationic) fragment, whose learned charge is reported")
    parser.add_argument("--title", default="binding curve Na₄Cl₃⁺ + Na₃Cl₄⁻")
    parser.add_argument("--out", default=None)
    parser.add_argument("--models-out", default=None, help="folder for a model file of every model (<name>.npz)")
    parser.add_argument("--plot", default=None)
    args = parser.parse_args(argv)

    frames = read(args.data, ":")
    species = sorted({int(z) for a in frames for z in a.numbers})
    train, valid, test = split(frames, args.n_train, args.n_valid, args.seed)
    curve = [a for a in frames if a.info["config_type"] == "curve"]
    cfg = config_from_dict({
        "data": {"batch_size": args.batch_size, "n_buckets": 1},
        "loss": {"forces_weight": args.forces_weight},
        "optim": {"learning_rate": args.learning_rate, "decay": "cosine"},
        "run": {"max_steps": args.steps, "seed": args.seed, "eval_every": max(args.steps // 10, 1),
                "checkpoint_every": args.steps, "log_every": max(args.steps // 10, 1), "progress": False},
    })
    lowest = min(a.info["separation"] for a in frames if a.info["config_type"] == "random")
    edges = np.arange(np.floor(2 * lowest) / 2, 20.01, 2.0)
    edges[-1] = 20.0 + 1e-9
    results = {"command": "python experiments/long_range/run.py " + " ".join(sys.argv[1:] if argv is None else argv),
               "arguments": vars(args), "n_test": len(test), "models": {}}
    specs = model_specs(species, args.hidden, args.energy)
    unknown = sorted(set(args.models) - set(specs))
    if unknown:
        parser.error(f"models {unknown} are not available for elements {species} (qeq needs start values)")
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models:
            kind, model_args, physics = specs[name]
            model = build_potential_model(kind, model_args, physics)
            t0 = time.perf_counter()
            result = fit(model, Dataset.from_atoms(train), Dataset.from_atoms(valid), cfg, os.path.join(tmp, name))
            seconds = time.perf_counter() - t0
            if args.models_out:  # evaluate, md and the calculator (get_charges()) load it
                os.makedirs(args.models_out, exist_ok=True)
                potential = TrainedPotential.from_run(os.path.join(tmp, name), kind, model_args, physics=physics)
                print(f"wrote {save_potential(os.path.join(args.models_out, name), potential)}", flush=True)
            by_bin, overall = errors_by_separation(predict(result.potential, Dataset.from_atoms(test)), test, edges)
            pred_curve = predict(result.potential, Dataset.from_atoms(curve))
            row = {"train_seconds": seconds, "test": overall, "test_by_separation": by_bin,
                   "curve": {"separation": [a.info["separation"] for a in curve],
                             "energy": pred_curve["energy"][0].tolist()}}
            if physics is not None:
                row["curve"]["cation_charge"] = fragment_charges(result, physics, curve, args.first_fragment_atoms)
                learned = jax.tree.map(lambda x: np.asarray(x)[0], result.best_params["physics"])
                symbols = [chemical_symbols[z] for z in species]
                if "chi0" in learned:
                    row["electronegativity_eV"] = dict(zip(symbols, learned["chi0"].tolist()))
                    row["hardness_eV"] = dict(zip(symbols, np.logaddexp(0.0, learned["hardness"]).tolist()))
                else:
                    row["charge_offset_e"] = dict(zip(symbols, learned["q0"].tolist()))
            results["models"][name] = row
            print(f"{name}: {seconds:.0f} s, test {overall}", flush=True)
    results["curve_reference"] = [a.get_potential_energy() for a in curve]
    if args.out:
        with open(args.out, "w") as fh:
            json.dump(results, fh, indent=1)
    print(markdown_table(results))
    if args.plot:
        plot(results, args.plot, args.title)


def markdown_table(results) -> str:
    """Test errors per separation bin, one row per bin, a column pair per model."""
    names = list(results["models"])
    head = "| separation (Å) | n | " + " | ".join(f"{n} E MAE (meV/atom) | {n} F RMSE (meV/Å)" for n in names) + " |"
    lines = [head, "|" + "---|" * (2 + 2 * len(names))]
    bins = results["models"][names[0]]["test_by_separation"]
    for k, b in enumerate(bins):
        cells = []
        for n in names:
            r = results["models"][n]["test_by_separation"][k]
            cells += [f"{r['energy_mae_meV_per_atom']:.2f}", f"{r['forces_rmse_meV_per_A']:.1f}"]
        lines.append(f"| {b['d_min']:.1f}–{min(b['d_max'], 20.0):.1f} | {b['n']} | " + " | ".join(cells) + " |")
    cells = []
    for n in names:
        t = results["models"][n]["test"]
        cells += [f"{t['energy_mae_meV_per_atom']:.2f}", f"{t['forces_rmse_meV_per_A']:.1f}"]
    lines.append(f"| all | {results['n_test']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(results, path, title) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, bx) = plt.subplots(1, 2, figsize=(10, 4))
    ref = np.array(results["curve_reference"])
    first = next(iter(results["models"].values()))["curve"]["separation"]
    ax.plot(first, ref - ref[-1], "k-", lw=2, label="oracle")
    for name, row in results["models"].items():
        e = np.array(row["curve"]["energy"])
        ax.plot(row["curve"]["separation"], e - ref[-1], "--", label=name)
        bins = row["test_by_separation"]
        bx.plot([(b["d_min"] + min(b["d_max"], 20.0)) / 2 for b in bins], [b["energy_mae_meV_per_atom"] for b in bins],
                "o-", label=name)
    ax.axvline(CUTOFF, color="grey", lw=0.5)
    ax.set_xlabel("centroid separation d (Å)")
    ax.set_ylabel("E − E_oracle(20 Å) (eV)")
    ax.set_title(title)
    ax.legend()
    bx.set_xlabel("centroid separation d (Å)")
    bx.set_ylabel("test energy MAE (meV/atom)")
    bx.set_yscale("log")
    bx.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    main()
