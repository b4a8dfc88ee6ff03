"""Exact quantum thermal averages of a diatomic's nuclear motion from its rovibrational levels.

For each J = 0 … J_max the radial problem V_J(r) = V(r) + J(J+1) ħ²/(2μr²) is solved by the sinc
DVR (:func:`~hybridpot.spectroscopy.vibrational_states`), and the levels E(v, J) are Boltzmann
weighted with their degeneracy 2J+1:

    p(v, J) = (2J+1) exp(−E(v, J) / k_B T) / Z,
    ⟨r⟩ = Σ p ⟨vJ|r|vJ⟩,    ⟨K⟩ = Σ p (E(v, J) − ⟨vJ|V|vJ⟩),

K being the kinetic energy of the three relative coordinates (radial and rotational; the
centrifugal term is kinetic). The nuclei are distinguishable: no nuclear-spin (ortho/para)
weights, as in path-integral MD with distinguishable particles. These are the numbers a converged
PIMD of the molecule reproduces, minus the free centre of mass (3/2 k_B T).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from hybridpot._checks import check_positive
from hybridpot.spectroscopy.dvr import vibrational_states
from hybridpot.units import AMU_TO_ELECTRON_MASS, BOHR_TO_ANGSTROM, BOLTZMANN_EV_PER_K, EV_TO_HARTREE


class RovibrationalAverages(NamedTuple):
    """Thermal averages of a diatomic's relative nuclear motion (see the module docstring).

    mean_distance_angstrom: ⟨r⟩ Å.
    kinetic_hartree: ⟨K⟩ of the 3 relative coordinates, hartree.
    truncation_weight: the largest Boltzmann weight p(v, J) at J = J_max (when J_max > 0; J_max = 0
        leaves rotation out on purpose) or at the highest computed v: the sums are converged when
        it is negligible (say < 1e-8).
    """

    mean_distance_angstrom: float
    kinetic_hartree: float
    truncation_weight: float


def rovibrational_thermal_averages(r_angstrom, potential_hartree, reduced_mass_amu, temperature_kelvin: float,
                                   j_max: int, n_vibrational: int = 12) -> RovibrationalAverages:
    """⟨r⟩ and ⟨K⟩ of a diatomic at temperature T from its levels E(v, J), v < n_vibrational, J ≤ j_max.

    Args:
        r_angstrom: [n] Å, a uniform grid reaching into the repulsive wall and past the region
            that the populated levels occupy.
        potential_hartree: [n] hartree, V(r) on the grid (without the centrifugal term).
        reduced_mass_amu: μ in u, e.g. :data:`~hybridpot.spectroscopy.H2_REDUCED_MASS_AMU`.
        temperature_kelvin: T > 0, K.
        j_max: the highest rotational quantum number summed (≥ 0).
        n_vibrational: levels per J (1 ≤ n_vibrational ≤ n).
    Returns:
        :class:`RovibrationalAverages` (Å, hartree, and the truncation check).
    """
    check_positive("temperature_kelvin", temperature_kelvin)
    if isinstance(j_max, bool) or not isinstance(j_max, (int, np.integer)) or j_max < 0:
        raise ValueError(f"j_max must be an int >= 0, got {j_max!r}")
    r = np.asarray(r_angstrom, float)
    v = np.asarray(potential_hartree, float)
    mu_au = float(reduced_mass_amu) * AMU_TO_ELECTRON_MASS
    r_bohr = r / BOHR_TO_ANGSTROM
    energies, mean_r, mean_v, j_of = [], [], [], []
    for j in range(j_max + 1):
        centrifugal = j * (j + 1) / (2.0 * mu_au * r_bohr**2)
        states = vibrational_states(r, v + centrifugal, reduced_mass_amu, n_vibrational, differentiable=False)
        density = np.asarray(states.wavefunctions) ** 2  # [k, n], Σ_i ψ² = 1
        energies.append(np.asarray(states.energies_hartree))
        mean_r.append(density @ r)
        mean_v.append(density @ v)
        j_of.append(np.full(n_vibrational, j))
    e, mr, mv, jj = (np.concatenate(a) for a in (energies, mean_r, mean_v, j_of))
    vib = np.tile(np.arange(n_vibrational), j_max + 1)
    k_b = BOLTZMANN_EV_PER_K * EV_TO_HARTREE
    w = (2 * jj + 1) * np.exp(-(e - e.min()) / (k_b * temperature_kelvin))
    w /= w.sum()
    truncation = max(w[jj == j_max].max() if j_max > 0 else 0.0, w[vib == n_vibrational - 1].max())
    return RovibrationalAverages(float(w @ mr), float(w @ (e - mv)), float(truncation))
