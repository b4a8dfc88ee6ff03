"""Fit the H2 X ¹Σg⁺ potential to its vibrational levels through the differentiable sinc DVR.

Three questions, every run trained by the diatomic study's compiled, vmapped trainer
(:func:`hybridpot.studies.diatomic.training.train_model` with a
:class:`~hybridpot.studies.diatomic.training.LevelsTerm`; protocol "improved" with shorter budgets,
see ``--steps``):

1. Controlled case: targets G(v) − G(0) (v = 1 … 5) and B_v (v = 0 … 5) computed by the same DVR
   from the bundled FCI curve; models fitted to those levels alone. How well is the curve recovered?
2. Published levels: G(v) − G(0), v = 1 … 5, and B_v, v = 0 … 5, of H2 X (J = 0) from the level
   energies of Roueff et al., A&A 630, A58 (2019) (Pachucki & Komasa's nonadiabatic + relativistic
   + QED theory, which matches measured transitions to ~1e-3 cm⁻¹; ``h2_x_levels_roueff2019.txt``
   says how they were extracted); levels alone. What curve do they give, against the FCI curve?
   (extra: its D2 and HD levels, through the mass alone)
3. Small training fractions (5–20 % of the 164 study points): energies alone against energies
   plus the controlled-case levels. Test RMSE and level errors.
4. Franck–Condon factors as a target: term values alone (no B_v) against term values plus
   FC(X v = 0 → EF v′ = 0 … 3) with the FCI EF curve fixed, all computed from the FCI curves.
   Term values do not place the well; do the FC factors?

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
    franck_condon_targets,
    reduced_mass_amu,
    spectroscopic_observables,
    spectroscopic_targets,
    vibrational_states,
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
#: H2 X ¹Σg⁺, J = 0: G(v) − G(0) and B_v (cm⁻¹) from Roueff et al. (2019); see the file's header.
PUBLISHED_LEVELS = HERE / "h2_x_levels_roueff2019.txt"
#: Uncertainties that weight the reduced χ² (cm⁻¹): not the measurement errors (≪ 1 cm⁻¹) but
#: the accuracy we ask of a Born–Oppenheimer curve.
TERM_SIGMA, B_SIGMA = 1.0, 0.01
#: D2 and HD: reduced masses from the atomic masses of ¹H and ²H (ASE / AME2020), u.
ISOTOPOLOGUE_MASSES_AMU = {"D2": reduced_mass_amu("D", "D"), "HD": reduced_mass_amu("H", "D")}
#: Question 4's DVR grid, 0.3 … 3.5 Å (81 points): wide enough for EF's lowest four levels (two in
#: the outer F well near 2.35 Å), which move by < 0.5 cm⁻¹ against 0.25 … 5 Å by 0.01 Å.
FC_GRID = np.arange(0, 81) * 0.04 + 0.3
NUM_FC_FINAL = 4  # EF v′ = 0 … 3
#: σ of each FC target (dimensionless).
FC_SIGMA = 1e-3
#: HD: μ = m(¹H) m(²H) / (m(¹H) + m(²H)).
HD_REDUCED_MASS_AMU = reduced_mass_amu("H", "D")
MODELS = ("morse", "sequential", "nn")


def published_targets() -> tuple[np.ndarray, np.ndarray]:
    """G(v) − G(0) and B_v (cm⁻¹), v = 0 … NUM_LEVELS − 1, of H2 X from ``PUBLISHED_LEVELS``."""
    table = np.loadtxt(PUBLISHED_LEVELS)
    if not np.array_equal(table[:NUM_LEVELS, 0], np.arange(NUM_LEVELS)):
        raise ValueError(f"{PUBLISHED_LEVELS}: expected rows v = 0 … {NUM_LEVELS - 1} first")
    return table[:NUM_LEVELS, 1], table[:NUM_LEVELS, 3]


def ef_curve(grid: np.ndarray) -> np.ndarray:
    """The bundled FCI EF curve on ``grid`` (hartree): cubic spline, continued below its first
    point (0.5 Å, 37 000 cm⁻¹ above EF's minimum, where its low levels have no amplitude) by
    the tangent there."""
    curves = bundled_h2_curves(["EF"])
    keep = curves.distance_angstrom < MAX_DISTANCE_ANGSTROM
    r = curves.distance_angstrom[keep]
    spline = CubicSpline(r, curves.energy_hartree["EF"][keep])
    below = spline(r[0]) + spline(r[0], 1) * (grid - r[0])
    return np.where(grid < r[0], below, spline(np.maximum(grid, r[0])))


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


def fc_of(grid, potential, fixed_wavefunctions) -> list:
    """FC(v = 0 → v′) of one X curve against the fixed EF levels, as a list."""
    obs = spectroscopic_observables(grid, potential, H2_REDUCED_MASS_AMU, 1, differentiable=False, fixed_wavefunctions=fixed_wavefunctions)
    return np.asarray(obs.franck_condon_factors[0]).tolist()


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
    published_g, published_b = published_targets()
    targets = {
        "fci": spectroscopic_targets(fci["G"], TERM_SIGMA, fci["B"], B_SIGMA),
        "published": spectroscopic_targets(published_g, TERM_SIGMA, published_b, B_SIGMA),
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
        "reference_levels": {"fci_dvr_grid": fci, "fci_fine_grid": fci_fine, "published_G": published_g.tolist(), "published_B": published_b.tolist()},
        "reference_isotopologue_levels": {
            iso: {"fci_dvr_grid": levels_of(DVR_GRID, v_ref, mu)["G"], "fci_fine_grid": levels_of(FINE_GRID, spline(FINE_GRID), mu)["G"]}
            for iso, mu in ISOTOPOLOGUE_MASSES_AMU.items()
        },
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
    # (FCI-computed, published; no energy points, so the fraction does not matter and the first
    # fraction's runs are used), energies alone, energies + FCI levels.
    modes = ("levels:fci", "levels:published", "energies", "energies+levels")
    padded = pad_training_sets(r, y, sets)
    curves = Curves(*(jnp.asarray(np.stack([a] * len(modes))) for a in padded))
    curves = curves._replace(w=curves.w.at[:2].set(0.0))
    n_f = len(sets)
    levels = LevelsTerm(
        DVR_GRID, H2_REDUCED_MASS_AMU,
        stack([stack([targets[t]] * n_f) for t in ("fci", "published", "fci", "fci")]),
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
        for i, name in enumerate(("fci", "published")):
            per_seed = []
            for s in range(len(seeds)):
                v = on_grid[i, 0, s]
                got = levels_of(DVR_GRID, v)
                aligned = (v[well] - v[well].min()) - (v_ref[well] - e_min)
                per_seed.append({
                    "G": got["G"], "B": got["B"],
                    "well_rmse_inv_cm": float(np.sqrt(np.mean(aligned**2)) * HARTREE_TO_INV_CM),
                    "r_min_angstrom": float(DVR_GRID[np.argmin(v)]),
                    **{f"{iso}_G": levels_of(DVR_GRID, v, mu)["G"] for iso, mu in ISOTOPOLOGUE_MASSES_AMU.items()},
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
    results["franck_condon"] = franck_condon_question(args, protocol, f_idx, keys, spline, well, e_min, v_ref)
    results["timing_s"]["total"] = time.perf_counter() - start

    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(results, indent=1))
    (args.out / "summary.md").write_text(summary_markdown(results))
    plot(plotted, v_ref, e_min, eval_grid, well, args.out / "curves.png")
    print(summary_markdown(results))
    return results


def franck_condon_question(args, protocol, f_idx, keys, spline, well, e_min, v_ref) -> dict:
    """Question 4: levels alone (term values, no B_v) with and without FC(X v = 0 → EF v′) targets,
    all from the FCI curves, on ``FC_GRID``; Morse and Morse + network (the pure network has no
    physics start for the well's position either way)."""
    v_x = spline(FC_GRID)
    fixed = vibrational_states(FC_GRID, ef_curve(FC_GRID), H2_REDUCED_MASS_AMU, NUM_FC_FINAL, differentiable=False).wavefunctions
    obs = spectroscopic_observables(FC_GRID, v_x, H2_REDUCED_MASS_AMU, NUM_LEVELS, differentiable=False, fixed_wavefunctions=fixed)
    sigma = np.full((NUM_LEVELS, NUM_FC_FINAL), np.inf)
    sigma[0] = FC_SIGMA  # what an absorption spectrum from the ground level measures
    fc = franck_condon_targets(FC_GRID, ef_curve(FC_GRID), H2_REDUCED_MASS_AMU, obs.franck_condon_factors, sigma)
    with_fc = spectroscopic_targets(obs.term_values_inv_cm, TERM_SIGMA, franck_condon=fc)
    without = with_fc._replace(franck_condon=fc._replace(weights=np.zeros_like(fc.weights)))  # same pytree, FC unweighted
    r, y, _ = reference_curve()
    padded = pad_training_sets(r, y, [nested_training_sets(len(r))[f_idx[0]]])
    curves = Curves(*(jnp.asarray(np.stack([a] * 2)) for a in padded))
    curves = curves._replace(w=jnp.zeros_like(curves.w))
    levels = LevelsTerm(FC_GRID, H2_REDUCED_MASS_AMU, stack([stack([t]) for t in (without, with_fc)]), np.zeros((2, 1)), np.ones((2, 1)))
    out = {"reference_fc": np.asarray(obs.franck_condon_factors[0]).tolist(), "fc_sigma": FC_SIGMA,
           "grid": [float(FC_GRID[0]), float(FC_GRID[-1]), len(FC_GRID)], "models": {}}
    for model in ("morse", "sequential"):
        if model not in args.models.split(","):
            continue
        t0 = time.perf_counter()
        proto = only_fractions(protocol, model, f_idx[:1])
        params, norm, _, finite = train_model(model, [proto] * 2, MORSE, curves, keys, levels)
        on_grid = np.asarray(predict(model, proto, MORSE, params, norm, jnp.asarray(DVR_GRID)).total)  # [2, 1, S, m]
        on_fc_grid = np.asarray(predict(model, proto, MORSE, params, norm, jnp.asarray(FC_GRID)).total)
        entry = {}
        for i, mode in enumerate(("terms", "terms+FC")):
            per_seed = []
            for s in range(keys.shape[0]):
                v = on_grid[i, 0, s]
                aligned = (v[well] - v[well].min()) - (v_ref[well] - e_min)
                got = levels_of(FC_GRID, on_fc_grid[i, 0, s])
                per_seed.append({
                    "G": got["G"], "B": got["B"], "fc": fc_of(FC_GRID, on_fc_grid[i, 0, s], fixed),
                    "well_rmse_inv_cm": float(np.sqrt(np.mean(aligned**2)) * HARTREE_TO_INV_CM),
                    "r_min_angstrom": float(DVR_GRID[np.argmin(v)]),
                })
            entry[mode] = {"per_seed": per_seed, "finite": bool(np.asarray(finite)[i].all())}
        out["models"][model] = entry
        out.setdefault("reference", {"G": np.asarray(obs.term_values_inv_cm).tolist(), "B": np.asarray(obs.rotational_constants_inv_cm).tolist()})
        results_time = time.perf_counter() - t0
        out.setdefault("timing_s", {})[model] = results_time
        print(f"{model} (FC question): {results_time:.0f} s", flush=True)
    return out


def _median(values):
    return float(np.median(values))


def summary_markdown(results: dict) -> str:
    """The tables of docs/studies/spectroscopic_fit.md (medians over seeds)."""
    ref = results["reference_levels"]
    g_fci, g_fine, g_pub = ref["fci_dvr_grid"]["G"], ref["fci_fine_grid"]["G"], ref["published_G"]
    lines = ["### Reference levels (cm⁻¹)", "",
             "| v | G FCI curve, fit grid | G FCI curve, fine grid | G published | published − FCI | B_v FCI (fit grid) | B_v published |",
             "|---|---|---|---|---|---|---|"]
    for v in range(NUM_LEVELS):
        lines.append(f"| {v} | {g_fci[v]:.1f} | {g_fine[v]:.1f} | {g_pub[v]:.1f} | {g_pub[v] - g_fine[v]:+.1f} | "
                     f"{ref['fci_dvr_grid']['B'][v]:.3f} | {ref['published_B'][v]:.3f} |")
    lines += ["", "### Levels alone: recovered curve and level errors (median over seeds)", "",
              "| model | targets | max abs G error (cm⁻¹) | max abs B_v error (cm⁻¹) | well RMSE vs FCI (cm⁻¹), per seed | r at minimum (Å), per seed |",
              "|---|---|---|---|---|---|"]
    for model, entry in results["levels_only"].items():
        for name, e in entry.items():
            target_g, target_b = (g_fci, ref["fci_dvr_grid"]["B"]) if name == "fci" else (g_pub, ref["published_B"])
            gerr = _median([np.max(np.abs(np.subtract(q["G"], target_g))) for q in e["per_seed"]])
            berr = _median([np.max(np.abs(np.subtract(q["B"], target_b))) for q in e["per_seed"]])
            rmse = ", ".join(f"{q['well_rmse_inv_cm']:.0f}" for q in e["per_seed"])
            rmin = ", ".join(f"{q['r_min_angstrom']:.2f}" for q in e["per_seed"])
            lines.append(f"| {model} | {name} | {gerr:.1f} | {berr:.3f} | {rmse} | {rmin} |")
    for iso, iso_ref in results["reference_isotopologue_levels"].items():
        lines += ["", f"### {iso} levels through the mass alone (G(v) − G(0), cm⁻¹; models: median over seeds, fit grid)", "",
                  "| curve | " + " | ".join(f"v={v}" for v in range(1, NUM_LEVELS)) + " |", "|---" * NUM_LEVELS + "|",
                  "| FCI, fine grid | " + " | ".join(f"{x:.1f}" for x in iso_ref["fci_fine_grid"][1:]) + " |",
                  "| FCI, fit grid | " + " | ".join(f"{x:.1f}" for x in iso_ref["fci_dvr_grid"][1:]) + " |"]
        for model, entry in results["levels_only"].items():
            for name, e in entry.items():
                g = np.median([q[f"{iso}_G"] for q in e["per_seed"]], axis=0)
                lines.append(f"| {model}, {name} levels | " + " | ".join(f"{x:.1f}" for x in g[1:]) + " |")
    pct = results["fractions"]["percent"]
    lines += ["", "### Energies alone vs energies + FCI levels: test RMSE and max level error (cm⁻¹, median over seeds)", "",
              "| model | loss | " + " | ".join(f"{x} % ({n} pts)" for x, n in zip(pct, results["fractions"]["sizes"])) + " |",
              "|---|---|" + "---|" * len(pct)]
    for model, entry in results["energies_vs_both"].items():
        for mode, e in entry.items():
            cells = [f"{e['test_rmse_inv_cm'][str(x)]['median']:.1f} / {e['max_level_error_inv_cm'][str(x)]['median']:.1f}" for x in pct]
            lines.append(f"| {model} | {mode} | " + " | ".join(cells) + " |")
    lines += ["", f"Cells: test RMSE / max |ΔG(v)|, v ≤ {NUM_LEVELS - 1}."]
    fcq = results.get("franck_condon", {})
    if fcq.get("models"):
        fc_ref, fq_ref = fcq["reference_fc"], fcq["reference"]
        lines += ["", "### Term values alone vs term values + FC(X v = 0 → EF v′ = 0…3), no B_v (FCI targets; per seed)", "",
                  "FCI FC(0 → v′): " + ", ".join(f"{x:.4f}" for x in fc_ref), "",
                  "| model | targets | max abs G error (cm⁻¹) | B_0 error (cm⁻¹) | max abs FC error | well RMSE vs FCI (cm⁻¹) | r at minimum (Å) |",
                  "|---|---|---|---|---|---|---|"]
        columns = (
            lambda x: f"{np.max(np.abs(np.subtract(x['G'], fq_ref['G']))):.1f}",
            lambda x: f"{x['B'][0] - fq_ref['B'][0]:+.2f}",
            lambda x: f"{np.max(np.abs(np.subtract(x['fc'], fc_ref))):.4f}",
            lambda x: f"{x['well_rmse_inv_cm']:.0f}",
            lambda x: f"{x['r_min_angstrom']:.2f}",
        )
        for model, entry in fcq["models"].items():
            for mode, e in entry.items():
                cells = [", ".join(column(q) for q in e["per_seed"]) for column in columns]
                lines.append(f"| {model} | {mode} | " + " | ".join(cells) + " |")
    lines += ["", f"Wall time {results['timing_s']['total']:.0f} s on {results['device']}."]
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
