r"""APHYNITY losses (Yin et al. 2021, J. Stat. Mech. 124012), for an additive hybrid.

Two variants:

* **Fixed penalty**, as in the code of El Haloui et al. (2025):

  .. math:: L = \mathrm{MSE}(V_\text{phys} + V_\text{NN}, y) + \lambda\,\mathrm{MSE}(V_\text{phys}, y)

  with λ fixed per training-set size. It pulls the physics term itself towards the data.

* **Adaptive multiplier**, the original of Yin et al.: minimise the norm of the learned part
  subject to fitting the data,

  .. math:: \min \lVert V_\text{NN} \rVert^2 \quad \text{s.t.} \quad
            \mathrm{MSE}(V_\text{phys} + V_\text{NN}, y) = 0,

  solved with the loss :math:`L_t = \lVert V_\text{NN}\rVert^2 + \lambda_t\,\mathrm{MSE}`
  and the multiplier update :math:`\lambda_{t+1} = \lambda_t + \tau\,\mathrm{MSE}(\theta_{t+1})`.
  Here :math:`\lVert V_\text{NN}\rVert^2` is the mean of the squared learned energies over the
  training points.

Both accept per-point ``weights`` (0 for padding), so training sets of different sizes can be
stacked and vmapped. All energies in one unit; ``scale`` divides squared energies (pass the
variance of the targets to make λ and τ unit-free).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from hybridpot.hybrid.terms import HybridTerms


def weighted_mean_square(x: jax.Array, weights: jax.Array | None = None) -> jax.Array:
    """Σ w x² / Σ w over the last axis (plain mean of x² when ``weights`` is None); scalar per row."""
    if weights is None:
        return jnp.mean(x**2, axis=-1)
    return jnp.sum(weights * x**2, axis=-1) / jnp.sum(weights, axis=-1)


def aphynity_penalty_loss(
    terms: HybridTerms, target: jax.Array, penalty, weights=None, scale=1.0
) -> jax.Array:
    """Fixed-penalty APHYNITY loss MSE(total, y) + λ·MSE(physics, y), divided by ``scale``.

    Args:
        terms: the hybrid's energies, each ``[n]``.
        target: reference energies ``[n]``, same unit.
        penalty: λ ≥ 0 (scalar, may be traced for vmapping over λ).
        weights: optional ``[n]`` point weights (0 masks a point).
        scale: divides the squared errors (e.g. the target variance).
    Returns:
        scalar loss.
    """
    fit = weighted_mean_square(terms.total - target, weights)
    physics_fit = weighted_mean_square(terms.physics - target, weights)
    return (fit + penalty * physics_fit) / scale


def aphynity_adaptive_loss(
    terms: HybridTerms, target: jax.Array, multiplier, weights=None, scale=1.0
) -> tuple[jax.Array, jax.Array]:
    """Adaptive APHYNITY loss ‖V_NN‖² + λ_t·MSE(total, y), both divided by ``scale``.

    Returns:
        ``(loss, fit)``: the scalar loss and the scaled MSE that drives the multiplier update.
    """
    fit = weighted_mean_square(terms.total - target, weights) / scale
    norm = weighted_mean_square(terms.learned, weights) / scale
    return norm + multiplier * fit, fit


def update_multiplier(multiplier: jax.Array, fit: jax.Array, rate) -> jax.Array:
    """Multiplier step of adaptive APHYNITY: λ ← λ + τ·fit (fit is the scaled MSE)."""
    return multiplier + rate * fit
