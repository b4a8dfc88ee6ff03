"""Vibrational levels (sinc DVR) and Franck–Condon factors of diatomic potential curves.

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

__all__ = [
    "DEFAULT_GRID_STEP_ANGSTROM",
    "DEFAULT_LEVEL_TOLERANCE_INV_CM",
    "DVRConvergenceWarning",
    "GridConvergence",
    "H2_REDUCED_MASS_AMU",
    "HYDROGEN_ISOTOPE_MASSES_AMU",
    "atomic_mass_amu",
    "check_grid_convergence",
    "diatomic_atoms",
    "element_of",
    "isotopologue_atoms",
    "reduced_mass_amu",
    "uniform_grid",
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
