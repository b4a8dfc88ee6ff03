"""Analytic vibrational levels of the Morse potential V(r) = D_e (1 − e^(−a (r − r_e)))².

    ħω  = ħ a sqrt(2 D_e / μ)
    E_v = ħω (v + ½) − [ħω (v + ½)]² / (4 D_e),   v = 0, 1, …   (measured from the minimum)
    bound levels: v + ½ < λ = 2 D_e / ħω = sqrt(2 μ D_e) / (ħ a)

Exact for the Morse potential on r ∈ (−∞, ∞); the reference for the DVR in
:mod:`hybridpot.spectroscopy.dvr`. Inputs in hartree, 1/Å and u; computed in atomic units.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from hybridpot._checks import check_positive, is_concrete
from hybridpot.units import AMU_TO_ELECTRON_MASS, BOHR_TO_ANGSTROM


def morse_harmonic_energy_hartree(dissociation_energy_hartree, alpha_inv_angstrom, reduced_mass_amu) -> jax.Array:
    """Harmonic quantum ħω = ħ a sqrt(2 D_e / μ) of a Morse well.

    Args:
      dissociation_energy_hartree: D_e, hartree (scalar or array).
      alpha_inv_angstrom: a, 1/Å.
      reduced_mass_amu: μ, u.

    Returns:
      ħω in hartree, broadcast shape of the inputs.
    """
    check_positive("dissociation_energy_hartree", dissociation_energy_hartree)
    check_positive("alpha_inv_angstrom", alpha_inv_angstrom)
    check_positive("reduced_mass_amu", reduced_mass_amu)
    a_inv_bohr = jnp.asarray(alpha_inv_angstrom) * BOHR_TO_ANGSTROM
    mass_au = jnp.asarray(reduced_mass_amu) * AMU_TO_ELECTRON_MASS
    return a_inv_bohr * jnp.sqrt(2.0 * jnp.asarray(dissociation_energy_hartree) / mass_au)


def morse_vibrational_energies(
    dissociation_energy_hartree, alpha_inv_angstrom, reduced_mass_amu, num_levels: int
) -> jax.Array:
    """Morse levels E_v = ħω(v+½) − [ħω(v+½)]²/(4 D_e) for v = 0 … num_levels − 1.

    Energies are measured from the bottom of the well (V(r_e) = 0). Levels with v beyond
    :func:`morse_num_bound_levels` are returned too but are not bound (the formula turns down).

    Args:
      dissociation_energy_hartree: D_e, scalar hartree.
      alpha_inv_angstrom: a, scalar 1/Å.
      reduced_mass_amu: μ, scalar u.
      num_levels: number of levels k (Python int, ≥ 1).

    Returns:
      [k] hartree.
    """
    if not isinstance(num_levels, (int, np.integer)) or num_levels < 1:
        raise ValueError(f"num_levels must be a positive int, got {num_levels!r}")
    hw = morse_harmonic_energy_hartree(dissociation_energy_hartree, alpha_inv_angstrom, reduced_mass_amu)
    x = hw * (jnp.arange(num_levels) + 0.5)
    return x - x**2 / (4.0 * jnp.asarray(dissociation_energy_hartree))


def morse_num_bound_levels(dissociation_energy_hartree, alpha_inv_angstrom, reduced_mass_amu) -> int:
    """Number of bound Morse levels: the count of v ≥ 0 with v + ½ < λ = 2 D_e / ħω.

    Equals floor(λ − ½) + 1 unless λ − ½ is an integer, when the level exactly at the dissociation
    limit (E_v = D_e) is not counted. Concrete scalars only (returns a Python int).

    Args:
      dissociation_energy_hartree: D_e, hartree.
      alpha_inv_angstrom: a, 1/Å.
      reduced_mass_amu: μ, u.
    """
    if not all(is_concrete(x) for x in (dissociation_energy_hartree, alpha_inv_angstrom, reduced_mass_amu)):
        raise ValueError("morse_num_bound_levels needs concrete (non-traced) parameters")
    hw = morse_harmonic_energy_hartree(dissociation_energy_hartree, alpha_inv_angstrom, reduced_mass_amu)
    lam = 2.0 * float(dissociation_energy_hartree) / float(hw)
    return max(0, int(np.ceil(lam - 0.5)))
