"""Solidification of liquid NiAl with the trained Al–Ni hybrid (sm+bp) in LAMMPS, B2 order tracked.

B2 NiAl (``--atoms`` rounded to ``2 n³``, lattice 2.887 Å + 3 %) is melted at ``--t-melt`` (NPT,
Nosé–Hoover, zero pressure), then cooled linearly from ``--t-high`` to ``--t-low`` over
``--cool-ps``. Every ``--every-ps`` the script records the temperature, the potential energy per
atom, the volume per atom, the common-neighbour-analysis fractions of LAMMPS's ``compute
cna/atom`` (Faken–Jónsson CNA, cutoff 1.207 × the B2 lattice constant between the second and
third bcc shells: fcc, hcp, bcc, icosahedral, other) and the B2 chemical order of the bcc-labelled
atoms, ``η = 2 f_unlike − 1`` with ``f_unlike`` the fraction of unlike nearest neighbours
(``compute coord/atom`` per type, 2.75 Å): 1 in perfect B2, 0 in a random bcc alloy.
Crystallisation shows as a jump of the bcc fraction and a drop of the energy; B2 ordering as
η → 1.

The forces come from :class:`hybridpot.md.lammps.LammpsHybridpot` on every MPI rank, so the same
script runs on a laptop, a cluster or a GPU node; only ``--atoms`` changes::

    mpiexec -n 2 python experiments/alni/solidify.py --atoms 2000
    mpiexec -n 64 python experiments/alni/solidify.py --atoms 125000   # a cluster

Needs ``experiments/alni/alni_bp_params.npz`` (``train_bp.py --save-params``) and the ``lammps``
extra. Rank 0 prints one line per record and writes ``--out`` (JSON).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from md_jaxmd import trained_potential  # noqa: E402

from hybridpot.md.lammps import LammpsHybridpot, create_atoms, open_lammps  # noqa: E402

A_B2 = 2.887  # Å, NiAl B2 lattice constant (room temperature)
FIRST_SHELL = 2.75  # Å, between the B2 first (2.50 Å) and second (2.89 Å) shells


def b2_atoms(n_atoms: int, expansion: float = 1.03):
    """B2 NiAl (ASE ``Atoms``) with about ``n_atoms`` atoms (``2 n³``), lattice expanded by ``expansion``."""
    from ase.build import bulk

    n_rep = max(2, round((n_atoms / 2) ** (1 / 3)))
    return bulk("NiAl", "cesiumchloride", a=A_B2 * expansion).repeat((n_rep,) * 3)


def record(lmp) -> dict:
    """CNA fractions and B2 order of the current configuration (gathered on every rank)."""
    cna = np.asarray(lmp.gather("c_cna", 1, 1), float).ravel()
    coord = np.asarray(lmp.gather("c_coord", 1, 2), float).reshape(-1, 2)  # Al, Ni neighbours
    types = np.asarray(lmp.gather("type", 0, 1)).ravel()
    unlike = np.where(types == 1, coord[:, 1], coord[:, 0])
    bcc = cna == 3
    f_unlike = unlike[bcc].sum() / max(coord[bcc].sum(), 1.0)
    names = {"fcc": 1, "hcp": 2, "bcc": 3, "ico": 4, "other": 5}
    return {**{f"cna_{k}": float(np.mean(cna == v)) for k, v in names.items()},
            "b2_order_bcc": float(2 * f_unlike - 1) if bcc.any() else None}


def main(argv=None):
    """Command line (every MPI rank runs it)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--atoms", type=int, default=2000, help="about this many atoms (2 n³)")
    parser.add_argument("--t-melt", type=float, default=2200.0)
    parser.add_argument("--melt-ps", type=float, default=10.0)
    parser.add_argument("--t-high", type=float, default=1900.0)
    parser.add_argument("--t-low", type=float, default=900.0)
    parser.add_argument("--cool-ps", type=float, default=100.0)
    parser.add_argument("--every-ps", type=float, default=1.0)
    parser.add_argument("--dt-fs", type=float, default=2.0)
    parser.add_argument("--out", default=os.path.join("experiments", "alni", "results_solidify.json"))
    args = parser.parse_args(argv)
    atoms = b2_atoms(args.atoms)
    n = len(atoms)
    lmp = open_lammps()
    create_atoms(lmp, atoms, ["Al", "Ni"])
    rank0 = lmp.extract_setting("world_rank") == 0
    lmp.command(f"timestep {args.dt_fs / 1000}")
    # no forces: the neighbour list that compute cna/atom and coord/atom read
    lmp.commands_string(f"pair_style zero {1.207 * A_B2}\npair_coeff * *")
    fix = LammpsHybridpot(lmp, trained_potential(), skin=1.0, virial=True)
    lmp.commands_string(f"""
compute cna all cna/atom {1.207 * A_B2}
compute coord all coord/atom cutoff {FIRST_SHELL} 1 2
velocity all create {args.t_melt} 1 mom yes rot yes
thermo_style custom step temp pe vol press
""")
    every = max(1, round(args.every_ps * 1000 / args.dt_fs))
    rows, t0 = [], time.perf_counter()

    def stage(name, t_start, t_stop, ps):
        steps = round(ps * 1000 / args.dt_fs)
        lmp.command(f"fix md all npt temp {t_start} {t_stop} {100 * args.dt_fs / 1000} iso 0 0 {1000 * args.dt_fs / 1000}")
        for _ in range(max(1, steps // every)):
            lmp.command(f"run {every} post no")
            extra = record(lmp)
            if rank0:
                row = {"stage": name, "time_ps": lmp.get_thermo("step") * args.dt_fs / 1000,
                       "temperature_K": lmp.get_thermo("temp"), "epot_eV_atom": lmp.get_thermo("pe") / n,
                       "volume_A3_atom": lmp.get_thermo("vol") / n, "wall_s": time.perf_counter() - t0, **extra}
                rows.append(row)
                print(json.dumps(row), flush=True)
        lmp.command("unfix md")

    stage("melt", args.t_melt, args.t_melt, args.melt_ps)
    stage("cool", args.t_high, args.t_low, args.cool_ps)
    if rank0:
        result = {"argv": sys.argv, "n_atoms": n, "ranks": lmp.extract_setting("world_size"), "dt_fs": args.dt_fs,
                  "us_per_atom_step": 1e6 * (time.perf_counter() - t0) / n / (lmp.get_thermo("step") or 1),
                  "rank0_seconds_graph": fix.seconds_graph, "rank0_seconds_jax": fix.seconds_jax, "records": rows}
        with open(args.out, "w") as fh:
            json.dump(result, fh, indent=1)
    lmp.close()


if __name__ == "__main__":
    main()
