r"""Lennard-Jones 12-6 potential: van der Waals repulsion and dispersion of closed shells.

.. math::
    V(r) = 4 \varepsilon \left[ \left(\frac{\sigma}{r}\right)^{12} - \left(\frac{\sigma}{r}\right)^{6} \right]

V(σ) = 0; the minimum is at r_min = 2^{1/6} σ with depth V(r_min) = −ε; V(∞) = 0.
"""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp
from jax.typing import ArrayLike

from hybridpot._checks import check_positive


class LennardJonesParams(NamedTuple):
    """Lennard-Jones parameters (a pytree: trainable, vmappable).

    Attributes:
        epsilon: well depth ε (≥ 0), eV.
        sigma: zero crossing σ (> 0), Å; the minimum is at 2^{1/6} σ.
    """

    epsilon: ArrayLike
    sigma: ArrayLike


def lennard_jones_energy(r: ArrayLike, params: LennardJonesParams) -> jnp.ndarray:
    r"""Lennard-Jones energy V(r) = 4ε[(σ/r)¹² − (σ/r)⁶]; a simple non-bonded pair term.

    Finite with finite gradients for every r > 0 whose (σ/r)¹² is representable
    (r ≳ 10⁻²⁵ σ in float64, 10⁻³ σ in float32). At r = 0 the value is +inf and the
    gradient is not finite: mask padded edges (r = 0) in the pair sum with a double
    ``jnp.where`` (a safe r inside, zero energy outside).

    Args:
        r: distances, any shape, Å.
        params: :class:`LennardJonesParams`; leaves broadcast with ``r``.

    Returns:
        V(r), shape ``broadcast(r, params)``, eV.
    """
    check_positive("lennard-jones epsilon", params.epsilon, allow_zero=True)
    check_positive("lennard-jones sigma", params.sigma)
    s6 = (params.sigma / jnp.asarray(r)) ** 6
    # s6 (s6 - 1) rather than s6**2 - s6: +inf (not inf - inf = nan) at r = 0.
    return 4.0 * params.epsilon * s6 * (s6 - 1.0)
