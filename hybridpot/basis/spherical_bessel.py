r"""Spherical Bessel functions j_l, their roots, and DimeNet's 2D spherical basis (SBF).

DimeNet's spherical basis (Gasteiger et al. 2020; eq. 5 of Tao & Wan, with the square root
restricted to the normalisation constant as in the original paper):

.. math::
    a_{\mathrm{SBF},ln}(d, \alpha) = \sqrt{\frac{2}{r_c^3\, j_{l+1}(z_{ln})^2}}\;
        j_l\!\left(\frac{z_{ln}}{r_c} d\right)\; Y_l^0(\alpha),
    \qquad l = 0..L-1,\ n = 1..N,

where z_ln is the n-th positive root of j_l. The radial factor is orthonormal on [0, r_c] with
weight d² (for fixed l), and Y_l^0(α) = sqrt((2l+1)/(4π)) P_l(cos α).

DimeNet evaluates the radial factor per edge (d = d_kj) and the angular factor per triplet
(α = angle between the edges kj and ji), so both parts are available separately:
:func:`spherical_bessel_radial` ``[..., L, N]``, :func:`zonal_spherical_harmonics` ``[..., L]``,
combined by :func:`combine_spherical_basis` into ``[..., L*N]`` (l-major: index l*N + n-1).
The envelope u_p(d) is not applied here; DimeNet multiplies the radial factor by it.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike
from scipy.optimize import brentq
from scipy.special import spherical_jn as _scipy_spherical_jn

from hybridpot._checks import check_integer, check_positive


def _series_terms(l: int) -> int:
    """Number of power-series terms that converge to float64 precision for x ≤ l + 1."""
    return 20 + l


def spherical_bessel_jn(l: int, x: ArrayLike) -> jnp.ndarray:
    r"""Spherical Bessel function of the first kind j_l(x) for a static integer order l ≥ 0.

    Two branches, chosen per element, each evaluated only where it is accurate:

    * x < l + 1: the power series
      .. math:: j_l(x) = \frac{x^l}{(2l+1)!!} \sum_{k\ge0} \frac{(-x^2/2)^k}{k!\,\prod_{i=1}^k (2l+2i+1)},
      summed in Horner form (exact limit j_l(0) = δ_l0, finite gradients at x = 0);
    * x ≥ l + 1: j_0 = sin x / x, j_1 = sin x / x² − cos x / x and the upward recurrence
      j_{m+1} = (2m+1)/x · j_m − j_{m−1}, which is stable for x > l.

    In float64 this agrees with ``scipy.special.spherical_jn`` to ~1e-13 relative (~1e-16
    absolute near the zeros of j_l) for l ≤ 15 and 0 ≤ x ≤ 50.

    Args:
        l: order, Python integer ≥ 0 (static: it fixes the recurrence length).
        x: arguments, any shape ``[...]``, dimensionless (x ≥ 0).

    Returns:
        j_l(x), same shape as ``x``, dimensionless.
    """
    l = check_integer("l", l, minimum=0)
    x = jnp.asarray(x)
    if not jnp.issubdtype(x.dtype, jnp.floating):
        x = x.astype(jnp.result_type(float))
    return _spherical_bessel_jn(l, x)


@functools.partial(jax.jit, static_argnums=0)
def _spherical_bessel_jn(l: int, x: jnp.ndarray) -> jnp.ndarray:
    """Kernel of :func:`spherical_bessel_jn` (compiled per l, so eager calls stay fast)."""
    threshold = l + 1.0
    small = x < threshold

    # power series (small x); the argument is clamped so the unused branch stays finite
    xs = jnp.where(small, x, 0.0)
    y = -0.5 * xs * xs
    acc = jnp.ones_like(xs)
    for k in range(_series_terms(l), 0, -1):
        acc = 1.0 + acc * y / (k * (2 * l + 2 * k + 1))
    double_factorial = float(math.prod(range(1, 2 * l + 2, 2)))
    series = xs**l * acc / double_factorial

    # closed form + upward recurrence (large x); the argument is clamped away from 0
    xu = jnp.where(small, threshold, x)
    s, c = jnp.sin(xu), jnp.cos(xu)
    j_prev = s / xu
    if l == 0:
        upward = j_prev
    else:
        j_cur = (s / xu - c) / xu
        for m in range(1, l):
            j_prev, j_cur = j_cur, (2 * m + 1) / xu * j_cur - j_prev
        upward = j_cur
    return jnp.where(small, series, upward)


@functools.lru_cache(maxsize=64)
def _roots_table(num_spherical: int, num_radial: int) -> np.ndarray:
    """First ``num_radial`` roots of j_l for l < ``num_spherical`` by bracketing (cached)."""
    n_total = num_radial + num_spherical  # l = 0 needs extra roots to bracket the higher orders
    roots = np.zeros((num_spherical, num_radial))
    previous = np.pi * np.arange(1, n_total + 1)  # j_0(x) = sin x / x
    roots[0] = previous[:num_radial]
    for l in range(1, num_spherical):
        # interlacing: z_{l-1,n} < z_{l,n} < z_{l-1,n+1}
        def j_l(t, l=l):
            return _scipy_spherical_jn(l, t)

        brackets = zip(previous[:-1], previous[1:])
        current = np.array([brentq(j_l, a, b, xtol=1e-15, rtol=4 * np.finfo(float).eps) for a, b in brackets])
        roots[l] = current[:num_radial]
        previous = current
    roots.setflags(write=False)
    return roots


def spherical_bessel_roots(num_spherical: int, num_radial: int) -> np.ndarray:
    """First N positive roots z_ln of j_l for l = 0..L−1; host-side constants of the SBF.

    Computed with ``scipy.optimize.brentq`` on ``scipy.special.spherical_jn``, bracketing each
    root of j_l between consecutive roots of j_{l−1} (interlacing), starting from z_0n = nπ.

    Args:
        num_spherical: L, number of orders l = 0..L−1, integer ≥ 1.
        num_radial: N, number of roots per order, integer ≥ 1.

    Returns:
        NumPy array ``[L, N]``, float64, dimensionless, increasing along each row.
    """
    num_spherical = check_integer("num_spherical", num_spherical, minimum=1)
    num_radial = check_integer("num_radial", num_radial, minimum=1)
    return np.array(_roots_table(num_spherical, num_radial))


def spherical_bessel_radial(
    r: ArrayLike, cutoff: ArrayLike, num_spherical: int, num_radial: int
) -> jnp.ndarray:
    r"""Radial factor of DimeNet's SBF, normalised spherical Bessel functions j_l(z_ln r / r_c).

    .. math::
        \tilde j_{ln}(r) = \sqrt{\frac{2}{r_c^3\, j_{l+1}(z_{ln})^2}}\; j_l\!\left(z_{ln} \frac{r}{r_c}\right),
        \qquad \int_0^{r_c} \tilde j_{ln}(r)\,\tilde j_{ln'}(r)\, r^2\, dr = \delta_{nn'}.

    Finite with finite gradients at r = 0 (padded edges). No envelope or cutoff mask is applied.

    Args:
        r: distances, any shape ``[...]``, Å (r ≥ 0).
        cutoff: r_c, Å (> 0), Python or NumPy scalar (the normalisation depends on it).
        num_spherical: L, orders l = 0..L−1, integer ≥ 1 (static).
        num_radial: N, roots per order, integer ≥ 1 (static).

    Returns:
        ``[..., L, N]`` array, units Å^{-3/2}.
    """
    roots = spherical_bessel_roots(num_spherical, num_radial)
    check_positive("cutoff", cutoff)
    # normalisation from host constants: j_{l+1}(z_ln) by scipy
    orders = np.arange(num_spherical)[:, None]
    jl1 = _scipy_spherical_jn(orders + 1, roots)
    norm = jnp.sqrt(2.0 / cutoff**3) / jnp.abs(jnp.asarray(jl1))  # [L, N]
    r = jnp.asarray(r)
    x = r[..., None] / cutoff  # [..., 1]
    parts = [spherical_bessel_jn(l, x * roots[l]) for l in range(num_spherical)]  # each [..., N]
    return jnp.stack(parts, axis=-2) * norm


def zonal_spherical_harmonics(angle: ArrayLike, num_spherical: int) -> jnp.ndarray:
    r"""Zonal real spherical harmonics Y_l^0(α), l = 0..L−1; the angular factor of the SBF.

    .. math::
        Y_l^0(\alpha) = \sqrt{\frac{2l+1}{4\pi}}\; P_l(\cos\alpha),
        \qquad \int_{S^2} (Y_l^0)^2\, d\Omega = 1.

    P_l(x) at x = cos α by Bonnet's recursion (l+1) P_{l+1} = (2l+1) x P_l − l P_{l−1}, which is
    stable for |x| ≤ 1. Gradients are finite at α = 0 and α = π (no arccos, no division by
    sin α).

    Args:
        angle: polar angles α, any shape ``[...]``, radians (α ∈ [0, π]).
        num_spherical: L, orders l = 0..L−1, integer ≥ 1 (static).

    Returns:
        ``[..., L]`` array, dimensionless (per steradian normalisation).
    """
    num_spherical = check_integer("num_spherical", num_spherical, minimum=1)
    angle = jnp.asarray(angle)
    if not jnp.issubdtype(angle.dtype, jnp.floating):
        angle = angle.astype(jnp.result_type(float))
    return _zonal_spherical_harmonics(angle, num_spherical)


@functools.partial(jax.jit, static_argnums=1)
def _zonal_spherical_harmonics(angle: jnp.ndarray, num_spherical: int) -> jnp.ndarray:
    """Kernel of :func:`zonal_spherical_harmonics` (compiled per L).

    Not e3nn_jax.spherical_harmonics: it builds its polynomials with sympy at every trace (6 s of
    DimeNet++'s start-up at L = 7), and only the m = 0 components are needed here.
    """
    x = jnp.cos(angle)
    legendre = [jnp.ones_like(x), x][:num_spherical]
    for l in range(1, num_spherical - 1):
        legendre.append(((2 * l + 1) * x * legendre[l] - l * legendre[l - 1]) / (l + 1))
    norm = np.sqrt((2 * np.arange(num_spherical) + 1) / (4 * np.pi))
    return jnp.stack(legendre, axis=-1) * norm.astype(x.dtype)


def combine_spherical_basis(radial: ArrayLike, angular: ArrayLike) -> jnp.ndarray:
    """Product of radial ``[..., L, N]`` and angular ``[..., L]`` factors, flattened l-major.

    Use after gathering the per-edge radial factor onto triplets. Output index l*N + (n−1)
    holds radial[..., l, n−1] · angular[..., l].

    Args:
        radial: ``[..., L, N]`` from :func:`spherical_bessel_radial`, Å^{-3/2}.
        angular: ``[..., L]`` from :func:`zonal_spherical_harmonics`, dimensionless.

    Returns:
        ``[..., L*N]`` array, Å^{-3/2}.
    """
    radial = jnp.asarray(radial)
    angular = jnp.asarray(angular)
    if radial.ndim < 2 or angular.shape[-1:] != radial.shape[-2:-1]:
        raise ValueError(
            f"radial must be [..., L, N] and angular [..., L] with the same L, got "
            f"{list(radial.shape)} and {list(angular.shape)}"
        )
    out = radial * angular[..., None]
    return out.reshape(out.shape[:-2] + (out.shape[-2] * out.shape[-1],))


def spherical_bessel_basis(
    r: ArrayLike, angle: ArrayLike, cutoff: ArrayLike, num_spherical: int, num_radial: int
) -> jnp.ndarray:
    r"""DimeNet's 2D spherical Fourier–Bessel basis a_SBF,ln(d, α); encodes a distance and an angle.

    .. math::
        a_{ln}(d, \alpha) = \sqrt{\frac{2}{r_c^3\, j_{l+1}(z_{ln})^2}}\;
            j_l\!\left(\frac{z_{ln}}{r_c} d\right)\; Y_l^0(\alpha).

    Ordering is l-major: output index ``l * num_radial + (n - 1)``. No envelope is applied
    (DimeNet multiplies by u_p(d)). ``r`` and ``angle`` broadcast against each other.

    Args:
        r: distances d, shape ``[...]``, Å.
        angle: angles α, shape broadcastable with ``r``, radians.
        cutoff: r_c, Å (> 0), scalar.
        num_spherical: L, integer ≥ 1 (static).
        num_radial: N, integer ≥ 1 (static).

    Returns:
        ``[..., L*N]`` array, Å^{-3/2}.
    """
    radial = spherical_bessel_radial(r, cutoff, num_spherical, num_radial)
    angular = zonal_spherical_harmonics(angle, num_spherical)
    shape = jnp.broadcast_shapes(radial.shape[:-2], angular.shape[:-1])
    radial = jnp.broadcast_to(radial, shape + radial.shape[-2:])
    angular = jnp.broadcast_to(angular, shape + angular.shape[-1:])
    return combine_spherical_basis(radial, angular)
