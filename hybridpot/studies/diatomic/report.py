"""Writing the diatomic study's results: ``results.json``, ``summary.md`` and PNG plots."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from hybridpot._store import atomic_write
from hybridpot.units import HARTREE_TO_INV_CM

MODEL_LABELS = {
    "morse": "Morse",
    "nn": "NN",
    "aphynity": "APHYNITY",
    "aphynity_adaptive": "APHYNITY (adaptive λ)",
    "sequential": "Sequential Phy-ML",
    "physinet": "PhysiNet",
}


def write_json(results: dict, path: Path) -> None:
    """Write ``results`` as indented JSON, atomically (the trainer's :func:`atomic_write`)."""
    text = json.dumps(results, indent=1)
    atomic_write(str(path), lambda f: f.write(text.encode()))


def _cell(stats: dict, factor: float = 1.0, fmt: str = "{:.2e}") -> str:
    return f"{fmt.format(stats['median'] * factor)} ({fmt.format(stats['q1'] * factor)}–{fmt.format(stats['q3'] * factor)})"


def summary_markdown(results: dict) -> str:
    """Markdown tables of median (Q1–Q3) test RMSE per state, the level and FC metrics."""
    fractions = [str(f) for f in results["fractions_percent"]]
    molecule = results.get("molecule", "H2")
    lines = [
        f"# Diatomic study of {molecule}: protocol `{results['protocol']}`{' (quick)' if results['quick'] else ''}",
        "",
        f"Data: {results['data_source']}. Seeds: {results['seeds']}. "
        f"Wall time: {results['timing']['total_s']:.0f} s on {results['device']}.",
        "",
    ]
    if "reduced_mass_amu" in results:
        grid = results["dvr_grid"]
        lines += [
            f"Levels and Franck–Condon factors: μ = {results['reduced_mass_amu']:.10g} u from "
            f"{results['reduced_mass_source']}; DVR grid {grid['source']} ({grid['points']} points).",
            "",
        ]
        for state, check in results.get("dvr_convergence", {}).items():
            verdict = "converged" if check["converged"] else "**not converged**"
            lines.append(
                f"- Grid check, {state} v = 0…{check['levels'] - 1}: levels move by at most "
                f"{check['max_change_inv_cm']:.2g} cm⁻¹ with half the spacing ({verdict}; tolerance "
                f"{check['tolerance_inv_cm']:g} cm⁻¹)."
            )
        lines.append("")
    for state, by_model in results["rmse"].items():
        lines += [f"## Test RMSE, {molecule} state {state}: median (Q1–Q3) over seeds, cm⁻¹", ""]
        lines += ["| model | " + " | ".join(f"{f} %" for f in fractions) + " |"]
        lines += ["|---|" + "---|" * len(fractions)]
        for model, by_fraction in by_model.items():
            cells = [_cell(by_fraction[f], HARTREE_TO_INV_CM, "{:.3g}") for f in fractions]
            lines.append(f"| {MODEL_LABELS[model]} | " + " | ".join(cells) + " |")
        lines.append("")
    for state, by_model in results.get("level_mae_inv_cm", {}).items():
        terms = results["reference_term_values_inv_cm"][state]
        lines += [
            f"## Vibrational term values, {molecule} state {state}: mean |ΔT_v| (v = 1…{len(terms)}), cm⁻¹, "
            "median (Q1–Q3)",
            "",
            f"Reference T_v = E_v − E_0 (cm⁻¹): {', '.join(f'{t:.1f}' for t in terms)}.",
            "",
        ]
        lines += ["| model | " + " | ".join(f"{f} %" for f in fractions) + " |"]
        lines += ["|---|" + "---|" * len(fractions)]
        for model, by_fraction in by_model.items():
            cells = [_cell(by_fraction[f], 1.0, "{:.3g}") for f in fractions]
            lines.append(f"| {MODEL_LABELS[model]} | " + " | ".join(cells) + " |")
        lines.append("")
    for transition, by_model in results.get("fc_mse", {}).items():
        lines += [f"## Franck–Condon MSE, {molecule} ({transition}, v′ = 0…{results['fc_levels'] - 1}): median (Q1–Q3)", ""]
        lines += ["| model | " + " | ".join(f"{f} %" for f in fractions) + " |"]
        lines += ["|---|" + "---|" * len(fractions)]
        for model, by_fraction in by_model.items():
            lines.append(f"| {MODEL_LABELS[model]} | " + " | ".join(_cell(by_fraction[f]) for f in fractions) + " |")
        lines.append("")
    if results.get("physical_parameters"):
        lines += ["## Recovered Morse parameters: median |Δ| vs a Morse fit to the whole curve", ""]
        for state, by_model in results["physical_parameters"].items():
            ref = results["reference_parameters"][state]["morse_fit"]
            lines += [
                f"State {state}: full-curve fit D_e = {ref['D_e']:.5f} Eh, r_e = {ref['r_e']:.5f} Å, a = {ref['a']:.5f} Å⁻¹.",
                "",
                "| model | quantity | " + " | ".join(f"{f} %" for f in fractions) + " |",
                "|---|---|" + "---|" * len(fractions),
            ]
            for model, by_quantity in by_model.items():
                for q, by_fraction in by_quantity.items():
                    lines.append(
                        f"| {MODEL_LABELS[model]} | {q} | "
                        + " | ".join(f"{by_fraction[f]['median']:.2g}" for f in fractions)
                        + " |"
                    )
            lines.append("")
    return "\n".join(lines)


def median_ratios(baseline: dict, candidate: dict) -> dict:
    """Candidate / baseline median test RMSE per state, model and fraction, for what both ran.

    Args:
        baseline, candidate: two ``results.json`` dictionaries (e.g. paper and improved protocol).
    Returns:
        ``{state: {model: {fraction_percent: ratio}}}``; a ratio below 1 means the candidate's
        median RMSE is lower.
    """
    out = {}
    for state, by_model in candidate["rmse"].items():
        for model, by_fraction in by_model.items():
            base = baseline["rmse"].get(state, {}).get(model)
            if base is None:
                continue
            out.setdefault(state, {})[model] = {
                f: by_fraction[f]["median"] / base[f]["median"] for f in by_fraction if f in base
            }
    return out


def comparison_markdown(baseline: dict, candidate: dict) -> str:
    """Markdown tables: median test RMSE (cm⁻¹) of two studies side by side per fraction, and how
    many fractions the candidate wins, for every state and model both ran."""
    ratios = median_ratios(baseline, candidate)
    names = f"`{baseline['protocol']}` → `{candidate['protocol']}`"
    lines = []
    for state, by_model in ratios.items():
        fractions = list(next(iter(by_model.values())))
        lines += [f"## State {state}: median test RMSE, cm⁻¹, {names}", ""]
        lines += ["| model | " + " | ".join(f"{f} %" for f in fractions) + " | lower in |"]
        lines += ["|---|" + "---|" * (len(fractions) + 1)]
        for model, by_fraction in by_model.items():
            cells = []
            for f in fractions:
                a = baseline["rmse"][state][model][f]["median"] * HARTREE_TO_INV_CM
                b = candidate["rmse"][state][model][f]["median"] * HARTREE_TO_INV_CM
                cells.append(f"{a:.3g} → {b:.3g}")
            wins = sum(r < 1 for r in by_fraction.values())
            lines.append(f"| {MODEL_LABELS[model]} | " + " | ".join(cells) + f" | {wins}/{len(by_fraction)} |")
        lines.append("")
    return "\n".join(lines)


def _pyplot():
    """matplotlib's pyplot on the non-interactive Agg backend (imported only when plotting)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_rmse(results: dict, out: Path) -> list[Path]:
    """RMSE (cm⁻¹, as the tables) vs training fraction with IQR bands, log axis, one PNG per state."""
    plt = _pyplot()
    paths = []
    fractions = results["fractions_percent"]
    for state, by_model in results["rmse"].items():
        fig, ax = plt.subplots(figsize=(6, 4))
        for model, by_fraction in by_model.items():
            s = [by_fraction[str(f)] for f in fractions]
            med = np.array([x["median"] for x in s]) * HARTREE_TO_INV_CM
            (line,) = ax.plot(fractions, med, marker="o", label=MODEL_LABELS[model])
            ax.fill_between(fractions, [x["q1"] * HARTREE_TO_INV_CM for x in s],
                            [x["q3"] * HARTREE_TO_INV_CM for x in s], color=line.get_color(), alpha=0.2)
        ax.set_yscale("log")
        ax.set_xlabel("training set (% of the curve)")
        ax.set_ylabel("test RMSE (cm⁻¹)")
        ax.set_title(f"{results.get('molecule', 'H2')} {state}: {results['protocol']} protocol")
        ax.legend(fontsize=7)
        fig.tight_layout()
        path = out / f"rmse_{state}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        paths.append(path)
    return paths


def plot_curves(curves: dict, out: Path, molecule: str = "H2") -> list[Path]:
    """Each model's curve (per model its seed of median test RMSE) with the training points, at the
    smallest and largest fraction; energies in cm⁻¹ above the reference at the largest distance.

    ``curves[state] = {"r", "reference", "fractions": {pct: {"train_r", "train_y", "models": {m: y}}}}``
    (Å, hartree).
    """
    plt = _pyplot()
    paths = []
    for state, c in curves.items():
        pcts = list(c["fractions"])
        zero = c["reference"][int(np.argmax(c["r"]))]

        def cm(y):
            return (np.asarray(y) - zero) * HARTREE_TO_INV_CM

        fig, axes = plt.subplots(1, len(pcts), figsize=(5 * len(pcts), 4), squeeze=False)
        for ax, pct in zip(axes[0], pcts):
            f = c["fractions"][pct]
            ax.plot(c["r"], cm(c["reference"]), "k-", lw=2.5, alpha=0.35, label="reference")
            for model, y in f["models"].items():
                ax.plot(c["r"], cm(y), lw=1, label=MODEL_LABELS[model])
            ax.plot(f["train_r"], cm(f["train_y"]), "ko", ms=4, label="training points")
            lo, hi = np.min(cm(c["reference"])), np.max(cm(c["reference"])[c["r"] > 0.6])
            ax.set_ylim(lo - 0.05 * (hi - lo), hi + 0.15 * (hi - lo))
            ax.set_xlim(0.4, 6)
            ax.set_xlabel("r (Å)")
            ax.set_ylabel(f"E − E(r = {np.max(c['r']):.1f} Å) (cm⁻¹)")
            ax.set_title(f"{molecule} {state}, {pct} % training (median-RMSE seed of each model)")
        axes[0][0].legend(fontsize=7)
        fig.tight_layout()
        path = out / f"curves_{state}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        paths.append(path)
    return paths


def plot_franck_condon(
    reference: np.ndarray, medians: dict, pct: str, out: Path, molecule: str = "H2", states=("X", "EF")
) -> Path:
    """Bars of the reference FC vector and each model's FC vector at one fraction, from the seed
    whose FC mean-squared error is the median of the model's seeds; ``states = (lower, upper)``
    name the axes and the file ``franck_condon_{lower}-{upper}.png``."""
    lower, upper = states
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    v = np.arange(len(reference))
    width = 0.8 / (len(medians) + 1)
    ax.bar(v, reference, width, color="k", label="reference")
    for i, (model, fc) in enumerate(medians.items(), start=1):
        ax.bar(v + i * width, fc, width, label=MODEL_LABELS[model])
    ax.set_xlabel(f"v′ ({upper})")
    ax.set_ylabel(f"FC factor from {lower} v = 0")
    ax.set_title(f"{molecule} Franck–Condon factors {lower} → {upper}, {pct} % training (per model its seed of median FC MSE)", fontsize=8)
    ax.legend(fontsize=7)
    fig.tight_layout()
    path = out / f"franck_condon_{lower}-{upper}.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
