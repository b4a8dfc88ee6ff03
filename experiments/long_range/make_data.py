"""Oppositely charged NaCl fragments pulled apart, labelled by the Tosi–Fumi Born–Mayer–Huggins model.

The oracle of the long-range study (issue 21): rigid-ion NaCl with formal charges ±1 e, full Coulomb
(the direct sum of all pairs, :func:`hybridpot.physics.direct_coulomb_energy`: the structures are
clusters) and the Born–Mayer–Huggins short-range pair energy of Tosi & Fumi, J. Phys. Chem. Solids 25,
45 (1964):

    φ_ij(r) = P_ij b exp((σ_ij − r)/ρ) − C_ij / r⁶ − D_ij / r⁸,

b = 0.338e-19 J, ρ = 0.317 Å, σ = r_i + r_j (r_Na = 1.170 Å, r_Cl = 1.585 Å), Pauling factors P (++
1.25, +− 1.0, −− 0.75) and the dispersion C (1.68, 11.2, 116 × 10⁻⁶⁰ erg cm⁶) and D (0.8, 13.9, 233 ×
10⁻⁷⁶ erg cm⁸) of Mayer (1933) as tabulated there (the values of LAMMPS' ``examples/born``). The
exponential and r⁻⁶ parts are the library's :func:`hybridpot.physics.buckingham_energy` with
A = P b exp(σ/ρ); the r⁻⁸ part is added here. Forces are −∇E by ``jax.grad`` (float64).

Structures: a cation Na₄Cl₃⁺ and an anion Na₃Cl₄⁻ (a 2×2×2 rock-salt cube with edge 2.65 Å minus
one ion), each rattled (0.1 Å) and rotated at random, centroids ``d`` Å apart along a random
direction, d uniform in [``--d-min``, ``--d-max``] (frames with two ions closer than 2.3 Å are
redrawn). Total charge 0; the fragments carry ±1 e, so their interaction beyond the closest contact
is ≈ −k_e/d: invisible to a model with a 5 Å cutoff once the gap exceeds it. Also written: a
binding curve (one fixed pair of fragments scanned in d, ``config_type=curve``)::

    python experiments/long_range/make_data.py --out experiments/long_range/nacl_fragments.extxyz.gz
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import ase
import jax
import jax.numpy as jnp
import numpy as np
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator
from ase.io import write
from scipy.spatial.transform import Rotation

from hybridpot.physics import BuckinghamParams, buckingham_energy, direct_coulomb_energy

jax.config.update("jax_enable_x64", True)

#: 1e-60 erg cm⁶ and 1e-76 erg cm⁸ in eV Å⁶ and eV Å⁸; 1e-19 J in eV.
_C_UNIT = 1e-19 / 1.602176634e-19
_B = 0.338 * _C_UNIT
_RHO = 0.317
_RADIUS = {11: 1.170, 17: 1.585}
_PAULING = {(11, 11): 1.25, (11, 17): 1.0, (17, 17): 0.75}
_C = {(11, 11): 1.68, (11, 17): 11.2, (17, 17): 116.0}
_D = {(11, 11): 0.8, (11, 17): 13.9, (17, 17): 233.0}
_CHARGE = {11: 1.0, 17: -1.0}
EDGE = 2.65
MIN_DISTANCE = 2.3


def _pair_tables():
    """[2, 2] tables (index 0 = Na, 1 = Cl) of A (eV), C (eV Å⁶), D (eV Å⁸)."""
    a, c, d = (np.zeros((2, 2)) for _ in range(3))
    for (zi, zj), p in _PAULING.items():
        i, j = int(zi == 17), int(zj == 17)
        sigma = _RADIUS[zi] + _RADIUS[zj]
        for (t, v) in ((a, p * _B * np.exp(sigma / _RHO)), (c, _C[(zi, zj)] * _C_UNIT), (d, _D[(zi, zj)] * _C_UNIT)):
            t[i, j] = t[j, i] = v
    return a, c, d


_A, _C6, _D8 = _pair_tables()


def tosi_fumi_energy(positions, numbers):
    """E (eV) of a NaCl cluster: Coulomb of formal charges + Tosi–Fumi BMH over all pairs."""
    numbers = np.asarray(numbers)
    s = (numbers == 17).astype(int)
    q = jnp.asarray([_CHARGE[int(z)] for z in numbers])
    i, j = np.triu_indices(len(numbers), 1)
    r = jnp.linalg.norm(positions[i] - positions[j], axis=-1)
    params = BuckinghamParams(jnp.asarray(_A[s[i], s[j]]), _RHO, jnp.asarray(_C6[s[i], s[j]]))
    short = jnp.sum(buckingham_energy(r, params) - jnp.asarray(_D8[s[i], s[j]]) / r**8)
    return short + direct_coulomb_energy(positions, q)


_energy_and_grad = jax.jit(jax.value_and_grad(tosi_fumi_energy), static_argnums=1)


def labelled(atoms: Atoms, config_type: str, d: float) -> Atoms:
    """``atoms`` with the oracle's energy and forces stored, and its fragment separation ``d`` (Å)."""
    e, g = _energy_and_grad(jnp.asarray(atoms.positions), tuple(int(z) for z in atoms.numbers))
    atoms.calc = SinglePointCalculator(atoms, energy=float(e), forces=-np.asarray(g))
    atoms.info.update({"config_type": config_type, "separation": float(d), "charge": 0})
    return atoms


def fragment(kind: str, rng, rattle: float = 0.1) -> Atoms:
    """Na₄Cl₃⁺ (``"cation"``) or Na₃Cl₄⁻ (``"anion"``), centred, rattled and randomly rotated."""
    corners = np.array([[x, y, z] for x in (0, 1) for y in (0, 1) for z in (0, 1)], float) * EDGE
    numbers = np.array([11 if (x + y + z) % 2 == 0 else 17 for x in (0, 1) for y in (0, 1) for z in (0, 1)])
    drop = int(np.flatnonzero(numbers == (17 if kind == "cation" else 11))[rng.integers(4)])
    keep = np.arange(8) != drop
    pos = corners[keep] + rng.normal(0.0, rattle, (7, 3))
    pos = (pos - pos.mean(axis=0)) @ Rotation.random(random_state=rng).as_matrix().T
    return Atoms(numbers=numbers[keep], positions=pos)


def pair(cation: Atoms, anion: Atoms, d: float, direction) -> Atoms | None:
    """The two fragments with centroids ``d`` Å apart along ``direction``; None if two ions clash."""
    other = anion.copy()
    other.positions += d * np.asarray(direction) / np.linalg.norm(direction)
    atoms = cation + other
    dist = np.linalg.norm(atoms.positions[:7, None] - atoms.positions[None, 7:], axis=-1)
    return None if dist.min() < MIN_DISTANCE else atoms


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=500, help="random frames")
    parser.add_argument("--d-min", type=float, default=5.5)
    parser.add_argument("--d-max", type=float, default=20.0)
    parser.add_argument("--curve-step", type=float, default=0.25)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="experiments/long_range/nacl_fragments.extxyz.gz")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    frames = []
    while len(frames) < args.n:
        d = rng.uniform(args.d_min, args.d_max)
        atoms = pair(fragment("cation", rng), fragment("anion", rng), d, rng.normal(size=3))
        if atoms is not None:
            frames.append(labelled(atoms, "random", d))
    # the binding curve: one fixed pair (no rattle), the anion moved along +x
    cation, anion = fragment("cation", rng, 0.0), fragment("anion", rng, 0.0)
    for d in np.arange(args.d_min, args.d_max + 1e-9, args.curve_step):
        atoms = pair(cation, anion, float(d), [1.0, 0.0, 0.0])
        if atoms is not None:
            frames.append(labelled(atoms, "curve", float(d)))
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    write(args.out, frames, format="extxyz")
    provenance = {
        "generator": "python experiments/long_range/make_data.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "arguments": vars(args),
        "oracle": "Tosi-Fumi Born-Mayer-Huggins NaCl (J. Phys. Chem. Solids 25, 45 (1964)) + Coulomb of formal "
                  "charges, direct sum (hybridpot.physics.direct_coulomb_energy), float64",
        "n_random": args.n,
        "n_curve": len(frames) - args.n,
        "ase_version": ase.__version__,
        "numpy_version": np.__version__,
        "jax_version": jax.__version__,
    }
    with open(args.out.removesuffix(".gz").removesuffix(".extxyz") + "_provenance.json", "w") as fh:
        json.dump(provenance, fh, indent=1)
    print(f"wrote {len(frames)} frames to {args.out}")


if __name__ == "__main__":
    main()
