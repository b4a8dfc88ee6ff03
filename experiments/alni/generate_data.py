"""Al–Ni configurations labelled by ASE's EMT calculator: the oracle of the Al–Ni study (issue 6).

Phases: fcc Al, fcc Ni, B2 NiAl, L1₂ Ni₃Al (32-atom cells, lattice constants relaxed with EMT) and
32-atom liquids Ni_x Al_(1−x), x ∈ {0, 0.25, 0.5, 0.75, 1}. Sampling:

* ``md``: Langevin MD (ASE, 2 fs, friction 0.02/fs) of each crystal at 300, 600, 900 K;
* ``liquid``: each liquid melted at 3000 K, then equilibrated and sampled at 1300, 1650, 2000 K;
* ``normal_modes``: random displacements along the EMT normal modes of each relaxed crystal, each
  mode with its harmonic amplitude at a random temperature in 100–1200 K;
* ``strain``: random symmetric strains (|ε| ≤ 4 %) of each crystal, rattled by 0.05 Å.

Energies (eV), forces (eV/Å) and stress (eV/Å³) are written with ASE as extxyz; every frame has
``config_type`` and ``temperature_K`` in its info, the first also the provenance (command, seed,
ASE version). Default: the shipped file ``hybridpot/data/alni_emt.extxyz``::

    python experiments/alni/generate_data.py --seed 0 --out hybridpot/data/alni_emt.extxyz
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import ase
import numpy as np
from ase import units
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.calculators.singlepoint import SinglePointCalculator
from ase.io import write
from ase.md.langevin import Langevin
from ase.md.velocitydistribution import MaxwellBoltzmannDistribution, Stationary

CRYSTAL_T = (300.0, 600.0, 900.0)
LIQUID_T = (1300.0, 1650.0, 2000.0)
LIQUID_X_NI = (0.0, 0.25, 0.5, 0.75, 1.0)


def crystal(name: str, a: float):
    """A 32-atom cell of ``name`` with lattice constant ``a`` (Å)."""
    if name == "fcc_Al":
        return bulk("Al", "fcc", a=a, cubic=True).repeat((2, 2, 2))
    if name == "fcc_Ni":
        return bulk("Ni", "fcc", a=a, cubic=True).repeat((2, 2, 2))
    if name == "B2_NiAl":
        return bulk("NiAl", "cesiumchloride", a=a).repeat((2, 2, 4))
    if name == "L12_Ni3Al":
        atoms = bulk("Ni", "fcc", a=a, cubic=True)
        atoms.numbers[0] = 13  # corner site → Al: L1₂
        return atoms.repeat((2, 2, 2))
    raise ValueError(name)


def relaxed_lattice_constant(name: str, guess: float) -> float:
    """EMT minimum of E(a) by a parabola through a fine scan (cubic cells, no internal freedom)."""
    grid = guess * np.linspace(0.92, 1.12, 41)
    energies = []
    for a in grid:
        atoms = crystal(name, a)
        atoms.calc = EMT()
        energies.append(atoms.get_potential_energy())
    k = int(np.argmin(energies))
    k = min(max(k, 1), len(grid) - 2)
    c = np.polyfit(grid[k - 1 : k + 2], energies[k - 1 : k + 2], 2)
    return float(-c[1] / (2 * c[0]))


def labelled(atoms, config_type: str, temperature: float):
    """A copy of ``atoms`` with EMT energy, forces, stress stored (SinglePointCalculator)."""
    atoms = atoms.copy()
    atoms.calc = EMT()
    e, f, s = atoms.get_potential_energy(), atoms.get_forces(), atoms.get_stress()
    atoms.calc = SinglePointCalculator(atoms, energy=e, forces=f, stress=s)
    atoms.info.update({"config_type": config_type, "temperature_K": float(temperature)})
    return atoms


def md_samples(atoms, temperature, n_samples, every, equilibrate, rng, config_type, melt_at=None):
    """Langevin MD snapshots (EMT) every ``every`` steps after ``equilibrate`` steps."""
    atoms = atoms.copy()
    atoms.calc = EMT()
    seed = int(rng.integers(2**31))
    if melt_at is not None:
        MaxwellBoltzmannDistribution(atoms, temperature_K=melt_at, rng=np.random.default_rng(seed))  # noqa
        Langevin(atoms, 2 * units.fs, temperature_K=melt_at, friction=0.05 / units.fs,
                 rng=np.random.default_rng(seed + 1)).run(400)
    else:
        MaxwellBoltzmannDistribution(atoms, temperature_K=temperature, rng=np.random.default_rng(seed))
    Stationary(atoms)
    dyn = Langevin(atoms, 2 * units.fs, temperature_K=temperature, friction=0.02 / units.fs,
                   rng=np.random.default_rng(seed + 2))
    dyn.run(equilibrate)
    out = []
    for _ in range(n_samples):
        dyn.run(every)
        out.append(labelled(atoms, config_type, temperature))
    return out


def normal_modes(atoms, delta=0.01):
    """Mass-weighted EMT Hessian eigenpairs (ω² in eV/(Å² amu), modes [3N, 3N]) by central differences."""
    atoms = atoms.copy()
    atoms.calc = EMT()
    pos0 = atoms.get_positions()
    n = len(atoms)
    hessian = np.zeros((3 * n, 3 * n))
    for k in range(3 * n):
        i, x = divmod(k, 3)
        forces = []
        for sign in (1, -1):
            p = pos0.copy()
            p[i, x] += sign * delta
            atoms.set_positions(p)
            forces.append(atoms.get_forces().ravel())
        hessian[k] = -(forces[0] - forces[1]) / (2 * delta)
    hessian = 0.5 * (hessian + hessian.T)
    m = np.repeat(atoms.get_masses(), 3)
    w2, modes = np.linalg.eigh(hessian / np.sqrt(np.outer(m, m)))
    return w2, modes, m


def normal_mode_samples(atoms, n_samples, rng):
    """Displacements Σ_k c_k e_k/√m with c_k ~ N(0, kT/ω_k²) at a random T per sample (ω² > 0 modes)."""
    w2, modes, m = normal_modes(atoms)
    ok = w2 > 1e-3  # skip the three translations
    out = []
    for _ in range(n_samples):
        t = float(rng.uniform(100.0, 1200.0))
        c = rng.normal(size=ok.sum()) * np.sqrt(units.kB * t / w2[ok])
        disp = (modes[:, ok] @ c) / np.sqrt(m)
        new = atoms.copy()
        new.positions += disp.reshape(-1, 3)
        out.append(labelled(new, "normal_modes", t))
    return out


def strain_samples(atoms, n_samples, rng, max_strain=0.04, rattle=0.05):
    """Random symmetric strains (components uniform in ±max_strain) plus a Gaussian rattle (Å)."""
    out = []
    for _ in range(n_samples):
        e = rng.uniform(-max_strain, max_strain, size=(3, 3))
        e = 0.5 * (e + e.T)
        new = atoms.copy()
        new.set_cell(atoms.cell[:] @ (np.eye(3) + e), scale_atoms=True)
        new.positions += rng.normal(scale=rattle, size=new.positions.shape)
        out.append(labelled(new, "strain", 0.0))
    return out


def liquid_start(x_ni: float, rng, n_atoms: int = 32):
    """A 32-atom fcc cell with a random Ni_x Al_(1−x) occupation, volume by Vegard's law of the EMT
    fcc volumes, +8 % for the liquid."""
    a_al, a_ni = 4.05, 3.52
    a = ((1 - x_ni) * a_al**3 + x_ni * a_ni**3) ** (1 / 3) * 1.08 ** (1 / 3)
    atoms = bulk("Al", "fcc", a=a, cubic=True).repeat((2, 2, 2))
    n_ni = int(round(x_ni * n_atoms))
    numbers = np.array([28] * n_ni + [13] * (n_atoms - n_ni))
    atoms.numbers = rng.permutation(numbers)
    return atoms


def generate(seed: int = 0, n_md: int = 10, n_liquid: int = 8, n_modes: int = 10, n_strain: int = 15, log=print):
    """All configurations, labelled; returns a list of ASE ``Atoms``."""
    rng = np.random.default_rng(seed)
    guesses = {"fcc_Al": 4.05, "fcc_Ni": 3.52, "B2_NiAl": 2.88, "L12_Ni3Al": 3.57}
    images = []
    for name, guess in guesses.items():
        a = relaxed_lattice_constant(name, guess)
        atoms = crystal(name, a)
        log(f"{name}: EMT lattice constant {a:.4f} Å")
        for t in CRYSTAL_T:
            images += md_samples(atoms, t, n_md, 40, 200, rng, f"md_{name}", None)
        images += normal_mode_samples(atoms, n_modes, rng)
        images += strain_samples(atoms, n_strain, rng)
    for x in LIQUID_X_NI:
        for t in LIQUID_T:
            images += md_samples(liquid_start(x, rng), t, n_liquid, 40, 300, rng, f"liquid_x{x:.2f}", melt_at=3000.0)
        log(f"liquid x_Ni={x}: done")
    return images


def main(argv=None):
    """Command line: ``--seed``, ``--out``; writes the extxyz file and a provenance JSON next to it."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=os.path.join("hybridpot", "data", "alni_emt.extxyz"))
    args = parser.parse_args(argv)
    t0 = time.time()
    images = generate(args.seed)
    provenance = {
        "generator": "python experiments/alni/generate_data.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "seed": args.seed,
        "ase_version": ase.__version__,
        "numpy_version": np.__version__,
        "oracle": "ase.calculators.emt.EMT (default parameters)",
        "n_structures": len(images),
    }
    images[0].info.update({k: v for k, v in provenance.items() if k != "n_structures"})
    write(args.out, images, format="extxyz")
    with open(os.path.splitext(args.out)[0] + "_provenance.json", "w") as f:
        json.dump(provenance, f, indent=1)
    kinds = {}
    for atoms in images:
        kinds[atoms.info["config_type"]] = kinds.get(atoms.info["config_type"], 0) + 1
    print(json.dumps(kinds, indent=1))
    print(f"wrote {len(images)} structures to {args.out} ({os.path.getsize(args.out) / 1e6:.2f} MB) "
          f"in {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
