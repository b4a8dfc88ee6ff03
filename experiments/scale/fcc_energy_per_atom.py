"""Where the size drift of float32 crystal energies comes from: per-atom energies or their sum.

Perfect fcc Al (``ase.build.bulk("Al", "fcc", a=4.05, cubic=True).repeat(n)``, 4 n³ atoms) under
the fixed Cleri–Rosato second-moment term (cutoff 5.5 Å, four neighbour shells). For each size:
the energy per atom E/N in float64 (x64 enabled, a separate process) and in float32, where the
float32 per-atom energies E_i are summed three ways: ``graph_sum`` (compensated, what every model
uses), ``jax.ops.segment_sum`` (the running float32 total it replaced), and on the host in float64
(``mean(E_i)``: the per-atom energies' own error). Spread: max − min of the E_i (all equal in
exact arithmetic).

Run: ``python experiments/scale/fcc_energy_per_atom.py [--reps 1 4 10 20 40]``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

import numpy as np

AL = dict(a=0.1221, p=8.612, xi=1.316, q=2.516, r0=2.8637)
CUTOFF = 5.5


def rows(reps, x64: bool) -> list[dict]:
    """One dict per size, in float64 (``x64``) or float32."""
    import jax

    jax.config.update("jax_enable_x64", x64)
    from ase.build import bulk

    from hybridpot.graph import graph_from_atoms
    from hybridpot.potential import graph_sum
    from hybridpot.potentials.physics_terms import embedded_atom_term

    dtype = np.float64 if x64 else np.float32
    term = embedded_atom_term([13], CUTOFF, **AL, trainable=True)
    out = []
    for n_rep in reps:
        atoms = bulk("Al", "fcc", a=4.05, cubic=True).repeat(n_rep)
        n = len(atoms)
        graph = graph_from_atoms(atoms, CUTOFF, dtype=dtype)
        params = term.init(jax.random.PRNGKey(0), graph)
        atomic = jax.jit(term.atomic_energy)(params, graph, None)
        assert atomic.dtype == dtype
        compensated = float(jax.jit(graph_sum)(atomic, graph)[0])
        running = float(jax.jit(lambda e: jax.ops.segment_sum(e, jax.numpy.zeros(n, int), num_segments=1))(atomic)[0])
        e = np.asarray(atomic, np.float64)
        out.append({"n": n, "compensated": compensated / n, "segment_sum": running / n, "mean": float(e.mean()),
                    "spread": float(e.max() - e.min())})
        del graph, atomic
    return out


def main(argv=None):
    """Command line; prints the markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, nargs="+", default=[1, 4, 10, 20, 40])
    parser.add_argument("--x64", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.x64:
        print("ROWS " + json.dumps(rows(args.reps, True)))
        return
    proc = subprocess.run([sys.executable, __file__, "--x64", "--reps", *map(str, args.reps)],
                          capture_output=True, text=True, check=True)
    exact = json.loads([x for x in proc.stdout.splitlines() if x.startswith("ROWS ")][0][5:])
    single = rows(args.reps, False)
    ref = single[0]["compensated"]
    print("| atoms | E/N float64 (eV) | E/N float32, graph_sum | − float64 | − 4 atoms | E/N float32, segment_sum | "
          "− float64 | mean(E_i) float32 − float64 | spread of E_i float32 |")
    print("|---|---|---|---|---|---|---|---|---|")
    for d, s in zip(exact, single):
        print(f"| {s['n']} | {d['compensated']:.9f} | {s['compensated']:.9f} | {s['compensated'] - d['compensated']:+.1e} | "
              f"{s['compensated'] - ref:+.1e} | {s['segment_sum']:.9f} | {s['segment_sum'] - d['compensated']:+.1e} | "
              f"{s['mean'] - d['mean']:+.1e} | {s['spread']:.1e} |")


if __name__ == "__main__":
    main()
