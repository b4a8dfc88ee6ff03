r"""Radial Bessel basis of DimeNet (eq. 4 of Tao & Wan; Gasteiger et al. 2020).

.. math::
    e_{\mathrm{RBF},n}(r) = \sqrt{\frac{2}{r_c}}\,\frac{\sin(n\pi r / r_c)}{r}, \qquad n = 1, \dots, N.

These are the l = 0 spherical Bessel functions j_0(nπ r / r_c) = sin(nπ r/r_c)/(nπ r/r_c) up to a
factor nπ/r_c, orthonormal on [0, r_c] with weight r². At r = 0 the basis takes its limit
sqrt(2/r_c)·nπ/r_c (computed through ``jnp.sinc``, so padded edges with r = 0 give finite values
and finite gradients).

The envelope is *not* applied here: DimeNet uses u_p(r)·e_RBF(r) with u_p the polynomial envelope
(:func:`hybridpot.basis.envelopes.polynomial_envelope`), multiplied in by the model.
"""

from __future__ import annotations

import jax.numpy as jnp
from jax.typing import ArrayLike

from hybridpot._checks import check_integer, check_positive


def radial_bessel_basis(r: ArrayLike, cutoff: ArrayLike, num_basis: int) -> jnp.ndarray:
    r"""Radial Bessel basis sqrt(2/r_c)·sin(nπ r/r_c)/r, n = 1..N; encodes a distance for DimeNet.

    .. math::
        e_n(r) = \sqrt{2/r_c}\,\sin(n\pi r/r_c)/r
               = \sqrt{2/r_c}\,\frac{n\pi}{r_c}\,\mathrm{sinc}(n r / r_c),

    with the normalised sinc(x) = sin(πx)/(πx), so e_n(0) = sqrt(2/r_c)·nπ/r_c exactly and
    de_n/dr(0) = 0. No envelope and no cutoff mask are applied (values oscillate on beyond r_c);
    DimeNet multiplies by ``polynomial_envelope(r, cutoff)``.

    Args:
        r: distances, any shape ``[...]``, Å (r ≥ 0; r = 0 is allowed for padded edges).
        cutoff: r_c, Å (> 0), scalar.
        num_basis: N, number of basis functions, integer ≥ 1 (static).

    Returns:
        ``[..., N]`` array, units Å^{-3/2}; entry n-1 holds e_n(r).
    """
    num_basis = check_integer("num_basis", num_basis, minimum=1)
    check_positive("cutoff", cutoff)
    r = jnp.asarray(r)
    n = jnp.arange(1, num_basis + 1, dtype=r.dtype if jnp.issubdtype(r.dtype, jnp.floating) else None)
    prefactor = jnp.sqrt(2.0 / cutoff) * jnp.pi * n / cutoff
    return prefactor * jnp.sinc(n * r[..., None] / cutoff)
