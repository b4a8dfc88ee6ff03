"""Time per atom per MD step of the Behler–Parrinello potential (jax-md Langevin) against system size.

System: L1₂ Ni₃Al supercells (n³ × 4 atoms, EMT lattice constant 3.66 Å, 600 K), the Al–Ni BP
model of ``experiments/alni`` (cutoff 4 Å for G2 and G4, 52 features, 32-32 tanh networks;
the trained ``sm+bp`` hybrid if ``experiments/alni/alni_bp_params.npz`` exists, else the plain BP
network with random weights: the cost is the same), float32, Verlet list with a 0.4 Å skin
rebuilt on the host (see ``experiments/alni/md_glue.py``). Timed: ``--steps`` steps after
compilation and ``--steps`` warm-up steps, neighbour-list rebuilds included. The peer is one force call of ASE's EMT
calculator (the oracle) on the same structure (skipped above ``--emt-max`` atoms). Each size runs
in its own process, so running out of memory ends only that row.

Run: ``nice -n 15 python benchmarks/bp_md_scaling.py [--reps 6 8 12 18 29] [--steps 20]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ALNI = os.path.join(HERE, "..", "experiments", "alni")
sys.path.insert(0, ALNI)


def structure(n_rep: int, seed: int = 0):
    """Rattled L1₂ Ni₃Al, ``4 n_rep³`` atoms (ASE ``Atoms``)."""
    from ase.build import bulk

    atoms = bulk("Ni", "fcc", a=3.66, cubic=True)
    atoms.numbers[0] = 13
    atoms = atoms.repeat((n_rep,) * 3)
    atoms.positions += np.random.default_rng(seed).normal(scale=0.05, size=atoms.positions.shape)
    return atoms


def one(n_rep: int, steps: int, emt_max: int, triplet_chunk: int | None = None) -> dict:
    """Time one size (in this process); returns a JSON-able row."""
    import jax

    from common import CUTOFF, make_spec
    from md_glue import run_nvt

    atoms = structure(n_rep)
    n = len(atoms)
    params_file = os.path.join(ALNI, "alni_bp_params.npz")
    if os.path.exists(params_file):
        from md_jaxmd import load_potential

        energy_fn, label = load_potential("sm+bp", params_file, triplet_chunk=triplet_chunk), "sm+bp (trained)"
    else:
        from hybridpot.models import behler_parrinello, identity_scaling

        spec = make_spec()
        model = behler_parrinello(spec, identity_scaling(spec), triplet_chunk=triplet_chunk)
        params = model.init(jax.random.PRNGKey(0))
        energy_fn, label = (lambda g, t: model.energy(params, g, t)), "bp (random weights)"
    out = run_nvt(energy_fn, atoms.get_positions(), atoms.numbers, atoms.cell[:], atoms.get_masses(),
                  cutoff=CUTOFF, angular_cutoff=CUTOFF, temperature_K=600.0, n_steps=steps, skin=0.4,
                  segment=10, record_every=steps, warmup=steps)
    row = {"n_atoms": n, "model": label, "triplet_chunk": triplet_chunk, "ms_per_step": 1e3 * out["seconds"] / steps,
           "us_per_atom_step": 1e6 * out["seconds"] / steps / n, "n_builds": out["n_builds"],
           "edges_per_atom": out["capacity"][0] / n, "triplets_per_atom": out["capacity"][1] / n}
    if n <= emt_max:
        from ase.calculators.emt import EMT

        atoms.calc = EMT()
        t0 = time.perf_counter()
        atoms.get_forces()
        row["emt_us_per_atom_call"] = 1e6 * (time.perf_counter() - t0) / n
    return row


def main(argv=None):
    """Command line; prints the markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, nargs="+", default=[6, 8, 12, 18, 29])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--emt-max", type=int, default=30000)
    parser.add_argument("--triplet-chunk", type=int, default=None,
                        help="angular terms this many triplets at a time (bounds memory; default: all at once)")
    parser.add_argument("--one", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one is not None:
        print("ROW " + json.dumps(one(args.one, args.steps, args.emt_max, args.triplet_chunk)), flush=True)
        return
    import jax

    rows = []
    for n_rep in args.reps:
        cmd = [sys.executable, os.path.abspath(__file__), "--one", str(n_rep), "--steps", str(args.steps),
               "--emt-max", str(args.emt_max)]
        if args.triplet_chunk is not None:
            cmd += ["--triplet-chunk", str(args.triplet_chunk)]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        line = [x for x in proc.stdout.splitlines() if x.startswith("ROW ")]
        if proc.returncode != 0 or not line:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["?"]
            rows.append({"n_atoms": 4 * n_rep**3, "error": f"exit {proc.returncode}: {tail[0][:120]}"})
        else:
            rows.append(json.loads(line[0][4:]))
        print(rows[-1], flush=True)
    print(f"\ndevice: {jax.devices()[0].platform} ({platform.processor() or platform.machine()}), "
          f"{os.cpu_count()} CPU cores; jax {jax.__version__}; python {platform.python_version()}; "
          f"load average at the end {os.getloadavg()[0]:.1f}\n")
    print("| atoms | ms / MD step | µs / atom / step | edges / atom | triplets / atom | list builds | "
          "EMT (ASE) µs / atom / force call | BP / EMT |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        if "error" in r:
            print(f"| {r['n_atoms']} | failed: {r['error']} | | | | | | |")
            continue
        emt = r.get("emt_us_per_atom_call")
        ratio = f"{r['us_per_atom_step'] / emt:.2f}×" if emt else "–"
        print(f"| {r['n_atoms']} | {r['ms_per_step']:.1f} | {r['us_per_atom_step']:.2f} | {r['edges_per_atom']:.0f} | "
              f"{r['triplets_per_atom']:.0f} | {r['n_builds']} | {f'{emt:.2f}' if emt else '–'} | {ratio} |")


if __name__ == "__main__":
    main()
