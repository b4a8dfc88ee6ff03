"""Vibrational levels (sinc DVR) and Franck–Condon factors of diatomic potential curves.

All functions are JAX, jit-able and differentiable with respect to the potential values. Grids in
Å, energies in hartree, masses in u (amu); atomic units inside. See docs/spectroscopy.md.
"""

from hybridpot.spectroscopy.dvr import (
    H2_REDUCED_MASS_AMU,
    VibrationalStates,
    sinc_dvr_kinetic,
    vibrational_states,
)
from hybridpot.spectroscopy.franck_condon import (
    franck_condon_factors,
    franck_condon_grid,
    franck_condon_vector,
    simpson_integrate,
    simpson_weights,
)
from hybridpot.spectroscopy.morse_levels import (
    morse_harmonic_energy_hartree,
    morse_num_bound_levels,
    morse_vibrational_energies,
)

__all__ = [
    "H2_REDUCED_MASS_AMU",
    "VibrationalStates",
    "franck_condon_factors",
    "franck_condon_grid",
    "franck_condon_vector",
    "morse_harmonic_energy_hartree",
    "morse_num_bound_levels",
    "morse_vibrational_energies",
    "simpson_integrate",
    "simpson_weights",
    "sinc_dvr_kinetic",
    "vibrational_states",
]
