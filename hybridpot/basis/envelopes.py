r"""Smooth cutoff envelopes: functions of the distance that fall to zero at the cutoff.

Polynomial envelope (DimeNet, eq. 6 of Tao & Wan; Gasteiger et al. 2020), with x = r / r_c:

.. math::
    u_p(x) = 1 - \frac{(p+1)(p+2)}{2} x^p + p(p+2) x^{p+1} - \frac{p(p+1)}{2} x^{p+2}, \quad x < 1,

and 0 for x ≥ 1. It has a root of order 3 at x = 1, so u, u′ and u″ vanish at the cutoff.
DimeNet's published "envelope exponent 5" is p = 6.

Cosine cutoff (Behler & Parrinello 2007): f_c(r) = ½ [cos(π r / r_c) + 1] for r < r_c, else 0.
"""

from __future__ import annotations

import jax.numpy as jnp
from jax.typing import ArrayLike

from hybridpot._checks import check_positive


def polynomial_envelope(r: ArrayLike, cutoff: ArrayLike, p: int = 6) -> jnp.ndarray:
    """Polynomial envelope u_p(r / cutoff), zero beyond the cutoff; smooths bases and pair terms.

    Args:
        r: distances, any shape, Å.
        cutoff: r_c, Å (> 0).
        p: polynomial order (DimeNet: 6, i.e. "envelope exponent 5"); a positive integer.

    Returns:
        u_p(r / r_c), same shape as ``r``, dimensionless, 1 at r = 0 and 0 for r ≥ r_c.
    """
    if int(p) != p or p < 1:
        raise ValueError(f"envelope order p must be a positive integer, got {p}")
    check_positive("cutoff", cutoff)
    x = jnp.asarray(r) / cutoff
    inside = x < 1.0
    xs = jnp.where(inside, x, 0.0)  # keeps the polynomial (and its gradient) finite beyond r_c
    a = -(p + 1) * (p + 2) / 2.0
    b = p * (p + 2.0)
    c = -p * (p + 1) / 2.0
    xp = xs**p
    u = 1.0 + xp * (a + xs * (b + c * xs))
    return jnp.where(inside, u, 0.0)


def cosine_cutoff(r: ArrayLike, cutoff: ArrayLike) -> jnp.ndarray:
    """Behler–Parrinello cosine cutoff f_c(r) = ½[cos(π r / r_c) + 1] for r < r_c, else 0.

    Args:
        r: distances, any shape, Å.
        cutoff: r_c, Å (> 0).

    Returns:
        f_c(r), same shape as ``r``, dimensionless; f_c and f_c′ vanish at r_c (f_c″ does not).
    """
    check_positive("cutoff", cutoff)
    r = jnp.asarray(r)
    inside = r < cutoff
    rs = jnp.where(inside, r, 0.0)
    return jnp.where(inside, 0.5 * (jnp.cos(jnp.pi * rs / cutoff) + 1.0), 0.0)
