"""Vibrational levels (sinc DVR), Franck–Condon factors, rovibrational thermal averages and
spectroscopic observables (term values, B_v) of diatomic potential curves, with a loss that fits a
curve to measured observables.

All functions are JAX, jit-able and differentiable with respect to the potential values. Grids in
Å, energies in hartree, masses in u (amu); atomic units inside. Masses of any diatomic and its
isotopologues come from :mod:`.masses`, grids and their convergence check from :mod:`.grid`.
See docs/spectroscopy.md.
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
    FranckCondonTargets,
    SpectroscopicObservables,
    SpectroscopicTargets,
    franck_condon_targets,
    morse_from_observables,
    observables_loss,
    rotational_constants,
    spectroscopic_loss,
    spectroscopic_observables,
    spectroscopic_targets,
)
from hybridpot.spectroscopy.grid import (
    DEFAULT_GRID_STEP_ANGSTROM,
    DEFAULT_LEVEL_TOLERANCE_INV_CM,
    DVRConvergenceWarning,
    GridConvergence,
    check_grid_convergence,
    uniform_grid,
)
from hybridpot.spectroscopy.masses import (
    HYDROGEN_ISOTOPE_MASSES_AMU,
    atomic_mass_amu,
    diatomic_atoms,
    element_of,
    isotopologue_atoms,
    reduced_mass_amu,
)
from hybridpot.spectroscopy.morse_levels import (
    morse_harmonic_energy_hartree,
    morse_num_bound_levels,
    morse_vibrational_energies,
)
from hybridpot.spectroscopy.thermal import RovibrationalAverages, rovibrational_thermal_averages

__all__ = [
    "DEFAULT_GRID_STEP_ANGSTROM",
    "DEFAULT_LEVEL_TOLERANCE_INV_CM",
    "DVRConvergenceWarning",
    "FranckCondonTargets",
    "GridConvergence",
    "H2_REDUCED_MASS_AMU",
    "HYDROGEN_ISOTOPE_MASSES_AMU",
    "RovibrationalAverages",
    "SpectroscopicObservables",
    "SpectroscopicTargets",
    "VibrationalStates",
    "atomic_mass_amu",
    "check_grid_convergence",
    "diatomic_atoms",
    "element_of",
    "franck_condon_factors",
    "franck_condon_grid",
    "franck_condon_targets",
    "franck_condon_vector",
    "isotopologue_atoms",
    "morse_from_observables",
    "morse_harmonic_energy_hartree",
    "morse_num_bound_levels",
    "morse_vibrational_energies",
    "observables_loss",
    "reduced_mass_amu",
    "rotational_constants",
    "rovibrational_thermal_averages",
    "simpson_integrate",
    "simpson_weights",
    "sinc_dvr_kinetic",
    "spectroscopic_loss",
    "spectroscopic_observables",
    "spectroscopic_targets",
    "uniform_grid",
    "vibrational_states",
]
