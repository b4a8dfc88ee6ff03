"""Property transfer: the Al–Ni Behler–Parrinello + embedded-atom hybrid against EMT, its reference.

Energy and force RMSEs (docs/studies/alni.md) say how well a potential reproduces its training
labels; the properties a user computes next (lattice constants, bulk moduli, elastic constants,
phonons, thermal expansion) are second derivatives and free energies that those errors do not show.
This study trains the hybrid of the Al–Ni study (the second-moment embedded-atom baseline fitted to
the training structures, frozen, plus a radial-only BP network on a 5 Å cutoff, 250 structures, 3000
steps; the README's row) through the library's trainer, then computes every property of
:mod:`hybridpot.properties` for fcc Al, fcc Ni, B2 NiAl and L1₂ Ni₃Al with the hybrid (exact JAX
derivatives) and with EMT (finite differences through ASE), each at its own relaxed structure.

    python experiments/properties/alni_properties.py --out experiments/properties/results.json \\
        --plots docs/studies/properties

writes the JSON (both reports per phase), the plots (phonon bands and DOS of both, α(T) of both)
and prints the markdown table of docs/studies/properties.md. ``--model FILE`` reuses a trained model
file instead of training.
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

jax.config.update("jax_enable_x64", True)  # properties in float64; the model trains in float32

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "alni"))

from common import DATA, fit_second_moment, load_dataset, second_moment_spec, split_indices  # noqa: E402

from hybridpot.train import Dataset  # noqa: E402

PHASES = ("fcc_Al", "fcc_Ni", "B2_NiAl", "L12_Ni3Al")


def unit_cell(name: str):
    """The unit cell of a phase at a starting lattice constant (relaxed later by each potential)."""
    from ase.build import bulk

    if name == "fcc_Al":
        return bulk("Al", "fcc", a=4.0)
    if name == "fcc_Ni":
        return bulk("Ni", "fcc", a=3.5)
    if name == "B2_NiAl":
        return bulk("NiAl", "cesiumchloride", a=2.87)
    atoms = bulk("Ni", "fcc", a=3.56, cubic=True)
    atoms.numbers[0] = 13  # corner site → Al: L1₂
    return atoms


def train_hybrid(out_dir: str, n_train: int, steps: int, learning_rate: float) -> str:
    """Fit the embedded-atom baseline, then train the BP network on top of it; returns the model file."""
    from ase.io import read, write

    from hybridpot.cli.train_app import parse_train_file, train_from_file
    from hybridpot.potentials import save_potential

    data, _ = load_dataset()
    pool, valid_idx, _ = split_indices(len(data))
    train = Dataset([data[i] for i in pool[:n_train]])
    sm_params, _, info = fit_second_moment(train)
    print(f"embedded-atom baseline: {1000 * info['energy_rmse_per_atom']:.1f} meV/atom on its training data", flush=True)
    images = read(DATA, ":")
    os.makedirs(out_dir, exist_ok=True)
    run_dir = tempfile.mkdtemp(prefix="alni_properties_run_")
    write(os.path.join(run_dir, "train.extxyz"), [images[i] for i in pool[:n_train]], format="extxyz")
    write(os.path.join(run_dir, "valid.extxyz"), [images[i] for i in valid_idx], format="extxyz")
    physics = second_moment_spec(sm_params)
    spec = parse_train_file({
        "dataset": {"train": os.path.join(run_dir, "train.extxyz"), "valid": os.path.join(run_dir, "valid.extxyz")},
        "model": {"kind": "behler_parrinello", "descriptor": {"cutoff": 5.0, "num_radial": 12, "num_angular_eta": 0},
                  "hidden": [32, 32]},
        "physics": physics,  # fixed (not trainable): the network learns the rest, as in the Al–Ni study
        "output": run_dir,
        "data": {"batch_size": 8, "n_buckets": 2},
        "loss": {"energy_weight": 50.0, "energy_per_atom": True, "forces_weight": 1.0},
        "optim": {"learning_rate": learning_rate, "warmup_steps": 20, "decay": "cosine", "final_lr_fraction": 0.01,
                  "clip_norm": 10.0, "ema_decay": 0.99},
        "run": {"seed": 0, "max_steps": steps, "eval_every": max(steps // 6, 1), "checkpoint_every": steps,
                "dtype": "float32"},
    }, source="alni_properties.py")
    potential, result, _ = train_from_file(spec, progress=False)
    metrics = {k: float(np.asarray(v).ravel()[0]) for k, v in result.valid_metrics.items()}
    print(f"trained in {steps} steps: validation {metrics}", flush=True)
    return save_potential(os.path.join(out_dir, "model.npz"), potential)


def reports_for(phase: str, potential, temperatures) -> dict:
    """Property reports of one phase by EMT and by the hybrid, each at its own relaxed structure."""
    from ase.calculators.emt import EMT

    from hybridpot.md import HybridpotCalculator
    from hybridpot.properties import CalculatorSource
    from hybridpot.properties.report import property_report, relax_crystal

    out = {}
    for label, calc, model in (
        ("EMT", EMT(), None),
        ("hybrid", HybridpotCalculator(potential), potential),
    ):
        t0 = time.time()
        atoms = relax_crystal(unit_cell(phase), calc, fmax=1e-5)
        if model is None:  # EMT's interaction range is its neighbour-list radius, set once it has run
            model = CalculatorSource(EMT(), cutoff=float(calc.rc_list))
        out[label] = property_report(atoms, model, temperatures=temperatures)
        out[label]["lattice_constant_A"] = lattice_constant(phase, atoms)
        out[label]["seconds"] = time.time() - t0
        print(f"{phase} {label}: {out[label]['seconds']:.0f} s", flush=True)
    return out


def lattice_constant(phase: str, atoms) -> float:
    """The cubic lattice constant, Å (fcc from the primitive cell's volume)."""
    v = atoms.get_volume()
    return float((4 * v) ** (1 / 3) if phase.startswith("fcc") else v ** (1 / 3))


def summary(phase: str, reports: dict) -> dict:
    """The quantities of the table for one phase and both models."""
    rows = {}
    for label, r in reports.items():
        c = np.asarray(r["elastic"]["relaxed_GPa"])
        q = r["qha"]
        t = q["temperature_K"]
        alpha = dict(zip(t, q["linear_expansion_per_K"]))
        rows[label] = {"a_A": r["lattice_constant_A"], "B0_GPa": r["eos"]["b0_GPa"], "C11_GPa": c[0, 0],
                       "C12_GPa": c[0, 1], "C44_GPa": c[3, 3],
                       "C44_unrelaxed_GPa": r["elastic"]["unrelaxed_GPa"][3][3],
                       "max_frequency_THz": float(np.max(r["phonons"]["bands"]["frequencies_THz"])),
                       "alpha_300K_per_K": alpha.get(300.0), "alpha_1000K_per_K": alpha.get(1000.0),
                       "qha_top_K": t[-1], "born_stable": r["elastic"]["born_stability_relaxed"]["stable"],
                       "n_imaginary": r["phonons"]["thermal"]["n_imaginary"],
                       "qha_imaginary": int(sum(q["n_imaginary"]))}
    ref = np.asarray(reports["EMT"]["phonons"]["bands"]["frequencies_THz"])
    mine = np.asarray(reports["hybrid"]["phonons"]["bands"]["frequencies_THz"])
    rows["band_rms_difference_THz"] = float(np.sqrt(np.mean((ref - mine) ** 2)))
    return rows


def table(summaries: dict) -> str:
    """Markdown: one row per phase and quantity, EMT, hybrid, relative difference."""
    quantities = [("a_A", "a (Å)", 1, "{:.4f}"), ("B0_GPa", "B₀ (GPa)", 1, "{:.1f}"), ("C11_GPa", "C₁₁ (GPa)", 1, "{:.1f}"),
                  ("C12_GPa", "C₁₂ (GPa)", 1, "{:.1f}"), ("C44_GPa", "C₄₄ (GPa)", 1, "{:.1f}"),
                  ("max_frequency_THz", "highest phonon on the path (THz)", 1, "{:.2f}"),
                  ("alpha_300K_per_K", "α(300 K) (10⁻⁶/K)", 1e6, "{:.1f}"),
                  ("alpha_1000K_per_K", "α(1000 K) (10⁻⁶/K)", 1e6, "{:.1f}")]
    lines = ["| phase | quantity | EMT | hybrid | hybrid − EMT |", "|---|---|---|---|---|"]
    for phase, s in summaries.items():
        stable = {k: "yes" if s[k]["born_stable"] else "no" for k in ("EMT", "hybrid")}
        lines.append(f"| {phase} | Born stable (relaxed C) | {stable['EMT']} | {stable['hybrid']} | |")
        lines.append(f"| {phase} | imaginary modes on the q mesh | {s['EMT']['n_imaginary']} | {s['hybrid']['n_imaginary']} | |")
        for key, name, factor, fmt in quantities:
            e, h = s["EMT"][key], s["hybrid"][key]
            if key.startswith("alpha") and (s["EMT"]["qha_imaginary"] or s["hybrid"]["qha_imaginary"]):
                lines.append(f"| {phase} | {name} | | | no QHA: imaginary modes (dynamically unstable) |")
                continue
            if e is None or h is None:
                lines.append(f"| {phase} | {name} | {'—' if e is None else fmt.format(factor * e)} | "
                             f"{'—' if h is None else fmt.format(factor * h)} | V(T) left the scanned volumes |")
                continue
            lines.append(f"| {phase} | {name} | {fmt.format(factor * e)} | {fmt.format(factor * h)} | "
                         f"{100 * (h - e) / abs(e):+.1f} % |")
        lines.append(f"| {phase} | phonon bands, RMS difference (THz) | | | {s['band_rms_difference_THz']:.2f} |")
    return "\n".join(lines)


def plots(phase: str, reports: dict, out_dir: str) -> None:
    """Phonon bands and DOS of both models, and α(T) unless a model has imaginary modes in its QHA."""
    from hybridpot.properties.plots import phonon_plot, thermal_expansion_plot

    os.makedirs(out_dir, exist_ok=True)
    phonon_plot(reports, path=os.path.join(out_dir, f"{phase}_phonons.png"), title=phase)
    if not any(sum(r["qha"]["n_imaginary"]) for r in reports.values()):
        thermal_expansion_plot(reports, path=os.path.join(out_dir, f"{phase}_thermal_expansion.png"), title=phase)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=None, help="a trained model file (default: train one)")
    parser.add_argument("--model-out", default=os.path.join("experiments", "properties", "alni_hybrid"),
                        help="folder of the trained model file")
    parser.add_argument("--n-train", type=int, default=250)
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--learning-rate", type=float, default=1e-2)
    parser.add_argument("--phases", nargs="+", default=list(PHASES), choices=PHASES)
    parser.add_argument("--t-step", type=float, default=20.0, help="temperature step, K (0 to 1000 K)")
    parser.add_argument("--out", default=os.path.join("experiments", "properties", "results.json"))
    parser.add_argument("--plots", default=os.path.join("docs", "studies", "properties"))
    parser.add_argument("--replot", default=None, metavar="JSON",
                        help="redraw the plots and reprint the table of a results file, computing nothing")
    args = parser.parse_args(argv)

    if args.replot:
        with open(args.replot) as f:
            saved = json.load(f)
        for phase, reports in saved["reports"].items():
            plots(phase, reports, args.plots)
        print(table(saved["summary"]))
        return

    from hybridpot.potentials import load_potential

    t_start = time.time()
    model_file = args.model or train_hybrid(args.model_out, args.n_train, args.steps, args.learning_rate)
    potential = load_potential(model_file)
    temperatures = np.arange(0.0, 1000.0 + 0.5 * args.t_step, args.t_step)
    results, summaries = {}, {}
    for phase in args.phases:
        results[phase] = reports_for(phase, potential, temperatures)
        summaries[phase] = summary(phase, results[phase])
        plots(phase, results[phase], args.plots)
    print(f"\ntotal {time.time() - t_start:.0f} s\n")
    print(table(summaries))
    with open(args.out, "w") as f:
        json.dump({"argv": sys.argv, "model": model_file, "summary": summaries, "reports": results,
                   "seconds": time.time() - t_start}, f, indent=1)
    print(f"wrote {args.out} and the plots in {args.plots}")


if __name__ == "__main__":
    main()
