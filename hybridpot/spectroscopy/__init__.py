"""Vibrational levels (sinc DVR), Franck–Condon factors, rovibrational thermal averages and
spectroscopic observables (term values, B_v) of diatomic potential curves, with a loss that fits a
curve to measured observables.

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
from hybridpot.spectroscopy.observables import (
    SpectroscopicObservables,
    SpectroscopicTargets,
    morse_from_observables,
    observables_loss,
    rotational_constants,
    spectroscopic_loss,
    spectroscopic_observables,
    spectroscopic_targets,
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
    "SpectroscopicObservables",
    "SpectroscopicTargets",
    "VibrationalStates",
    "franck_condon_factors",
    "franck_condon_grid",
    "franck_condon_vector",
    "morse_from_observables",
    "morse_harmonic_energy_hartree",
    "morse_num_bound_levels",
    "morse_vibrational_energies",
    "observables_loss",
    "rotational_constants",
    "rovibrational_thermal_averages",
    "simpson_integrate",
    "simpson_weights",
    "sinc_dvr_kinetic",
    "spectroscopic_loss",
    "spectroscopic_observables",
    "spectroscopic_targets",
    "vibrational_states",
]
