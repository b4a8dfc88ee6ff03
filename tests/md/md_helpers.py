"""Small potentials and structures shared by the MD tests (untrained pair-MLP + a Morse physics term)."""

from __future__ import annotations

import numpy as np

from hybridpot.potentials import TrainedPotential

#: Cu Morse (Girifalco & Weizer 1959), shifted to 0 at infinity, smoothly cut off at 4 Å.
MORSE_CU = {"kind": "morse", "d_e": 0.3429, "a": 1.3588, "r_e": 2.866, "shift": -0.3429, "envelope_cutoff": 4.0}


def hybrid_potential(n_members: int = 1, three_body: bool = False, scale: float = 0.05,
                     cutoff: float = 4.0) -> TrainedPotential:
    """Morse + a small random pair MLP (learned part scaled by ``scale`` eV), Al/Cu, float64."""
    from hybridpot.potentials import EnergyNormalisation

    norm = EnergyNormalisation(np.zeros(119), np.asarray(scale))
    return TrainedPotential.from_init("pair_mlp", {"cutoff": cutoff, "species": [13, 29], "dtype": "float64",
                                                   "three_body": three_body},
                                      n_members=n_members, physics={**MORSE_CU, "envelope_cutoff": cutoff},
                                      normalisation=norm)


def copper(repeat: int = 2, rattle: float = 0.05, seed: int = 0):
    """fcc Cu (a = 3.6 Å), cubic cell repeated, rattled; one atom made Al."""
    from ase.build import bulk

    atoms = bulk("Cu", "fcc", a=3.6, cubic=True).repeat(repeat)
    atoms.numbers[0] = 13
    atoms.rattle(rattle, seed=seed)
    return atoms
