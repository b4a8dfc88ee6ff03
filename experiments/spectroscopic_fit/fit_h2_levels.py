"""Fit the H2 X ¹Σg⁺ potential to its vibrational levels through the differentiable sinc DVR.

Three questions, every run trained by the diatomic study's compiled, vmapped trainer
(:func:`hybridpot.studies.diatomic.training.train_model` with a
:class:`~hybridpot.studies.diatomic.training.LevelsTerm`; protocol "improved" with shorter budgets,
see ``--steps``):

1. Controlled case: targets G(v) − G(0) (v = 1 … 5) and B_v (v = 0 … 5) computed by the same DVR
   from the bundled FCI curve; models fitted to those levels alone. How well is the curve recovered?
2. Experimental levels: G(v) − G(0), v = 1 … 5, of H2 X (J = 0) from Dabrowski, Can. J. Phys. 62,
   1639 (1984), and B_0 from Huber & Herzberg (1979) (B_e − α_e/2); levels alone. What curve do
   the measured levels give, against the FCI curve? (extra: its D2 levels, through the mass alone)
3. Small training fractions (5–20 % of the 164 study points): energies alone against energies
   plus the controlled-case levels. Test RMSE and level errors.

The curve below 0.5 Å (the bundled file starts there; the DVR grid reaches 0.3 Å so that v ≤ 5
stay inside it) is FCI in the same basis, computed with the bundled curve's own script::

    python experiments/diatomic/compute_h2_curves.py --grid 0.25:0.50:0.05 --nroots 1 --workers 1 \\
        --out experiments/spectroscopic_fit/h2_x_fci_inner_wall.txt

Usage (from the repository root; writes results.json, summary.md and curves.png)::

    python experiments/spectroscopic_fit/fit_h2_levels.py --out results/spectroscopic_fit
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from dataclasses import replace
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from scipy.interpolate import CubicSpline

from hybridpot.io import bundled_h2_curves, load_curves
from hybridpot.spectroscopy import (
    H2_REDUCED_MASS_AMU,
    spectroscopic_observables,
    spectroscopic_targets,
)
from hybridpot.studies.diatomic import evaluation as ev
from hybridpot.studies.diatomic import get_protocol, nested_training_sets
from hybridpot.studies.diatomic.protocols import FRACTIONS_PERCENT
from hybridpot.studies.diatomic.run import MAX_DISTANCE_ANGSTROM, seed_list
from hybridpot.studies.diatomic.split import complement_indices
from hybridpot.studies.diatomic.training import MORSE, Curves, LevelsTerm, pad_training_sets, predict, train_model
from hybridpot.units import HARTREE_TO_INV_CM

HERE = Path(__file__).parent
INNER_WALL = HERE / "h2_x_fci_inner_wall.txt"
#: DVR grid of every fit (Å): 0.3 … 2.7 Å in steps of 0.04 Å (61 points; small, because the
#: eigensolver and its gradient run at every training step; its discretisation error is reported).
DVR_GRID = np.arange(0, 61) * 0.04 + 0.3
#: A finer, wider grid for the discretisation check of the reference levels.
FINE_GRID = np.arange(25, 301) * 0.01
NUM_LEVELS = 6  # v = 0 … 5
#: H2 X ¹Σg⁺, J = 0: G(v) − G(0) in cm⁻¹ for v = 1 … 5, experimental, Dabrowski (1984), as
#: tabulated by Komasa et al., J. Chem. Theory Comput. 7, 3105 (2011) for comparison with theory.
EXPERIMENT_TERM_VALUES = (0.0, 4161.17, 8086.9, 11782.4, 15250.3, 18491.9)
#: B_0 of H2 X in cm⁻¹ from Huber & Herzberg (1979): B_e − α_e/2 = 60.853 − 3.062/2.
EXPERIMENT_B0 = 59.322
#: Uncertainties that weight the reduced χ² (cm⁻¹): not the measurement errors (≪ 1 cm⁻¹) but
#: the accuracy we ask of a Born–Oppenheimer curve.
TERM_SIGMA, B_SIGMA = 1.0, 0.01
#: D2: μ = m(²H)/2 with the atomic mass of ²H (AME2020), u.
D2_REDUCED_MASS_AMU = 2.01410177812 / 2.0
MODELS = ("morse", "sequential", "nn")


def reference_curve() -> tuple[np.ndarray, np.ndarray, CubicSpline]:
    """The study's X curve (r < 20 Å: 164 points) and a spline of it with the inner wall below 0.5 Å."""
    curves = bundled_h2_curves(["X"])
    keep = curves.distance_angstrom < MAX_DISTANCE_ANGSTROM
    r, y = curves.distance_angstrom[keep], curves.energy_hartree["X"][keep]
    wall = load_curves(INNER_WALL)
    inner = wall.distance_angstrom < r[0]
    spline = CubicSpline(np.concatenate([wall.distance_angstrom[inner], r]), np.concatenate([wall.energy_hartree["X"][inner], y]))
    return r, y, spline


def levels_of(grid, potential, mass=H2_REDUCED_MASS_AMU) -> dict:
    """Term values and B_v (cm⁻¹) of one curve on ``grid``, as lists."""
    obs = spectroscopic_observables(grid, potential, mass, NUM_LEVELS, differentiable=False)
    return {"G": np.asarray(obs.term_values_inv_cm).tolist(), "B": np.asarray(obs.rotational_constants_inv_cm).tolist()}


def tiny_budget(protocol, steps: int, lbfgs: int):
    """``protocol`` with every Adam stage cut to ``steps`` and every L-BFGS polish to ``lbfgs``."""
    stages = {
        m: tuple(replace(s, steps=(steps,) * len(s.steps), lbfgs_steps=lbfgs if s.lbfgs_steps else 0) for s in ss)
        for m, ss in protocol.stages.items()
    }
    return replace(protocol, stages=stages)


def only_fractions(protocol, model: str, indices):
    """``protocol`` for ``model`` with per-fraction tables restricted to ``indices``."""
    pick = lambda t: None if t is None else tuple(t[i] for i in indices)  # noqa: E731
    stages = tuple(replace(s, learning_rate=pick(s.learning_rate), steps=pick(s.steps), penalty=pick(s.penalty)) for s in protocol.stages[model])
    return replace(protocol, stages={model: stages})


def stack(trees):
    return jax.tree.map(lambda *xs: np.stack(xs), *trees)


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=Path("results/spectroscopic_fit"))
    p.add_argument("--seeds", type=int, default=2)
    p.add_argument("--fractions", default="5,10,20", help="training fractions (%%) of question 3")
    p.add_argument("--steps", type=int, default=2000, help="Adam steps of every stage")
    p.add_argument("--lbfgs", type=int, default=0, help="L-BFGS polish iterations after each stage")
    p.add_argument("--levels-weight", type=float, default=1e-6, help="weight of the levels' χ² when energies are fitted too")
    p.add_argument("--models", default=",".join(MODELS))
    args = p.parse_args(argv)
    start = time.perf_counter()
    jax.config.update("jax_enable_x64", True)

    r, y, spline = reference_curve()
    v_ref = spline(DVR_GRID)
    fci = levels_of(DVR_GRID, v_ref)
    fci_fine = levels_of(FINE_GRID, spline(FINE_GRID))
    targets = {
        "fci": spectroscopic_targets(fci["G"], TERM_SIGMA, fci["B"], B_SIGMA),
        "experiment": spectroscopic_targets(
            EXPERIMENT_TERM_VALUES, TERM_SIGMA, [EXPERIMENT_B0] + [np.nan] * (NUM_LEVELS - 1), [B_SIGMA] + [np.inf] * (NUM_LEVELS - 1)
        ),
    }
    pct = [int(x) for x in args.fractions.split(",")]
    f_idx = [FRACTIONS_PERCENT.index(x) for x in pct]
    sets = [nested_training_sets(len(r))[i] for i in f_idx]
    seeds = seed_list(args.seeds)
    keys = jnp.stack([jax.random.key(s) for s in seeds])
    protocol = tiny_budget(get_protocol("improved", "X"), args.steps, args.lbfgs)
    # well region probed by v ≤ 5: where the FCI curve lies below its minimum + G(5) + ZPE + 10 %
    e_min = float(np.min(v_ref))
    e_top = fci["G"][-1] / HARTREE_TO_INV_CM + 1.1 * (fci_fine["G"][1] / 2) / HARTREE_TO_INV_CM
    well = (v_ref - e_min) < e_top
    eval_grid = DVR_GRID[well]

    results = {
        "settings": {**{k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}, "seeds": seeds},
        "device": f"{jax.devices()[0].device_kind} ({jax.default_backend()}), {platform.machine()}",
        "jax_version": jax.__version__,
        "dvr_grid": [float(DVR_GRID[0]), float(DVR_GRID[-1]), len(DVR_GRID)],
        "well_region_angstrom": [float(eval_grid[0]), float(eval_grid[-1])],
        "reference_levels": {"fci_dvr_grid": fci, "fci_fine_grid": fci_fine, "experiment_G": list(EXPERIMENT_TERM_VALUES), "experiment_B0": EXPERIMENT_B0},
        "reference_d2_levels": levels_of(DVR_GRID, v_ref, D2_REDUCED_MASS_AMU),
        "levels_only": {},
        "fractions": {"percent": pct, "sizes": [len(s) for s in sets]},
        "energies_vs_both": {},
        "timing_s": {},
    }
    plotted = {}
    test_masks = np.zeros((len(sets), len(r)), bool)
    for f, s in enumerate(sets):
        test_masks[f, complement_indices(len(r), s)] = True
    # One compiled program per model trains four "states" (modes) × fractions × seeds: levels alone
    # (FCI-computed, experimental; no energy points, so the fraction does not matter and the first
    # fraction's runs are used), energies alone, energies + FCI levels.
    modes = ("levels:fci", "levels:experiment", "energies", "energies+levels")
    padded = pad_training_sets(r, y, sets)
    curves = Curves(*(jnp.asarray(np.stack([a] * len(modes))) for a in padded))
    curves = curves._replace(w=curves.w.at[:2].set(0.0))
    n_f = len(sets)
    levels = LevelsTerm(
        DVR_GRID, H2_REDUCED_MASS_AMU,
        stack([stack([targets[t]] * n_f) for t in ("fci", "experiment", "fci", "fci")]),
        np.array([[0.0] * n_f, [0.0] * n_f, [1.0] * n_f, [1.0] * n_f]),
        np.array([[1.0] * n_f, [1.0] * n_f, [0.0] * n_f, [args.levels_weight] * n_f]),
    )
    for model in args.models.split(","):
        t0 = time.perf_counter()
        proto = only_fractions(protocol, model, f_idx)
        params, norm, _, finite = train_model(model, [proto] * len(modes), MORSE, curves, keys, levels)
        on_grid = np.asarray(predict(model, proto, MORSE, params, norm, jnp.asarray(DVR_GRID)).total)  # [4, F, S, m]
        on_study = np.asarray(predict(model, proto, MORSE, params, norm, jnp.asarray(r)).total)  # [4, F, S, 164]
        finite = np.asarray(finite)
        entry = {}
        for i, name in enumerate(("fci", "experiment")):
            per_seed = []
            for s in range(len(seeds)):
                v = on_grid[i, 0, s]
                got = levels_of(DVR_GRID, v)
                aligned = (v[well] - v[well].min()) - (v_ref[well] - e_min)
                per_seed.append({
                    "G": got["G"], "B": got["B"],
                    "well_rmse_inv_cm": float(np.sqrt(np.mean(aligned**2)) * HARTREE_TO_INV_CM),
                    "r_min_angstrom": float(DVR_GRID[np.argmin(v)]),
                    "d2_G": levels_of(DVR_GRID, v, D2_REDUCED_MASS_AMU)["G"],
                })
            entry[name] = {"per_seed": per_seed, "finite": bool(finite[i, 0].all())}
            median_seed = int(np.argsort([q["well_rmse_inv_cm"] for q in per_seed])[(len(seeds) - 1) // 2])
            plotted[(model, name)] = on_grid[i, 0, median_seed]
        results["levels_only"][model] = entry

        entry = {}
        for i, mode in ((2, "energies"), (3, "energies+levels")):
            rmse = ev.test_rmse(on_study[i], y, test_masks) * HARTREE_TO_INV_CM  # [F, S]
            level_err = np.zeros(rmse.shape)
            for f in range(n_f):
                for s in range(len(seeds)):
                    got = levels_of(DVR_GRID, on_grid[i, f, s])
                    level_err[f, s] = np.max(np.abs(np.subtract(got["G"], fci["G"])))
            entry[mode] = {
                "test_rmse_inv_cm": {str(x): ev.summarise(rmse[f]) for f, x in enumerate(pct)},
                "max_level_error_inv_cm": {str(x): ev.summarise(level_err[f]) for f, x in enumerate(pct)},
                "finite": bool(finite[i].all()),
            }
        results["energies_vs_both"][model] = entry
        results["timing_s"][model] = time.perf_counter() - t0
        print(f"{model}: {results['timing_s'][model]:.0f} s", flush=True)
    results["timing_s"]["total"] = time.perf_counter() - start

    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(results, indent=1))
    (args.out / "summary.md").write_text(summary_markdown(results))
    plot(plotted, v_ref, e_min, eval_grid, well, args.out / "curves.png")
    print(summary_markdown(results))
    return results


def _median(values):
    return float(np.median(values))


def summary_markdown(results: dict) -> str:
    """The tables of docs/studies/spectroscopic_fit.md (medians over seeds)."""
    ref = results["reference_levels"]
    g_fci, g_fine, g_exp = ref["fci_dvr_grid"]["G"], ref["fci_fine_grid"]["G"], ref["experiment_G"]
    lines = ["### Reference levels (cm⁻¹)", "", "| v | FCI curve, fit grid | FCI curve, fine grid | experiment | B_v FCI (fit grid) |", "|---|---|---|---|---|"]
    for v in range(NUM_LEVELS):
        lines.append(f"| {v} | {g_fci[v]:.1f} | {g_fine[v]:.1f} | {g_exp[v]:.1f} | {ref['fci_dvr_grid']['B'][v]:.3f} |")
    lines += ["", "### Levels alone: recovered curve and level errors (median over seeds)", "",
              "| model | targets | max abs G error (cm⁻¹) | B_0 error (cm⁻¹) | well RMSE vs FCI (cm⁻¹) | r at minimum (Å) |", "|---|---|---|---|---|---|"]
    for model, entry in results["levels_only"].items():
        for name, e in entry.items():
            target_g = g_fci if name == "fci" else g_exp
            target_b0 = ref["fci_dvr_grid"]["B"][0] if name == "fci" else ref["experiment_B0"]
            gerr = _median([np.max(np.abs(np.subtract(q["G"], target_g))) for q in e["per_seed"]])
            berr = _median([q["B"][0] - target_b0 for q in e["per_seed"]])
            rmse = _median([q["well_rmse_inv_cm"] for q in e["per_seed"]])
            rmin = _median([q["r_min_angstrom"] for q in e["per_seed"]])
            lines.append(f"| {model} | {name} | {gerr:.2f} | {berr:+.3f} | {rmse:.1f} | {rmin:.3f} |")
    d2_ref = results["reference_d2_levels"]["G"]
    lines += ["", "### D2 levels through the mass alone (G(v) − G(0), cm⁻¹; median over seeds)", "",
              "| curve | " + " | ".join(f"v={v}" for v in range(1, NUM_LEVELS)) + " |", "|---" * NUM_LEVELS + "|",
              "| FCI | " + " | ".join(f"{x:.1f}" for x in d2_ref[1:]) + " |"]
    for model, entry in results["levels_only"].items():
        for name, e in entry.items():
            d2 = np.median([q["d2_G"] for q in e["per_seed"]], axis=0)
            lines.append(f"| {model}, {name} levels | " + " | ".join(f"{x:.1f}" for x in d2[1:]) + " |")
    pct = results["fractions"]["percent"]
    lines += ["", "### Energies alone vs energies + FCI levels: test RMSE and max level error (cm⁻¹, median over seeds)", "",
              "| model | loss | " + " | ".join(f"{x} % ({n} pts)" for x, n in zip(pct, results["fractions"]["sizes"])) + " |",
              "|---|---|" + "---|" * len(pct)]
    for model, entry in results["energies_vs_both"].items():
        for mode, e in entry.items():
            cells = [f"{e['test_rmse_inv_cm'][str(x)]['median']:.1f} / {e['max_level_error_inv_cm'][str(x)]['median']:.1f}" for x in pct]
            lines.append(f"| {model} | {mode} | " + " | ".join(cells) + " |")
    lines += ["", f"Cells: test RMSE / max |ΔG(v)|, v ≤ {NUM_LEVELS - 1}. Wall time {results['timing_s']['total']:.0f} s on {results['device']}."]
    return "\n".join(lines) + "\n"


def plot(plotted: dict, v_ref, e_min, eval_grid, well, path: Path) -> None:
    """Recovered curves (levels alone, minimum aligned) against the FCI curve, and their difference."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(6.5, 7), sharex=True, gridspec_kw={"height_ratios": [2, 1]})
    ref = (v_ref[well] - e_min) * HARTREE_TO_INV_CM
    top.plot(eval_grid, ref, "k-", lw=2, label="FCI curve")
    for (model, name), v in plotted.items():
        aligned = (v[well] - v[well].min()) * HARTREE_TO_INV_CM
        style = "-" if name == "fci" else "--"
        top.plot(eval_grid, aligned, style, label=f"{model}, {name} levels")
        bottom.plot(eval_grid, aligned - ref, style, label=f"{model}, {name} levels")
    top.set_ylabel("V − V_min (cm⁻¹)")
    top.legend(fontsize=7)
    bottom.axhline(0.0, color="k", lw=0.5)
    bottom.set_xlabel("r (Å)")
    bottom.set_ylabel("fit − FCI (cm⁻¹)")
    fig.suptitle("H2 X: curves fitted to vibrational levels alone (median seed)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    main()
