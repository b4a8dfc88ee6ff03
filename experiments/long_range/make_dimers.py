"""An ion pair NH₄⁺ + BF₄⁻ pulled apart to 20 Å, labelled by GFN2-xTB (tblite): the quantum-chemical data set
of the long-range study (issue 21).

Both ions are closed-shell and stay ions at any separation (the electron binding energy of BF₄⁻,
about 7 eV, exceeds the electron affinity of NH₄⁺, about 4.7 eV), so beyond contact the pair
attracts as ≈ −k_e/d. Each ion is relaxed alone with GFN2-xTB at its charge, then frames are rigid
pairs: random orientations, centroids ``d`` Å apart along a random direction, d uniform in
[``--d-min``, ``--d-max``] (frames with two atoms closer than 1.6 Å are redrawn), labelled by
GFN2-xTB (tblite 0.8, ASE calculator, total charge 0, energies eV and forces eV/Å). Also a binding
curve (one fixed orientation scanned in d, ``config_type=curve``)::

    python experiments/long_range/make_dimers.py --n 400 --out experiments/long_range/nh4_bf4_gfn2xtb.extxyz.gz
"""

from __future__ import annotations

import argparse
import json
import sys

import ase
import numpy as np
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator
from ase.io import write
from ase.optimize import BFGS
from scipy.spatial.transform import Rotation

MIN_DISTANCE = 1.6
_TETRAHEDRON = np.array([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]]) / np.sqrt(3.0)


def xtb(charge: int):
    """A GFN2-xTB calculator (tblite) for a structure of total charge ``charge`` (e)."""
    from tblite.ase import TBLite

    return TBLite(method="GFN2-xTB", charge=charge, verbosity=0)


def relaxed_ion(centre: str, ligand: str, bond: float, charge: int) -> Atoms:
    """A tetrahedral XY₄ ion relaxed with GFN2-xTB at ``charge``, centred on its centroid."""
    atoms = Atoms(centre + ligand * 4, positions=np.vstack([np.zeros(3), bond * _TETRAHEDRON]))
    atoms.calc = xtb(charge)
    BFGS(atoms, logfile=None).run(fmax=1e-3)
    atoms.positions -= atoms.positions.mean(axis=0)
    atoms.calc = None
    return atoms


def pair(cation: Atoms, anion: Atoms, d: float, rotations, direction) -> Atoms | None:
    """The rotated ions with centroids ``d`` Å apart along ``direction``; None if two atoms clash."""
    a, b = cation.copy(), anion.copy()
    a.positions = a.positions @ rotations[0].T
    b.positions = b.positions @ rotations[1].T + d * np.asarray(direction) / np.linalg.norm(direction)
    atoms = a + b
    dist = np.linalg.norm(atoms.positions[: len(a), None] - atoms.positions[None, len(a):], axis=-1)
    return None if dist.min() < MIN_DISTANCE else atoms


def labelled(atoms: Atoms, config_type: str, d: float) -> Atoms:
    """``atoms`` with GFN2-xTB energy and forces (total charge 0) and its separation ``d`` (Å)."""
    atoms.calc = xtb(0)
    e, f = atoms.get_potential_energy(), atoms.get_forces()
    atoms.calc = SinglePointCalculator(atoms, energy=e, forces=f)
    atoms.info.update({"config_type": config_type, "separation": float(d), "charge": 0})
    return atoms


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=400, help="random frames")
    parser.add_argument("--d-min", type=float, default=3.5)
    parser.add_argument("--d-max", type=float, default=20.0)
    parser.add_argument("--curve-step", type=float, default=0.25)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="experiments/long_range/nh4_bf4_gfn2xtb.extxyz.gz")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    cation, anion = relaxed_ion("N", "H", 1.03, +1), relaxed_ion("B", "F", 1.40, -1)
    frames = []
    while len(frames) < args.n:
        d = rng.uniform(args.d_min, args.d_max)
        rot = [Rotation.random(random_state=rng).as_matrix() for _ in range(2)]
        atoms = pair(cation, anion, d, rot, rng.normal(size=3))
        if atoms is not None:
            frames.append(labelled(atoms, "random", d))
    rot = [Rotation.random(random_state=rng).as_matrix() for _ in range(2)]
    for d in np.arange(args.d_min, args.d_max + 1e-9, args.curve_step):
        atoms = pair(cation, anion, float(d), rot, [1.0, 0.0, 0.0])
        if atoms is not None:
            frames.append(labelled(atoms, "curve", float(d)))
    write(args.out, frames, format="extxyz")
    from importlib.metadata import version

    provenance = {
        "generator": "python experiments/long_range/make_dimers.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "arguments": vars(args),
        "oracle": "GFN2-xTB (tblite ASE calculator), total charge 0; ions relaxed alone at charge +1 / -1 (BFGS, "
                  "fmax 1e-3 eV/A)",
        "n_random": args.n,
        "n_curve": len(frames) - args.n,
        "tblite_version": version("tblite"),
        "ase_version": ase.__version__,
        "numpy_version": np.__version__,
    }
    with open(args.out.removesuffix(".gz").removesuffix(".extxyz") + "_provenance.json", "w") as fh:
        json.dump(provenance, fh, indent=1)
    print(f"wrote {len(frames)} frames to {args.out}")


if __name__ == "__main__":
    main()
