r"""Gaussian radial basis (SchNet-style smearing of a distance over fixed centres).

.. math::
    g_k(r) = \exp\!\left(-\frac{(r - \mu_k)^2}{2 w^2}\right), \qquad k = 1, \dots, K.

We use the width form: w is the standard deviation in Å. SchNet's exp(−γ (r − μ_k)²) is the
same function with γ = 1 / (2 w²) (SchNet: γ = 10 Å⁻², i.e. w ≈ 0.224 Å, centres every 0.1 Å).
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from hybridpot._checks import check_finite, check_integer, check_positive


def gaussian_basis(r: ArrayLike, centers: ArrayLike, width: ArrayLike) -> jnp.ndarray:
    r"""Gaussians exp(−(r − μ_k)² / (2 w²)) of a distance about K centres; a smooth distance encoding.

    No envelope is applied (multiply by a cutoff envelope in the model if needed).

    Args:
        r: distances, any shape ``[...]``, Å.
        centers: μ_k, shape ``[K]``, Å.
        width: w > 0, scalar or ``[K]`` (one width per centre), Å.

    Returns:
        ``[..., K]`` array, dimensionless, 1 at r = μ_k.
    """
    centers = jnp.asarray(centers)
    if centers.ndim != 1:
        raise ValueError(f"centers must have shape [K], got {list(centers.shape)}")
    check_finite("centers", centers)
    check_positive("width", width)
    width = jnp.asarray(width)
    if width.ndim > 1 or (width.ndim == 1 and width.shape[0] != centers.shape[0]):
        raise ValueError(
            f"width must be a scalar or have shape [{centers.shape[0]}] like centers, got {list(width.shape)}"
        )
    d = jnp.asarray(r)[..., None] - centers
    return jnp.exp(-0.5 * (d / width) ** 2)


def gaussian_centers(r_min: float, r_max: float, num: int) -> np.ndarray:
    """``num`` evenly spaced centres from ``r_min`` to ``r_max`` (both included); host constants.

    Args:
        r_min: first centre, Å (≥ 0).
        r_max: last centre, Å (> r_min; may equal r_min only when num = 1).
        num: K, number of centres, integer ≥ 1.

    Returns:
        NumPy array ``[K]``, float64, Å. A common width choice is the spacing
        (r_max − r_min) / (K − 1).
    """
    num = check_integer("num", num, minimum=1)
    check_positive("r_min", r_min, allow_zero=True)
    if not np.isfinite(r_max) or (r_max <= r_min and num > 1) or r_max < r_min:
        raise ValueError(f"r_max must be finite and greater than r_min, got r_min={r_min}, r_max={r_max}")
    return np.linspace(float(r_min), float(r_max), num)
