"""Vibrational levels (sinc DVR), Franck–Condon factors and rovibrational thermal averages of
diatomic potential curves.

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
from hybridpot.spectroscopy.thermal import RovibrationalAverages, rovibrational_thermal_averages

__all__ = [
    "H2_REDUCED_MASS_AMU",
    "RovibrationalAverages",
    "VibrationalStates",
    "franck_condon_factors",
    "franck_condon_grid",
    "franck_condon_vector",
    "morse_harmonic_energy_hartree",
    "morse_num_bound_levels",
    "morse_vibrational_energies",
    "rovibrational_thermal_averages",
    "simpson_integrate",
    "simpson_weights",
    "sinc_dvr_kinetic",
    "vibrational_states",
]
