"""Peak host memory per atom of one energy-and-forces evaluation against system size, per model family.

System: L1₂ Ni₃Al supercells (n³ × 4 atoms, a = 3.66 Å, unrattled), float32, one graph. Models
(random weights: the memory is that of trained ones), all with a 4 Å cutoff (18 neighbours,
306 triplets per atom): the pair MLP (``pair_mlp_model``), Behler–Parrinello (the Al–Ni spec of
``experiments/alni``: 16 G2 + 36 G4, triplet chunking from the memory budget, the default),
DimeNet++ (published sizes) and the MACE-like equivariant model (32 channels, lmax 2, 2
interactions). Each (model, size) runs in its own process; its peak resident memory
(``ru_maxrss``) is measured after the graph (and triplet) build and after the jitted evaluation,
less the process's own after imports and ``init``. The evaluation is compiled with the engines'
memory check (``hybridpot.potential.memory_checked_jit``): a size whose program cannot fit in the
memory available is refused before it runs, and its row gives XLA's estimate of the need. At
small sizes that peak is mostly XLA's compilation, so the memory per atom is the marginal one,
(peak − previous size's peak) / (atoms − previous size's atoms): memory that scales keeps it flat.

A size whose memory, extrapolated linearly (at the marginal rate of the two sizes below it),
would exceed ``--max-gb`` is not run, and a run whose resident memory passes ``--max-gb`` is
killed; their rows say so, with the estimate. Host memory of the graph build counts
(neighbour list, triplets): it is the same process.

Run: ``nice -n 15 python benchmarks/memory_scaling.py [--reps 6 14 29 63] [--models pair bp dimenet++ mace]
[--max-gb 8]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time

import numpy as np

MODELS = ("pair", "bp", "dimenet++", "mace")
CUTOFF = 4.0
SPECIES = (13, 28)


def _peak_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _model(name: str):
    import jax.numpy as jnp

    from hybridpot.models import (
        behler_parrinello,
        dimenet_pp,
        identity_scaling,
        mace,
        pair_mlp_model,
        symmetry_function_spec,
    )

    if name == "pair":
        return pair_mlp_model(CUTOFF, SPECIES)
    if name == "bp":
        spec = symmetry_function_spec(SPECIES, CUTOFF, CUTOFF, num_radial=8, num_angular_eta=3, zetas=(1.0, 4.0))
        return behler_parrinello(spec, identity_scaling(spec), param_dtype=jnp.float32)
    if name == "dimenet++":
        return dimenet_pp(SPECIES, cutoff=CUTOFF)
    return mace(SPECIES, cutoff=CUTOFF)


def structure(n_rep: int):
    """L1₂ Ni₃Al, ``4 n_rep³`` atoms (ASE ``Atoms``)."""
    from ase.build import bulk

    atoms = bulk("Ni", "fcc", a=3.66, cubic=True)
    atoms.numbers[0] = 13
    return atoms.repeat((n_rep,) * 3)


def one(name: str, n_rep: int) -> dict:
    """Measure one (model, size) in this process; returns a JSON-able row."""
    import jax

    from hybridpot.graph import build_triplets, graph_from_atoms
    from hybridpot.potential import energy_and_forces, memory_checked_jit

    model = _model(name)
    small = graph_from_atoms(structure(1), model.cutoff, dtype=np.float32)
    params = model.init(jax.random.PRNGKey(0), small, build_triplets(small) if model.needs_triplets else None)
    base = _peak_bytes()
    atoms = structure(n_rep)
    n = len(atoms)
    t0 = time.perf_counter()
    graph = graph_from_atoms(atoms, model.cutoff, dtype=np.float32)
    triplets = build_triplets(graph) if model.needs_triplets else None
    build_s = time.perf_counter() - t0
    build_peak = _peak_bytes()
    # the engines' own check: a program that cannot fit is refused with XLA's estimate of its need
    # the triplets are an argument, not a constant closed over (which XLA would copy into the program)
    compute = memory_checked_jit(lambda p, g, t: energy_and_forces(lambda p, g: model.energy(p, g, t))(p, g),
                                 lambda p, g, t: f"{name} on {n:,} atoms")
    t0 = time.perf_counter()
    try:
        energy, forces = compute(params, graph, triplets)
    except MemoryError as err:
        return {"model": name, "n_atoms": n, "skipped": f"refused before running: {err}".split("; use")[0]}
    forces.block_until_ready()
    return {"model": name, "n_atoms": n, "edges_per_atom": int(graph.senders.shape[0]) / n,
            "triplets_per_atom": 0 if triplets is None else int(triplets.kj.shape[0]) / n,
            "build_kb_per_atom": (build_peak - base) / n / 1024, "peak_kb_per_atom": (_peak_bytes() - base) / n / 1024,
            "peak_gb": (_peak_bytes() - base) / 2**30, "build_s": build_s, "eval_s": time.perf_counter() - t0,
            "energy_per_atom": float(energy[0]) / n}


def _rss_gb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as f:
            return next(int(x.split()[1]) for x in f if x.startswith("VmRSS:")) / 2**20
    except (OSError, StopIteration):
        return 0.0


def _run_guarded(cmd, max_gb: float, timeout: float) -> dict | None:
    """Run one (model, size) child; kill it once its resident memory exceeds ``max_gb``. Returns its
    row, a ``{"skipped": why}`` row, or None."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    t0, peak = time.perf_counter(), 0.0
    while proc.poll() is None:
        peak = max(peak, _rss_gb(proc.pid))
        if peak > max_gb or time.perf_counter() - t0 > timeout:
            proc.kill()
            proc.communicate()
            why = f"over {max_gb:g} GB" if peak > max_gb else f"over {timeout:.0f} s"
            return {"skipped": f"does not fit: killed {why} after {time.perf_counter() - t0:.0f} s"}
        time.sleep(0.2)
    out, err = proc.communicate()
    line = [x for x in out.splitlines() if x.startswith("ROW ")]
    if proc.returncode != 0 or not line:
        tail = (err or out).strip().splitlines()[-1:] or ["?"]
        return {"skipped": f"failed (exit {proc.returncode}): {tail[0][:100]}"}
    return json.loads(line[0][4:])


def main(argv=None):
    """Command line; prints the markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, nargs="+", default=[6, 14, 29, 63])
    parser.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    parser.add_argument("--max-gb", type=float, default=8.0, help="skip sizes estimated to need more, kill runs that pass it (GB)")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds per (model, size)")
    parser.add_argument("--one", nargs=2, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one is not None:
        print("ROW " + json.dumps(one(args.one[0], int(args.one[1]))), flush=True)
        return
    import jax

    rows = []
    for name in args.models:
        last, too_big = None, None
        for n_rep in args.reps:
            n = 4 * n_rep**3
            estimate = None
            if too_big is not None:
                rows.append({"model": name, "n_atoms": n, "skipped": f"does not fit in {args.max_gb:g} GB "
                             f"({too_big} atoms did not)"})
                print(rows[-1], flush=True)
                continue
            if last is not None and "marginal_kb_per_atom" in last:
                estimate = last["peak_gb"] + last["marginal_kb_per_atom"] * 1024 / 2**30 * (n - last["n_atoms"])
                if estimate > args.max_gb:
                    rows.append({"model": name, "n_atoms": n, "skipped": f"does not fit in {args.max_gb:g} GB: "
                                 f"estimated {estimate:.1f} GB (linear from the two sizes below it)"})
                    print(rows[-1], flush=True)
                    continue
            cmd = [sys.executable, os.path.abspath(__file__), "--one", name, str(n_rep)]
            row = _run_guarded(cmd, args.max_gb, args.timeout)
            if row is None or "skipped" in row:
                rows.append({"model": name, "n_atoms": n, "skipped": (row or {}).get("skipped", "failed")
                             + (f"; linear estimate {estimate:.1f} GB" if estimate is not None else "")})
                too_big = n if "killed over" in rows[-1]["skipped"] and "GB" in rows[-1]["skipped"] else None
            else:
                rows.append(row)
                if last is not None:
                    rows[-1]["marginal_kb_per_atom"] = ((row["peak_gb"] - last["peak_gb"]) * 2**30 / 1024
                                                        / (n - last["n_atoms"]))
                last = rows[-1]
            print(rows[-1], flush=True)
    print(f"\ndevice: {jax.devices()[0].platform} ({platform.processor() or platform.machine()}), "
          f"{os.cpu_count()} CPU cores; jax {jax.__version__}; python {platform.python_version()}; "
          f"load average at the end {os.getloadavg()[0]:.1f}\n")
    print("| model | atoms | edges / atom | triplets / atom | peak after graph build GB | peak GB | "
          "marginal kB / atom | build s | compile + evaluation s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        if "skipped" in r:
            print(f"| {r['model']} | {r['n_atoms']} | {r['skipped']} | | | | | | |")
            continue
        marginal = f"{r['marginal_kb_per_atom']:.1f}" if "marginal_kb_per_atom" in r else "–"
        print(f"| {r['model']} | {r['n_atoms']} | {r['edges_per_atom']:.0f} | {r['triplets_per_atom']:.0f} | "
              f"{r['build_kb_per_atom'] * r['n_atoms'] / 2**20:.2f} | {r['peak_gb']:.2f} | {marginal} | "
              f"{r['build_s']:.1f} | {r['eval_s']:.1f} |")


if __name__ == "__main__":
    main()
