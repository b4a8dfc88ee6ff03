r"""Point-charge electrostatics: the bare Coulomb pair energy and its damped shifted-force form.

Bare:

.. math::
    V(r) = k_e \frac{q_i q_j}{r}, \qquad k_e = \frac{e^2}{4\pi\varepsilon_0} = 14.3996454784\ \mathrm{eV\,Å}

Damped shifted force (DSF; Fennell & Gezelter, J. Chem. Phys. 124, 234104 (2006), eq. 18),
for r < r_c and 0 beyond:

.. math::
    V(r) = k_e q_i q_j \left[ \frac{\operatorname{erfc}(\alpha r)}{r}
        - \frac{\operatorname{erfc}(\alpha r_c)}{r_c}
        + \left( \frac{\operatorname{erfc}(\alpha r_c)}{r_c^2}
        + \frac{2\alpha}{\sqrt{\pi}} \frac{e^{-\alpha^2 r_c^2}}{r_c} \right)(r - r_c) \right]

Energy and force go to zero at r_c (continuous, no jump to correct for). α = 0 gives the
shifted-force Coulomb; α → 0 with r_c → ∞ recovers the bare form. Charges are in units of
the elementary charge e, distances in Å and energies in eV.
"""

from __future__ import annotations

import jax.numpy as jnp
from jax.scipy.special import erfc
from jax.typing import ArrayLike

from hybridpot._checks import check_positive
from hybridpot.units import COULOMB_CONSTANT


def coulomb_energy(r: ArrayLike, q_i: ArrayLike, q_j: ArrayLike) -> jnp.ndarray:
    r"""Bare Coulomb energy V(r) = k_e q_i q_j / r; long-range electrostatics of point charges.

    Finite with finite gradients for r > 0. At r = 0 (padded edges) the value is ±inf (NaN
    for a zero charge product): mask padded edges in the pair sum with a double ``jnp.where``
    (a safe r such as 1 inside, zero energy outside).

    Args:
        r: distances, any shape, Å.
        q_i, q_j: charges, broadcasting with ``r``, e.
    Returns:
        V(r), shape ``broadcast(r, q_i, q_j)``, eV.
    """
    return COULOMB_CONSTANT * q_i * q_j / jnp.asarray(r)


def damped_shifted_force_coulomb_energy(
    r: ArrayLike, q_i: ArrayLike, q_j: ArrayLike, alpha: ArrayLike, cutoff: ArrayLike
) -> jnp.ndarray:
    r"""Damped shifted-force (Fennell–Gezelter) Coulomb energy; short-ranged electrostatics.

    Equation in the module docstring; zero for r ≥ cutoff, with V and dV/dr continuous
    (both zero) at the cutoff. Finite with finite gradients for r > 0; at r = 0 it is ±inf
    like the bare form, so padded edges must be masked with a double ``jnp.where``.

    Args:
        r: distances, any shape, Å.
        q_i, q_j: charges, broadcasting with ``r``, e.
        alpha: damping parameter α (≥ 0), Å⁻¹ (typically 0.2 Å⁻¹ for r_c ≈ 10–12 Å).
        cutoff: r_c (> 0), Å.
    Returns:
        V(r), shape ``broadcast(r, q_i, q_j, alpha, cutoff)``, eV.
    """
    check_positive("dsf coulomb alpha", alpha, allow_zero=True)
    check_positive("dsf coulomb cutoff", cutoff)
    r = jnp.asarray(r)
    inside = r < cutoff
    rs = jnp.where(inside, r, cutoff)  # the polynomial beyond r_c is not used; keep it tame
    erfc_c = erfc(alpha * cutoff)
    slope = erfc_c / cutoff**2 + 2.0 * alpha / jnp.sqrt(jnp.pi) * jnp.exp(-((alpha * cutoff) ** 2)) / cutoff
    v = erfc(alpha * rs) / rs - erfc_c / cutoff + slope * (rs - cutoff)
    return jnp.where(inside, COULOMB_CONSTANT * q_i * q_j * v, 0.0)
