r"""Harmonic bond: the quadratic expansion of a bond about its rest length.

.. math::
    V(r) = \tfrac{1}{2} k (r - r_0)^2

Note the ½: k is the curvature V″(r_0) (some codes, e.g. LAMMPS ``bond_style harmonic``,
fold the ½ into K = k/2).
"""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp
from jax.typing import ArrayLike

from hybridpot._checks import check_positive


class HarmonicParams(NamedTuple):
    """Harmonic bond parameters (a pytree: trainable, vmappable).

    Attributes:
        k: force constant (≥ 0), eV/Å², equal to V″(r_0).
        r_0: rest length (≥ 0), Å.
    """

    k: ArrayLike
    r_0: ArrayLike


def harmonic_energy(r: ArrayLike, params: HarmonicParams) -> jnp.ndarray:
    r"""Harmonic energy V(r) = ½ k (r − r₀)²; a bonded term near equilibrium.

    Finite, with finite gradients, for every r (including r = 0).

    Args:
        r: distances, any shape, Å.
        params: :class:`HarmonicParams`; leaves broadcast with ``r``.

    Returns:
        V(r), shape ``broadcast(r, params)``, eV.
    """
    check_positive("harmonic k", params.k, allow_zero=True)
    check_positive("harmonic r_0", params.r_0, allow_zero=True)
    d = jnp.asarray(r) - params.r_0
    return 0.5 * params.k * d * d
