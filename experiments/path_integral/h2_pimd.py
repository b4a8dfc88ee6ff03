"""Path-integral MD of H2 with the diatomic hybrid (Morse + network) against exact quantum averages.

The potential is the diatomic study's "sequential" hybrid (Morse fitted first, then a network on
the residual; improved protocol, float64) trained on every point of the bundled FCI X ¹Σg⁺ curve
with r < 20 Å. The molecule is simulated in 3-D by i-PI (PILE-L thermostat, NVT) with that curve
served by `hybridpot.md.ipi.serve_ipi` through a thin ASE calculator over the 1-D model
(E = V(|r₁ − r₂|), F = −V'(r) r̂): the exact same function the DVR reference diagonalises, so
the comparison tests the path-integral sampling and nothing else (no refit onto a graph model).

Reference: hybridpot.spectroscopy.thermal.rovibrational_thermal_averages, the rovibrational
levels E(v, J) of V(r) + J(J+1)ħ²/(2μr²) by the sinc DVR for J = 0 … J_max, Boltzmann-weighted
with (2J+1): ⟨r⟩ = Σ w ⟨vJ|r|vJ⟩, ⟨K_rel⟩ = Σ w (E_vJ − ⟨vJ|V|vJ⟩). Distinguishable nuclei (as
in i-PI's PIMD): no nuclear-spin statistics (no ortho/para weights). i-PI's centroid-virial kinetic energy covers all
six nuclear coordinates, so the reference adds the free centre of mass, 3/2 k_B T.

    PYTHONPATH=$PWD python experiments/path_integral/h2_pimd.py --out results/path_integral

Writes OUT/h2_pimd.json, prints a markdown table and plots OUT/h2_pimd.png.
"""

from __future__ import annotations

import argparse
import json
import pickle
import time
import uuid
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from ase import Atoms, units
from ase.calculators.calculator import Calculator, all_changes

jax.config.update("jax_enable_x64", True)

from hybridpot.io import bundled_h2_curves  # noqa: E402
from hybridpot.md.ipi import nvt_input, serve_ipi, start_ipi  # noqa: E402
from hybridpot.spectroscopy import H2_REDUCED_MASS_AMU, rovibrational_thermal_averages  # noqa: E402
from hybridpot.studies.diatomic.protocols import get_protocol  # noqa: E402
from hybridpot.studies.diatomic.training import MORSE, Curves, predict, train_model  # noqa: E402

H_MASS_AMU = 2.0 * H2_REDUCED_MASS_AMU  # ¹H atomic mass, the DVR's and i-PI's (set explicitly)

def train_h2_hybrid(cache: Path, model: str = "sequential"):
    """The diatomic hybrid on every bundled X point with r < 20 Å (trained once, then read from
    ``cache``, a pickle of its parameters): returns (V(r Å) -> hartree (jax), fit RMSE hartree)."""
    curves = bundled_h2_curves(["X"])
    r, y = curves.distance_angstrom, curves.energy_hartree["X"]
    keep = r < 20.0
    r, y = r[keep], y[keep]
    protocol = get_protocol("improved", "X").only(model, len(get_protocol("improved", "X").stages[model][0].steps) - 1)
    if cache.is_file():
        with open(cache, "rb") as f:
            params, norm = pickle.load(f)
    else:
        data = Curves(*(jnp.asarray(a)[None, None] for a in (r, y, np.ones_like(r))))
        params, norm, _, finite = train_model(model, [protocol], MORSE, data, jax.random.PRNGKey(2)[None])
        if not bool(np.all(finite)):
            raise RuntimeError("training diverged")
        params, norm = jax.device_get(jax.tree.map(lambda x: x[0, 0, 0], (params, norm)))
        with open(cache, "wb") as f:
            pickle.dump((params, norm), f)
    fit = np.asarray(predict(model, protocol, MORSE, params, norm, jnp.asarray(r)).total)
    rmse = float(np.sqrt(np.mean((fit - y) ** 2)))

    def curve(x):
        return predict(model, protocol, MORSE, params, norm, jnp.atleast_1d(x)).total.reshape(jnp.shape(x))

    return curve, rmse


class DiatomicCurveCalculator(Calculator):
    """ASE calculator of two atoms on a 1-D curve: E = V(r) (eV), F = ∓V'(r) r̂ (eV/Å).

    Records every evaluated distance (Å) and energy (eV) in ``self.log`` for the bead averages
    (ASE's cache skips a repeated evaluation of the same positions).
    """

    implemented_properties = ["energy", "free_energy", "forces"]

    def __init__(self, curve_hartree, energy_zero_hartree: float, **kwargs):
        super().__init__(**kwargs)
        scalar = lambda x: curve_hartree(x)  # noqa: E731
        self._value_and_grad = jax.jit(jax.value_and_grad(scalar))
        self.zero = energy_zero_hartree
        self.log = []

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        if len(self.atoms) != 2:
            raise ValueError(f"a diatomic curve needs 2 atoms, got {len(self.atoms)}")
        d = self.atoms.positions[1] - self.atoms.positions[0]
        r = float(np.linalg.norm(d))
        v, dv = (float(x) for x in self._value_and_grad(jnp.asarray(r)))
        energy = (v - self.zero) * units.Hartree
        force = dv * units.Hartree * d / r  # on atom 0: +V'(r) r̂ (V'(r) > 0 pulls it toward atom 1)
        self.results = {"energy": energy, "free_energy": energy, "forces": np.array([force, -force])}
        self.log.append((r, energy))


def exact_averages(curve_hartree, temperature: float) -> dict:
    """⟨K⟩ (all 6 nuclear coordinates, eV) and ⟨r⟩ (Å) of H2 on the curve at ``temperature`` K
    from its rovibrational levels (sinc-DVR grid 0.25–4 Å, 800 points; 12 levels per J)."""
    r = np.linspace(0.25, 4.0, 800)
    v = np.asarray(curve_hartree(jnp.asarray(r)), float)
    exact = rovibrational_thermal_averages(r, v, H2_REDUCED_MASS_AMU, temperature, j_max=int(12 + 0.02 * temperature))
    return {"r_A": exact.mean_distance_angstrom,
            "kinetic_eV": exact.kinetic_hartree * units.Hartree + 1.5 * units.kB * temperature,
            "classical_kinetic_eV": 3.0 * units.kB * temperature, "top_weight": exact.truncation_weight}


def block_error(x: np.ndarray, n_blocks: int = 20) -> float:
    """Standard error of the mean of a correlated series from ``n_blocks`` block means."""
    blocks = np.array_split(np.asarray(x, float), n_blocks)
    means = np.array([b.mean() for b in blocks])
    return float(means.std(ddof=1) / np.sqrt(n_blocks))


def run_pimd(calc: DiatomicCurveCalculator, folder: Path, temperature: float, beads: int, steps: int,
             equilibration: int, dt: float, seed: int) -> dict:
    """One i-PI run of H2 served by ``calc``; averages after ``equilibration`` steps with block errors."""
    folder.mkdir(parents=True, exist_ok=True)
    r0 = 0.7414
    Atoms("H2", positions=[[0, 0, 0], [0, 0, r0]], cell=[20.0, 20.0, 20.0]).write(folder / "init.extxyz")
    address = f"hybridpot-h2-{uuid.uuid4().hex[:10]}"
    xml = nvt_input(address=address, structure="init.extxyz", steps=steps, beads=beads, temperature_K=temperature,
                    timestep_fs=dt, tau_fs=50, seed=seed, properties="[step, kinetic_cv{ase}, potential{ase}]",
                    flush=100, masses_amu=[H_MASS_AMU, H_MASS_AMU])
    process = start_ipi(folder, xml, address)
    try:
        calc.log = []
        atoms = Atoms("H2", positions=[[0, 0, 0], [0, 0, r0]])
        atoms.calc = calc
        start = time.perf_counter()
        n = serve_ipi(atoms, unixsocket=address)
        seconds = time.perf_counter() - start
        process.wait(timeout=120)
    finally:
        process.kill()
    assert n == beads * (steps + 1), (n, beads, steps)
    out = np.loadtxt(folder / "sim.out", ndmin=2)
    kinetic = out[equilibration + 1:, 1]
    # ASE skips the evaluation of positions it has just evaluated (the identical beads of step 0),
    # so the log is read from its end: every bead of every step after the equilibration
    kept = steps - equilibration
    per_step = np.array(calc.log[-kept * beads:])[:, 0].reshape(kept, beads).mean(axis=1)
    return {"temperature_K": temperature, "beads": beads, "steps": steps, "equilibration": equilibration,
            "dt_fs": dt, "kinetic_eV": float(kinetic.mean()), "kinetic_err_eV": block_error(kinetic),
            "r_A": float(per_step.mean()), "r_err_A": block_error(per_step), "seconds": seconds}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", nargs="+", default=["1000:1,4,16,32", "2000:1,4,16"], metavar="T:P,P,...",
                        help="temperature (K) and its bead numbers (default: 1000:1,4,16,32 2000:1,4,16)")
    parser.add_argument("--steps", type=int, default=8000, help="MD steps per run (after equilibration)")
    parser.add_argument("--equilibration", type=int, default=1000, help="steps discarded at the start")
    parser.add_argument("--dt", type=float, default=0.25, help="time step, fs")
    parser.add_argument("--seed", type=int, default=31415)
    parser.add_argument("--out", default="results/path_integral")
    parser.add_argument("--report", action="store_true", help="only redo the table and plot of OUT/h2_pimd.json")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.report:
        with open(out / "h2_pimd.json") as f:
            results = json.load(f)
        print(markdown_table(results))
        plot(results, out / "h2_pimd.png")
        return

    start = time.perf_counter()
    curve, rmse = train_h2_hybrid(out / "h2_hybrid.pkl")
    print(f"the sequential hybrid on the bundled X curve: RMSE {rmse:.2e} hartree "
          f"({time.perf_counter() - start:.0f} s)")
    grid = np.linspace(0.3, 20.0, 4000)
    zero = float(np.min(np.asarray(curve(jnp.asarray(grid)))))
    calc = DiatomicCurveCalculator(curve, zero)
    results = {"fit_rmse_hartree": rmse, "runs": [], "reference": {}}
    for spec in args.runs:
        temperature, bead_numbers = float(spec.split(":")[0]), [int(p) for p in spec.split(":")[1].split(",")]
        exact = exact_averages(curve, temperature)
        results["reference"][f"{temperature:g}"] = exact
        print(f"T = {temperature:g} K exact: <K> = {exact['kinetic_eV']:.5f} eV, <r> = {exact['r_A']:.5f} Å "
              f"(largest truncated weight {exact['top_weight']:.1e})")
        for beads in bead_numbers:
            run = run_pimd(calc, out / f"T{temperature:g}_P{beads}", temperature, beads,
                           args.steps + args.equilibration, args.equilibration, args.dt, args.seed)
            results["runs"].append(run)
            print(f"  P = {beads:3d}: <K> = {run['kinetic_eV']:.5f} ± {run['kinetic_err_eV']:.5f} eV, "
                  f"<r> = {run['r_A']:.5f} ± {run['r_err_A']:.5f} Å ({run['seconds']:.0f} s)", flush=True)
    with open(out / "h2_pimd.json", "w") as f:
        json.dump(results, f, indent=1)
    print()
    print(markdown_table(results))
    plot(results, out / "h2_pimd.png")
    print(f"\nwrote {out / 'h2_pimd.json'} and {out / 'h2_pimd.png'} ({time.perf_counter() - start:.0f} s in all)")


def markdown_table(results: dict) -> str:
    """Runs against the exact averages: ⟨K⟩ (eV) and ⟨r⟩ (Å), with 1σ block errors."""
    lines = ["| T (K) | beads | ⟨K⟩ PIMD (eV) | ⟨K⟩ exact (eV) | ⟨K⟩ / σ off | ⟨r⟩ PIMD (Å) | ⟨r⟩ exact (Å) | ⟨r⟩ / σ off |",
             "|---|---|---|---|---|---|---|---|"]
    for run in results["runs"]:
        exact = results["reference"][f"{run['temperature_K']:g}"]
        # one bead: the estimator is exactly 3kT at every step (no statistical error)
        dk = (f"{(run['kinetic_eV'] - exact['kinetic_eV']) / run['kinetic_err_eV']:+.1f}"
              if run["kinetic_err_eV"] > 0 else "— (3kT)")
        dr = (run["r_A"] - exact["r_A"]) / run["r_err_A"]
        lines.append(f"| {run['temperature_K']:g} | {run['beads']} | {run['kinetic_eV']:.4f} ± {run['kinetic_err_eV']:.4f} | "
                     f"{exact['kinetic_eV']:.4f} | {dk} | {run['r_A']:.4f} ± {run['r_err_A']:.4f} | "
                     f"{exact['r_A']:.4f} | {dr:+.1f} |")
    return "\n".join(lines)


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for i, (key, exact) in enumerate(results["reference"].items()):
        runs = [r for r in results["runs"] if f"{r['temperature_K']:g}" == key]
        p = np.array([r["beads"] for r in runs])
        color = f"C{i}"
        for ax, q, err, ref in ((axes[0], "kinetic_eV", "kinetic_err_eV", exact["kinetic_eV"]),
                                (axes[1], "r_A", "r_err_A", exact["r_A"])):
            ax.errorbar(1.0 / p, [r[q] for r in runs], yerr=[r[err] for r in runs], fmt="o", color=color,
                        label=f"PIMD {key} K")
            ax.axhline(ref, color=color, ls="--", label=f"exact (DVR) {key} K")
    axes[0].set(xlabel="1 / beads", ylabel="⟨K⟩ (eV), centroid virial", title="H2 kinetic energy")
    axes[1].set(xlabel="1 / beads", ylabel="⟨r⟩ (Å)", title="H2 mean bond length")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    main()
