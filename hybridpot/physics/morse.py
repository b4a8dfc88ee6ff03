r"""Morse potential: an anharmonic diatomic bond with a finite dissociation energy.

.. math::
    V(r) = D_e \left(1 - e^{-a (r - r_e)}\right)^2 + \mathrm{shift}

Convention: the minimum sits at r = r_e with V(r_e) = shift, and the dissociation
asymptote is V(∞) = shift + D_e, so the well is D_e deep below the asymptote. With
shift = −D_e the asymptote is zero and the minimum is −D_e (the jax-md convention).
V″(r_e) = 2 D_e a², so the harmonic wavenumber follows from a and D_e.

Units follow the parameters: energy in the units of ``d_e`` (and ``shift``), distances in
the units of ``r_e`` and ``1/a``. The library default is eV and Å; the diatomic study fits
in hartree and Å.
"""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp
from jax.typing import ArrayLike

from hybridpot._checks import check_positive


class MorseParams(NamedTuple):
    """Morse parameters (a pytree: trainable, vmappable).

    Attributes:
        d_e: well depth D_e below the asymptote (> 0), energy units (eV, or hartree).
        a: range parameter (> 0), 1 / distance units (Å⁻¹); the width of the well is ~1/a.
        r_e: equilibrium distance (> 0), distance units (Å).
        shift: energy at the minimum, V(r_e) = shift; the asymptote is shift + d_e.
    """

    d_e: ArrayLike
    a: ArrayLike
    r_e: ArrayLike
    shift: ArrayLike = 0.0


def morse_energy(r: ArrayLike, params: MorseParams) -> jnp.ndarray:
    r"""Morse pair energy V(r) = D_e (1 − e^{−a(r − r_e)})² + shift; a bonded diatomic term.

    Finite, with finite gradients, for every r (including r = 0: no guard needed).

    Args:
        r: distances, any shape, in the units of ``r_e`` (Å).
        params: :class:`MorseParams`; leaves broadcast with ``r``.

    Returns:
        V(r), shape ``broadcast(r, params)``, in the units of ``d_e`` (eV or hartree).
        V(r_e) = shift, V(∞) = shift + d_e.
    """
    check_positive("morse d_e", params.d_e)
    check_positive("morse a", params.a)
    check_positive("morse r_e", params.r_e)
    r = jnp.asarray(r)
    y = 1.0 - jnp.exp(-params.a * (r - params.r_e))
    return params.d_e * y * y + params.shift
