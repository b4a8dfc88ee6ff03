"""Quantum correction to the intramolecular pair-distance distributions of ethanol: PIMD (i-PI) against classical MD.

The model is a MACE-like potential trained here with `hybridpot train` on 1000 revised-MD17
ethanol frames (PBE/def2-SVP); its force error is measured on 1000 further frames, and a short NVE
run of `hybridpot md` (whose guard stops a run that collapses or drifts) checks that MD with it is
stable. `hybridpot serve-ipi` serves it to i-PI 3.3.1, which runs NVT with the PILE-L thermostat:
one bead (classical MD) and P beads (PIMD). i-PI writes the positions of every bead every
``--stride`` steps. Positions are diagonal in the path integral, so the pair distances of all beads
of all kept frames sample the quantum distribution P(r) of each pair type (classical: the one bead).

Table: per class of bonded pairs (C–H, O–H, C–C, C–O; and H…H of two H on one atom) the mean
⟨r⟩ and the width σ = sqrt(⟨r²⟩ − ⟨r⟩²), with 1σ errors from block averages. The harmonic
expectation of σ: a stretch of reduced mass μ whose frequency ω gives the classical width
(σ_cl² = kT/(μω²)) has with P beads σ_P² = σ_cl² Σ_k ω²/(ω² + 4ω_P² sin²(πk/P)), ω_P = P kT/ħ,
which tends to σ_cl² (βħω/2) coth(βħω/2) as P → ∞.

    PYTHONPATH=$PWD python experiments/path_integral/ethanol_rdf.py --out results/ethanol_pimd

Writes OUT/ethanol_rdf.json and OUT/ethanol_rdf.png (the model and the runs' folders too);
``--report`` reprints the table and redraws the plot from the JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import numpy as np
from ase import Atoms, units
from ase.data import atomic_masses, chemical_symbols, covalent_radii

ROOT = Path(__file__).resolve().parents[2]

#: the train file of the model (`hybridpot train`): the MACE-like model at the learning rate that
#: gave the best ethanol forces in 10 CPU minutes (docs/studies/md17.md), with fewer steps
TRAIN_FILE = """dataset: {{train: train.npz, valid: valid.npz, format: md17}}
model: {{kind: mace, cutoff: 5.0, channels: 32, lmax: 1, sh_lmax: 3, num_interactions: 2, correlation: 3}}
output: model
data: {{batch_size: 32, n_buckets: 1}}
loss: {{kind: mse, energy_weight: 1.0, energy_per_atom: false, forces_weight: 100.0}}
optim: {{name: amsgrad, learning_rate: 1.0e-2, warmup_steps: 50, decay: cosine, ema_decay: 0.99}}
run: {{seed: 0, n_seeds: 1, max_steps: {steps}, eval_every: 100, checkpoint_every: 100, dtype: float32}}
"""

#: frames of the rMD17 file in file order (a random permutation): train, validation, test
N_TRAIN, N_VALID, N_TEST = 1000, 200, 1000

#: bonded pairs: closer than this × the sum of covalent radii in the start structure
BOND_FACTOR = 1.25


def _env() -> dict:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}


def _cli(*args: str, cwd: Path) -> str:
    """Run `hybridpot ARGS` of this checkout in ``cwd``; its output (raises when it fails)."""
    done = subprocess.run([sys.executable, "-m", "hybridpot.cli", *args], cwd=cwd, env=_env(), text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"hybridpot {' '.join(args)} failed:\n{done.stdout[-3000:]}")
    return done.stdout


# --- the model --------------------------------------------------------------------------------

def train_model(out: Path, data: Path, steps: int) -> Path:
    """Train the ethanol model with `hybridpot train` in ``out/model`` (once; later runs reuse it).

    Frames of the rMD17 file ``data`` in file order: the first 1000 train, the next 200 validate.
    Returns the model file.
    """
    from hybridpot.io.md17 import load_md17, write_md17_subset

    model = out / "model" / "model.npz"
    if model.is_file():
        return model
    frames = load_md17(data, units="kcal/mol")
    write_md17_subset(frames, out / "train.npz", range(N_TRAIN))
    write_md17_subset(frames, out / "valid.npz", range(N_TRAIN, N_TRAIN + N_VALID))
    (out / "train.yaml").write_text(TRAIN_FILE.format(steps=steps))
    _cli("train", "train.yaml", "--no-progress", cwd=out)
    return model


def test_errors(model: Path, data: Path) -> dict:
    """Energy and force MAE (meV, meV/Å) and the mean time per call (ms) of the model on the
    ``N_TEST`` frames after the training and validation frames of ``data``."""
    from hybridpot.io.md17 import load_md17
    from hybridpot.md import HybridpotCalculator

    frames = load_md17(data, units="eV").select(np.arange(N_TRAIN + N_VALID, N_TRAIN + N_VALID + N_TEST))
    atoms = Atoms(numbers=frames.numbers, positions=frames.positions[0])
    atoms.calc = HybridpotCalculator(str(model))
    atoms.get_forces()  # compile
    energies, forces = [], []
    start = time.perf_counter()
    for positions in frames.positions:
        atoms.positions = positions
        energies.append(atoms.get_potential_energy())
        forces.append(atoms.get_forces())
    per_call = (time.perf_counter() - start) / frames.n_frames
    energy_error = np.asarray(energies) - frames.energy
    energy_error -= energy_error.mean()  # the energy zero is arbitrary: MAE about the mean offset
    return {"n_test": frames.n_frames, "energy_mae_meV": 1e3 * float(np.abs(energy_error).mean()),
            "forces_mae_meV_per_A": 1e3 * float(np.abs(np.asarray(forces) - frames.forces).mean()),
            "ms_per_call": 1e3 * per_call}


def nve_check(model: Path, start: Path, folder: Path, steps: int, temperature: float) -> str:
    """`hybridpot md` in NVE (0.5 fs) from ``start`` with its guard (closest pair, energy drift):
    the summary line; raises when the guard stops the run."""
    folder.mkdir(parents=True, exist_ok=True)
    output = _cli("md", str(model.resolve()), str(start.resolve()), "--steps", str(steps), "--dt", "0.5",
                  "--thermostat", "nve", "--temperature", f"{temperature:g}", "--write-every", "100",
                  "--out", "nve.extxyz", cwd=folder)
    return next(line for line in output.splitlines() if line.startswith(f"{steps} steps"))


# --- the runs ---------------------------------------------------------------------------------

def run_ipi(model: Path, start: Atoms, folder: Path, *, temperature: float, beads: int, steps: int, dt: float,
            tau: float, stride: int, seed: int, clients: int) -> dict:
    """One i-PI NVT run of ``start`` (PILE-L, ``beads`` beads) served by ``clients`` `hybridpot
    serve-ipi` processes; i-PI's outputs stay in ``folder``. Returns the wall time (s) and the
    number of evaluations served."""
    from hybridpot.md.ipi import nvt_input, start_ipi

    folder.mkdir(parents=True, exist_ok=True)
    for stale in (*folder.glob("sim.*"), *folder.glob("#*#"), folder / "RESTART"):
        stale.unlink(missing_ok=True)  # an earlier run's outputs: i-PI would keep them beside the new ones
    start.write(folder / "start.extxyz")
    address = f"hybridpot-ethanol-{uuid.uuid4().hex[:10]}"
    xml = nvt_input(address=address, structure="start.extxyz", steps=steps, beads=beads, temperature_K=temperature,
                    timestep_fs=dt, tau_fs=tau, seed=seed, stride=stride,
                    properties="[step, temperature{kelvin}, kinetic_cv{ase}, potential{ase}]",
                    trajectories={"pos": "positions{angstrom}"})
    server = start_ipi(folder, xml, address)
    workers = []
    try:
        begin = time.perf_counter()
        command = [sys.executable, "-m", "hybridpot.cli", "serve-ipi", str(model.resolve()), "start.extxyz",
                   "--unix", address]
        workers = [subprocess.Popen(command, cwd=folder, env=_env(), text=True, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT) for _ in range(clients)]
        outputs = [w.communicate()[0] for w in workers]
        seconds = time.perf_counter() - begin
        server.wait(timeout=120)
    finally:
        for process in (server, *workers):
            process.kill()
    if any(w.returncode for w in workers):
        raise RuntimeError("a client failed:\n" + "\n".join(o[-2000:] for o in outputs))
    served = sum(int(o.split("served ")[1].split()[0]) for o in outputs)
    if served != beads * (steps + 1):
        raise RuntimeError(f"the clients served {served} evaluations, not beads × (steps + 1) = {beads * (steps + 1)}")
    return {"seconds": seconds, "evaluations": served}


def read_bead_positions(folder: Path, n_atoms: int) -> np.ndarray:
    """Positions [n_frames, n_beads, n_atoms, 3] Å of i-PI's xyz bead trajectories ``sim.pos_*.xyz``."""
    files = sorted(folder.glob("sim.pos_*.xyz"))
    if not files:
        raise FileNotFoundError(f"no bead trajectory sim.pos_*.xyz in {folder}")
    beads = []
    for path in files:
        lines = path.read_text().splitlines()
        n_frames = len(lines) // (n_atoms + 2)
        rows = [line.split()[1:4] for i, line in enumerate(lines[: n_frames * (n_atoms + 2)])
                if i % (n_atoms + 2) >= 2]
        beads.append(np.asarray(rows, float).reshape(n_frames, n_atoms, 3))
    n = min(len(b) for b in beads)  # a run stopped mid-write may leave one bead a frame ahead
    return np.stack([b[:n] for b in beads], axis=1)


# --- the analysis -----------------------------------------------------------------------------

def pair_distances(positions: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """|r_j − r_i| [..., n_pairs] Å of the atom pairs [n_pairs, 2] in positions [..., n_atoms, 3] Å."""
    pairs = np.asarray(pairs)
    return np.linalg.norm(positions[..., pairs[:, 1], :] - positions[..., pairs[:, 0], :], axis=-1)


def _pair_name(numbers, i, j) -> str:
    """"C–H", "C–O", "O–H", ...: carbon first, hydrogen last, others by atomic number."""
    key = lambda z: (z != 6, z == 1, z)  # noqa: E731
    a, b = sorted((int(numbers[i]), int(numbers[j])), key=key)
    return f"{chemical_symbols[a]}–{chemical_symbols[b]}"


def pair_classes(numbers, positions) -> tuple[dict, dict]:
    """The atom pairs of one molecule by kind: ``(bonded, types)``.

    ``bonded``: pairs closer than BOND_FACTOR × their covalent radii sum in ``positions`` [n, 3] Å,
    by element pair ("C–H", ...), and "H…H (same atom)": two H bonded to one atom.
    ``types``: every pair by element pair (the intramolecular RDF's pair types).
    Each value is an int array [n_pairs, 2].
    """
    numbers = np.asarray(numbers)
    n = len(numbers)
    d = np.linalg.norm(positions[:, None] - positions[None], axis=-1)
    bond = d < BOND_FACTOR * (covalent_radii[numbers][:, None] + covalent_radii[numbers][None])
    bonded, types = {}, {}
    for i in range(n):
        for j in range(i + 1, n):
            types.setdefault(_pair_name(numbers, i, j), []).append((i, j))
            if bond[i, j]:
                bonded.setdefault(_pair_name(numbers, i, j), []).append((i, j))
            elif numbers[i] == numbers[j] == 1 and np.any(bond[i] & bond[j]):
                bonded.setdefault("H…H (same atom)", []).append((i, j))
    as_arrays = lambda groups: {k: np.asarray(v, int) for k, v in sorted(groups.items())}  # noqa: E731
    return as_arrays(bonded), as_arrays(types)


def block_moments(r: np.ndarray, n_blocks: int = 10) -> dict:
    """Mean ⟨r⟩ and width σ = sqrt(⟨r²⟩ − ⟨r⟩²) (units of r) of samples r [n_frames, ...] (all beads
    and pairs of a frame), with 1σ errors: the spread of the same estimates over ``n_blocks``
    consecutive blocks of frames / sqrt(n_blocks)."""
    r = np.asarray(r, float).reshape(len(r), -1)
    if len(r) < 2 * n_blocks:
        raise ValueError(f"{len(r)} frames are too few for {n_blocks} blocks")
    blocks = np.array([(b.mean(), b.std()) for b in np.array_split(r, n_blocks)])
    err = blocks.std(axis=0, ddof=1) / np.sqrt(n_blocks)
    return {"mean": float(r.mean()), "mean_err": float(err[0]), "sd": float(r.std()), "sd_err": float(err[1])}


def block_histogram(r: np.ndarray, edges: np.ndarray, n_blocks: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Probability density P(r) [n_bins] (1/Å, ∫P dr = 1 over all samples, also those outside
    ``edges``) of samples r [n_frames, ...] Å, and its 1σ error from ``n_blocks`` blocks of frames."""
    r = np.asarray(r, float).reshape(len(r), -1)
    widths = np.diff(edges)

    def density(x):
        return np.histogram(x, edges)[0] / (x.size * widths)

    blocks = np.array([density(b) for b in np.array_split(r, n_blocks)])
    return density(r), blocks.std(axis=0, ddof=1) / np.sqrt(n_blocks)


def harmonic_width_ratio(wavenumber_cm: float, temperature: float, beads: int | None) -> float:
    """σ_P / σ_classical of a harmonic oscillator of wavenumber ``wavenumber_cm`` (cm⁻¹) at
    ``temperature`` K with ``beads`` beads (None: the quantum limit sqrt((βħω/2) coth(βħω/2)))."""
    x = units.invcm * wavenumber_cm / (units.kB * temperature)  # βħω
    if beads is None:
        return float(np.sqrt(0.5 * x / np.tanh(0.5 * x)))
    k = np.arange(beads)
    return float(np.sqrt(np.sum(1.0 / (1.0 + (2.0 * beads / x * np.sin(np.pi * k / beads)) ** 2))))


def classical_wavenumber(sd: float, reduced_mass_amu: float, temperature: float) -> float:
    """The wavenumber (cm⁻¹) of the harmonic stretch of reduced mass μ (u) whose classical width
    at ``temperature`` K is ``sd`` Å: ω = sqrt(kT / (μ σ²))."""
    omega = np.sqrt(units.kB * temperature / (reduced_mass_amu * units._amu / units._e * 1e-20 * sd**2))  # rad/s
    return float(units._hbar * omega / units._e / units.invcm)


def analyse(positions: np.ndarray, numbers, reference, edges: np.ndarray, bonded_edges: np.ndarray,
            n_blocks: int, training: np.ndarray) -> dict:
    """Per bonded class: ⟨r⟩, σ and block errors, P(r) on ``bonded_edges``, and the fraction of
    samples outside the class's range of distances in the ``training`` positions [n, n_atoms, 3] Å;
    per pair type: P(r) on ``edges``; and the extremes over every sample (largest bonded and
    smallest non-bonded distance over the sum of covalent radii) of bead positions
    [n_frames, n_beads, n_atoms, 3] Å."""
    bonded, types = pair_classes(numbers, reference)
    out = {"classes": {}, "histograms": {}}
    for name, pairs in bonded.items():
        r = pair_distances(positions, pairs)
        seen = pair_distances(training, pairs)
        density, err = block_histogram(r, bonded_edges, n_blocks)
        out["classes"][name] = {"n_pairs": len(pairs), **block_moments(r, n_blocks), "density": density.tolist(),
                                "err": err.tolist(), "training_range": [float(seen.min()), float(seen.max())],
                                "outside_training": float(np.mean((r < seen.min()) | (r > seen.max())))}
    for name, pairs in types.items():
        density, err = block_histogram(pair_distances(positions, pairs), edges, n_blocks)
        out["histograms"][name] = {"density": density.tolist(), "err": err.tolist()}
    numbers = np.asarray(numbers)
    every = np.array([(i, j) for i in range(len(numbers)) for j in range(i + 1, len(numbers))])
    scaled = pair_distances(positions, every) / (covalent_radii[numbers[every[:, 0]]] + covalent_radii[numbers[every[:, 1]]])
    bonds = {tuple(p) for name, q in bonded.items() if "…" not in name for p in q.tolist()}
    is_bond = np.array([tuple(p) in bonds for p in every.tolist()])
    out["largest_bond_over_covalent"] = float(scaled[..., is_bond].max())
    out["closest_nonbonded_over_covalent"] = float(scaled[..., ~is_bond].min())
    return out


# --- the study --------------------------------------------------------------------------------

def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--temperature", type=float, default=300.0, help="K (default 300)")
    parser.add_argument("--beads", type=int, nargs="+", default=[1, 8, 16, 32], help="bead numbers (1: classical)")
    parser.add_argument("--steps", type=int, default=3000, help="MD steps per run, equilibration included")
    parser.add_argument("--equilibration", type=int, default=500, help="steps discarded at the start")
    parser.add_argument("--dt", type=float, default=0.5, help="time step, fs")
    parser.add_argument("--tau", type=float, default=100.0, help="PILE-L centroid thermostat time, fs")
    parser.add_argument("--stride", type=int, default=2, help="steps between the bead positions analysed")
    parser.add_argument("--blocks", type=int, default=10, help="blocks of the error estimates")
    parser.add_argument("--clients", type=int, default=2, help="`hybridpot serve-ipi` processes per run")
    parser.add_argument("--train-steps", type=int, default=600, help="training steps of the model")
    parser.add_argument("--data", default=None, help="rMD17 ethanol npz (default: the shared md17 folder)")
    parser.add_argument("--seed", type=int, default=31415)
    parser.add_argument("--out", default="results/ethanol_pimd")
    parser.add_argument("--report", action="store_true", help="only redo the table and plot of OUT/ethanol_rdf.json")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.report:
        results = json.loads((out / "ethanol_rdf.json").read_text())
    else:
        results = run_study(args, out)
    print(markdown_tables(results))
    plot(results, out / "ethanol_rdf.png")
    print(f"\nwrote {out / 'ethanol_rdf.json'} and {out / 'ethanol_rdf.png'}")


def run_study(args, out: Path) -> dict:
    """Train (once), check and serve the model; run every bead number; write OUT/ethanol_rdf.json."""
    from hybridpot.io.md17 import load_md17, shared_md17_path

    start_time = time.perf_counter()
    data = Path(args.data) if args.data else shared_md17_path("ethanol")
    model = train_model(out, data, args.train_steps)
    errors = test_errors(model, data)
    print(f"model {model}: test energy MAE {errors['energy_mae_meV']:.1f} meV, force MAE "
          f"{errors['forces_mae_meV_per_A']:.1f} meV/Å on {errors['n_test']} frames; "
          f"{errors['ms_per_call']:.2f} ms per call", flush=True)
    frames = load_md17(data, units="eV")
    numbers, reference = frames.numbers, frames.positions[N_TRAIN + N_VALID]
    training = frames.positions[:N_TRAIN]
    start = Atoms(numbers=numbers, positions=reference - reference.mean(axis=0) + 10.0, cell=[20.0] * 3)
    start.write(out / "start.extxyz")
    stability = nve_check(model, out / "start.extxyz", out / "nve_check", 2000, args.temperature)
    print(f"NVE check: {stability}", flush=True)
    edges = np.round(np.arange(0.7, 4.2 + 1e-9, 0.02), 10)
    bonded_edges = np.round(np.arange(0.8, 2.2 + 1e-9, 0.005), 10)
    results = {"model": {"file": str(model), **errors, "nve_check": stability},
               "settings": {k: getattr(args, k) for k in ("temperature", "steps", "equilibration", "dt", "tau",
                                                          "stride", "blocks", "clients", "train_steps", "seed")},
               "numbers": numbers.tolist(), "edges": edges.tolist(), "bonded_edges": bonded_edges.tolist(), "runs": []}
    for beads in args.beads:
        folder = out / f"T{args.temperature:g}_P{beads}"
        timing = run_ipi(model, start, folder, temperature=args.temperature, beads=beads, steps=args.steps,
                         dt=args.dt, tau=args.tau, stride=args.stride, seed=args.seed, clients=args.clients)
        positions = read_bead_positions(folder, len(numbers))[args.equilibration // args.stride + 1:]
        props = np.loadtxt(folder / "sim.out", ndmin=2)[args.equilibration // args.stride + 1:]
        run = {"beads": beads, "frames": len(positions), **timing,
               "temperature_K": float(props[:, 1].mean()), "kinetic_cv_eV": float(props[:, 2].mean()),
               **analyse(positions, numbers, reference, edges, bonded_edges, args.blocks, training)}
        results["runs"].append(run)
        ch = run["classes"]["C–H"]
        print(f"P = {beads:3d}: C–H <r> = {ch['mean']:.4f} ± {ch['mean_err']:.4f} Å, sigma = {ch['sd']:.4f} ± "
              f"{ch['sd_err']:.4f} Å; largest bond / covalent {run['largest_bond_over_covalent']:.2f}, closest "
              f"non-bonded / covalent {run['closest_nonbonded_over_covalent']:.2f} ({timing['seconds']:.0f} s)",
              flush=True)
    results["seconds"] = time.perf_counter() - start_time
    (out / "ethanol_rdf.json").write_text(json.dumps(results, indent=1))
    return results


def reduced_mass(name: str) -> float | None:
    """μ (u) of a bonded class "A–B" (None for the H…H class: no single stretch)."""
    if "–" not in name:
        return None
    a, b = (atomic_masses[chemical_symbols.index(s)] for s in name.split(" ")[0].split("–"))
    return float(a * b / (a + b))


def markdown_tables(results: dict) -> str:
    """The per-class table (⟨r⟩, σ and σ/σ_classical with the harmonic expectation) and the
    harmonic estimate per class, as markdown."""
    s = results["settings"]
    temperature = s["temperature"]
    runs = sorted(results["runs"], key=lambda r: r["beads"])
    classical = next((r for r in runs if r["beads"] == 1), None)
    m = results["model"]
    lines = [f"Model: test force MAE {m['forces_mae_meV_per_A']:.1f} meV/Å, energy MAE {m['energy_mae_meV']:.1f} meV "
             f"({m['n_test']} frames), {m['ms_per_call']:.2f} ms per call. NVE check: {m['nve_check']}", "",
             f"T = {temperature:g} K, {s['steps']} steps of {s['dt']:g} fs per run (first {s['equilibration']} "
             f"discarded), bead positions every {s['stride']} steps, errors 1σ from {s['blocks']} blocks.", "",
             "| run | frames | T (K) | ⟨K⟩ centroid virial (eV) | largest bond / r_cov | closest non-bonded / r_cov | wall time (s) |",
             "|---|---|---|---|---|---|---|"]
    for r in runs:
        lines.append(f"| {'classical' if r['beads'] == 1 else str(r['beads']) + ' beads'} | {r['frames']} | "
                     f"{r['temperature_K']:.0f} | {r['kinetic_cv_eV']:.3f} | {r['largest_bond_over_covalent']:.2f} | "
                     f"{r['closest_nonbonded_over_covalent']:.2f} | {r['seconds']:.0f} |")
    lines += ["", "| pairs | beads | ⟨r⟩ (Å) | σ (Å) | σ / σ_classical | harmonic σ_P / σ_classical | outside training range |",
              "|---|---|---|---|---|---|---|"]
    for name in runs[0]["classes"]:
        mu = reduced_mass(name)
        for r in runs:
            c = r["classes"][name]
            ratio = harmonic = "—"
            if classical is not None and r is not classical:
                c0 = classical["classes"][name]
                q = c["sd"] / c0["sd"]
                ratio = f"{q:.2f} ± {q * np.hypot(c['sd_err'] / c['sd'], c0['sd_err'] / c0['sd']):.2f}"
                if mu is not None:
                    wn = classical_wavenumber(c0["sd"], mu, temperature)
                    harmonic = f"{harmonic_width_ratio(wn, temperature, r['beads']):.2f}"
            lines.append(f"| {name} ({c['n_pairs']}) | {r['beads']} | {c['mean']:.4f} ± {c['mean_err']:.4f} | "
                         f"{c['sd']:.4f} ± {c['sd_err']:.4f} | {ratio} | {harmonic} | {100 * c['outside_training']:.2f} % |")
    if classical is not None:
        lines += ["", "| pairs | μ (u) | ω from σ_classical (cm⁻¹) | harmonic σ_∞ / σ_classical |", "|---|---|---|---|"]
        for name, c0 in classical["classes"].items():
            mu = reduced_mass(name)
            if mu is not None:
                wn = classical_wavenumber(c0["sd"], mu, temperature)
                lines.append(f"| {name} | {mu:.3f} | {wn:.0f} | {harmonic_width_ratio(wn, temperature, None):.2f} |")
    return "\n".join(lines)


def plot(results: dict, path: Path) -> None:
    """Top: P(r) of each bonded class; bottom: P(r) of every pair type with more than one pair, and
    σ_P / σ_classical of the bonded classes against P with the harmonic expectation; classical
    against every bead number, with 1σ bands."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = sorted(results["runs"], key=lambda r: r["beads"])
    temperature = results["settings"]["temperature"]
    classes = list(runs[0]["classes"])
    types = [name for name in runs[0]["histograms"] if name != "C–C"]  # C–C: the one bond, drawn on top
    columns = max(len(classes), len(types) + 1)
    fig, axes = plt.subplots(2, columns, figsize=(3.1 * columns, 6.4))

    def draw(ax, edges, histograms, title):
        """One panel: the histograms ({"density", "err"}) of the runs, in the order of ``runs``."""
        centres = 0.5 * (np.asarray(edges)[1:] + np.asarray(edges)[:-1])
        for i, (r, h) in enumerate(zip(runs, histograms)):
            density, err = np.asarray(h["density"]), np.asarray(h["err"])
            color = "k" if r["beads"] == 1 else f"C{i}"
            label = "classical" if r["beads"] == 1 else f"PIMD {r['beads']} beads"
            ax.plot(centres, density, color=color, lw=1.0, label=label)
            ax.fill_between(centres, density - err, density + err, color=color, alpha=0.25, lw=0)
        ax.set(xlabel="r (Å)", title=title)

    for ax, name in zip(axes[0], classes):
        draw(ax, results["bonded_edges"], [r["classes"][name] for r in runs],
             f"{name}, bonded" if "…" not in name else name)
        c = runs[-1]["classes"][name]
        ax.set_xlim(c["mean"] - 5 * c["sd"], c["mean"] + 5 * c["sd"])
    axes[0, 0].set_ylabel("P(r) (1/Å), per pair")
    axes[0, 0].legend(fontsize=7)
    for ax, name in zip(axes[1], types):
        draw(ax, results["edges"], [r["histograms"][name] for r in runs], f"all {name} pairs")
    axes[1, 0].set_ylabel("P(r) (1/Å), per pair")
    ax = axes[1, len(types)]
    classical = runs[0] if runs[0]["beads"] == 1 else None
    if classical is not None:
        beads = np.array([r["beads"] for r in runs])
        grid = np.unique(np.geomspace(1, max(beads.max(), 2), 50).round().astype(int))
        for i, name in enumerate(n for n in classes if reduced_mass(n) is not None):
            c0 = classical["classes"][name]
            ratio = [r["classes"][name]["sd"] / c0["sd"] for r in runs]
            err = [q * np.hypot(r["classes"][name]["sd_err"] / r["classes"][name]["sd"], c0["sd_err"] / c0["sd"])
                   for q, r in zip(ratio, runs)]
            ax.errorbar(beads, ratio, yerr=err, fmt="o", ms=4, color=f"C{i}", label=name)
            wn = classical_wavenumber(c0["sd"], reduced_mass(name), temperature)
            ax.plot(grid, [harmonic_width_ratio(wn, temperature, int(p)) for p in grid], color=f"C{i}", ls="--", lw=0.8)
        ax.set(xscale="log", xlabel="beads P", ylabel="σ_P / σ_classical", title="widths (dashed: harmonic)")
        ax.set_xticks(beads, [str(p) for p in beads], minor=False)
        ax.minorticks_off()
        ax.legend(fontsize=7)
    for extra in axes[1, len(types) + 1:]:
        extra.axis("off")
    fig.suptitle(f"ethanol at {temperature:g} K: classical MD and PIMD (i-PI, PILE-L)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    main()
