r"""Buckingham (exp-6) potential with a guard against its short-range collapse.

.. math::
    V_\mathrm{B}(r) = A\, e^{-r/\rho} - \frac{C}{r^6}

For C > 0 the bare form has a spurious maximum at r_max (the top of the repulsive wall,
V′_B(r_max) = 0) and falls to −∞ as r → 0: the 1/r⁶ dispersion eventually beats the
exponential, and atoms that get past r_max fuse ("Buckingham catastrophe"). Below r_max
this module continues with the Born–Mayer wall A e^{−r/ρ} minus its tangent at r_max:

.. math::
    V(r) = \begin{cases}
      V_\mathrm{B}(r) & r \ge r_\mathrm{max} \\
      V_\mathrm{B}(r_\mathrm{max}) + A\left[e^{-r/\rho}
        - e^{-r_\mathrm{max}/\rho}\left(1 + \frac{r_\mathrm{max} - r}{\rho}\right)\right]
        & r < r_\mathrm{max}
    \end{cases}

Physically: at short range the dispersion term is damped away (as in Tang–Toennies
damping) and only the overlap (Born–Mayer) repulsion is left. The continuation matches
the value and the force (zero) at r_max, so V is C¹ (V″ jumps there); it rises strictly
as r decreases and stays finite, V(0) = V_B(r_max) + A[1 − e^{−x}(1 + x)], x = r_max/ρ.
Energies near r_max are already far above anything a physical simulation visits, so the
guard only changes trajectories that would otherwise collapse.

r_max solves A/ρ e^{−r/ρ} = 6C/r⁷ on the inner branch (r < 7ρ); see
:func:`buckingham_r_max`. It exists when 7 ln(7ρ) − 7 + ln(A / (6Cρ)) > 0; otherwise the
curve has no repulsive wall at all and the parameters are rejected. With C = 0 there is
no collapse, r_max = 0 and V = A e^{−r/ρ}.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from hybridpot._checks import check_positive, is_concrete

_NEWTON_STEPS = 40


class BuckinghamParams(NamedTuple):
    """Buckingham parameters (a pytree: trainable, vmappable).

    Attributes:
        a: repulsion prefactor A (> 0), eV.
        rho: repulsion range ρ (> 0), Å.
        c: dispersion coefficient C (≥ 0), eV·Å⁶.
    """

    a: ArrayLike
    rho: ArrayLike
    c: ArrayLike


def _check_params(params: BuckinghamParams) -> None:
    check_positive("buckingham a", params.a)
    check_positive("buckingham rho", params.rho)
    check_positive("buckingham c", params.c, allow_zero=True)
    if all(is_concrete(x) for x in params):
        a, rho, c = (np.asarray(x, dtype=np.float64) for x in params)
        with np.errstate(divide="ignore"):
            peak = 7.0 * np.log(7.0 * rho) - 7.0 + np.log(a / (6.0 * np.where(c > 0, c, 1.0) * rho))
        bad = (c > 0) & ~(peak > 0)
        if np.any(bad):
            raise ValueError(
                "buckingham c is too large for a and rho: the curve has no maximum (no repulsive "
                "wall), need 7 ln(7 rho) - 7 + ln(a / (6 c rho)) > 0"
            )


def _bare(r, a, rho, c):
    """A e^{−r/ρ} − C/r⁶ with the 1/r⁶ term read as 0 where r = 0 (only reached when C = 0)."""
    pos = r > 0
    r6 = jnp.where(pos, r, 1.0) ** 6
    return a * jnp.exp(-r / rho) - jnp.where(pos, c / r6, 0.0)


def _h(s, rho, log_k):
    """h(s) = 7 s − e^s/ρ + ln(A/(6Cρ)); zero at s = ln r of the extrema of the bare curve."""
    return 7.0 * s - jnp.exp(s) / rho + log_k


def _dh(s, rho):
    return 7.0 - jnp.exp(s) / rho


@jax.jit
def _newton_log_r_max(rho, log_k):
    """Newton iterations for ln r_max, started left of the root (or one step right of it)."""
    s0 = jnp.minimum(-log_k / 7.0, jnp.log(7.0 * rho) - 1.0)
    return jax.lax.fori_loop(0, _NEWTON_STEPS, lambda _, s: s - _h(s, rho, log_k) / _dh(s, rho), s0)


def buckingham_r_max(params: BuckinghamParams) -> jnp.ndarray:
    r"""Position of the maximum of the bare Buckingham curve (the top of its repulsive wall).

    Solves h(s) = 7 s − e^s/ρ + ln(A / (6Cρ)) = 0 for s = ln r_max (equivalently
    A/ρ e^{−r/ρ} = 6C/r⁷, r < 7ρ) by Newton's method from the left, where h is concave and
    increasing, so the iteration converges monotonically. The iterations run without
    gradients; one final Newton step carries them, which gives the implicit-function
    derivative of r_max with respect to the parameters (trainable, jit- and vmap-safe).

    Args:
        params: :class:`BuckinghamParams`; leaves any (broadcasting) shape.

    Returns:
        r_max, shape ``broadcast(a, rho, c)``, Å. 0 where C = 0 (no maximum, no collapse);
        NaN for traced parameters with no maximum (concrete ones raise ``ValueError``).
    """
    _check_params(params)
    a, rho, c = (jnp.asarray(x) for x in params)
    a, rho, c = jnp.broadcast_arrays(a, rho, c)
    has_c = c > 0
    log_k = jnp.log(a / (6.0 * jnp.where(has_c, c, 1.0) * rho))
    s_peak = jnp.log(7.0 * rho)
    has_root = 7.0 * s_peak - 7.0 + log_k > 0

    rho_ng, log_k_ng = jax.lax.stop_gradient(rho), jax.lax.stop_gradient(log_k)
    s = _newton_log_r_max(rho_ng, log_k_ng)
    s = jnp.where(has_root & has_c, s, s_peak - 1.0)  # keeps the final step finite
    s = s - _h(s, rho, log_k) / _dh(s, rho)  # carries d r_max / d params
    r_max = jnp.exp(s)
    r_max = jnp.where(has_root, r_max, jnp.nan)
    return jnp.where(has_c, r_max, 0.0)


def buckingham_energy(r: ArrayLike, params: BuckinghamParams) -> jnp.ndarray:
    r"""Guarded Buckingham energy: A e^{−r/ρ} − C/r⁶ above r_max, Born–Mayer wall below.

    See the module docstring for the continuation below r_max (C¹, strictly repulsive,
    finite). Values and gradients are finite for every r ≥ 0, including padded edges at
    r = 0 (unlike the other 1/r kernels, no masking is needed for finiteness; still mask
    padded edges to zero in the pair sum).

    Args:
        r: distances, any shape, Å.
        params: :class:`BuckinghamParams`; leaves broadcast with ``r``.

    Returns:
        V(r), shape ``broadcast(r, params)``, eV.
    """
    _check_params(params)
    a, rho, c = params
    r = jnp.asarray(r)
    r_max = buckingham_r_max(params)
    above = r >= r_max
    r_hi = jnp.where(above, r, r_max)  # double-where: each branch sees only its own range
    r_lo = jnp.where(above, r_max, r)
    e_hi = _bare(r_hi, a, rho, c)
    decay_max = jnp.exp(-r_max / rho)
    e_lo = _bare(r_max, a, rho, c) + a * (
        jnp.exp(-r_lo / rho) - decay_max * (1.0 + (r_max - r_lo) / rho)
    )
    return jnp.where(above, e_hi, e_lo)
