r"""Energy, force and stress losses and error metrics over padded batches.

Every loss and metric is a masked *sum* with its *count*, so that sums over devices, sub-batches
or a whole validation set are exact, and padding (nodes and graphs of the padding) never counts:

.. math::
    L = w_E \frac{\sum_g \ell(\Delta E_g)}{N_g} + w_F \frac{\sum_{i,a} \ell(\Delta F_{ia})}{3 N_\text{atoms}}
        + w_\sigma \frac{\sum_{g,ab} \ell(\Delta\sigma_{g,ab})}{9 N_\sigma}
        + \lambda \frac{\sum_g (E^\text{learned}_g / N_g)^2}{N_g},

with :math:`\ell` the MSE, MAE or Huber elementwise loss, :math:`\Delta E_g` in eV or eV/atom,
and the last term (λ, the ``penalty`` of an :func:`hybridpot.hybrid.aphynity` hybrid) the APHYNITY
penalty on the learned part :math:`E^\text{learned} = s\,E^\text{model}` of a hybrid (the
per-element shift excluded).
Metrics (MAE, RMSE) are reported in :data:`UNITS`.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from hybridpot.graph.batch import graph_mask, node_graph_index, node_mask

#: Units of the reported metrics.
UNITS = {"energy": "eV", "energy_per_atom": "eV/atom", "forces": "eV/Å", "stress": "eV/Å³",
         "learned_per_atom": "eV/atom"}


class Predictions(NamedTuple):
    """Model outputs on a padded batch.

    Attributes:
        energy: ``[n_graph]`` eV.
        forces: ``[n_node, 3]`` eV/Å, or None when not computed (energy-only evaluation).
        stress: ``[n_graph, 3, 3]`` eV/Å³, or None when not computed.
        learned: ``[n_graph]`` eV, the learned part s·E_model of a hybrid, or None.
    """

    energy: jax.Array
    forces: jax.Array | None
    stress: jax.Array | None = None
    learned: jax.Array | None = None


def elementwise_loss(diff: jax.Array, kind: str, delta: float = 1.0) -> jax.Array:
    """ℓ(diff) elementwise: ``"mse"`` diff², ``"mae"`` |diff|, ``"huber"`` ½d² (|d|≤δ) else δ(|d|−½δ).

    Same shape and unit² (mse) or unit (mae, huber/δ scaled) as ``diff``.
    """
    if kind == "mse":
        return diff**2
    if kind == "mae":
        return jnp.abs(diff)
    if kind == "huber":
        a = jnp.abs(diff)
        return jnp.where(a <= delta, 0.5 * diff**2, delta * (a - 0.5 * delta))
    raise ValueError(f"unknown loss kind {kind!r}; use 'mse', 'mae' or 'huber'")


def _residuals(pred: Predictions, batch, per_atom: bool):
    """Differences and masks of every quantity: name -> (diff, mask broadcastable to diff)."""
    gmask = graph_mask(batch.graph)
    nmask = node_mask(batch.graph)
    n_atoms = jnp.where(gmask, batch.n_atoms, 1.0)
    de = pred.energy - batch.energy
    out = {
        "energy": (de, gmask),
        "energy_per_atom": (de / n_atoms, gmask),
    }
    if pred.forces is not None:
        fmask = nmask & batch.has_forces[node_graph_index(batch.graph)]
        out["forces"] = (pred.forces - batch.forces, fmask[:, None])
    if pred.stress is not None:
        smask = gmask & batch.has_stress
        out["stress"] = (pred.stress - batch.stress, smask[:, None, None])
    if pred.learned is not None:  # not a residual: its size, which the penalty keeps small
        out["learned_per_atom"] = (pred.learned / n_atoms, gmask)
    return out


def _masked_sum(values, mask):
    mask = jnp.broadcast_to(mask, values.shape)
    return jnp.sum(jnp.where(mask, values, 0.0)), jnp.sum(mask.astype(values.dtype))


def loss_sums(pred: Predictions, batch, config) -> dict:
    """Per-quantity ``(Σ ℓ, count)`` over the real entries of a padded batch (scalars).

    Args:
        pred: :class:`Predictions`.
        batch: a :class:`hybridpot.train.data.Batch` (one sub-batch, no leading axes).
        config: :class:`~hybridpot.train.config.LossConfig`.
    Returns:
        ``{"energy", "forces"[, "stress"][, "learned"]}`` → ``(sum, count)``; energy is per atom
        when ``config.energy_per_atom``; ``learned`` (Σ of squared learned energy per atom) when
        the predictions carry the learned part.
    """
    res = _residuals(pred, batch, config.energy_per_atom)
    out = {}
    energy_key = "energy_per_atom" if config.energy_per_atom else "energy"
    for name, key in (("energy", energy_key), ("forces", "forces"), ("stress", "stress")):
        if key in res:
            diff, mask = res[key]
            out[name] = _masked_sum(elementwise_loss(diff, config.kind, config.huber_delta), mask)
    if "learned_per_atom" in res:
        value, mask = res["learned_per_atom"]
        out["learned"] = _masked_sum(value**2, mask)
    return out


def total_loss(sums: dict, config, penalty: float = 0.0) -> jax.Array:
    """Weighted loss ``Σ_q w_q · Σℓ_q / max(count_q, 1)`` from (summed) :func:`loss_sums`; scalar.

    ``penalty``: λ of the learned part's mean square per atom, (eV/atom)⁻² (APHYNITY; 0: none).
    """
    weights = {"energy": config.energy_weight, "forces": config.forces_weight, "stress": config.stress_weight,
               "learned": penalty}
    total = 0.0
    for name, (s, n) in sums.items():
        if weights[name]:
            total = total + weights[name] * s / jnp.maximum(n, 1.0)
    return jnp.asarray(total)


def metric_sums(pred: Predictions, batch) -> dict:
    """Per-quantity ``[3]`` = (Σ|Δ|, ΣΔ², count) over real entries, for :func:`metrics_from_sums`
    (for ``learned_per_atom``, the learned energy per atom itself: its MAE and RMS size)."""
    out = {}
    for name, (diff, mask) in _residuals(pred, batch, True).items():
        s_abs, n = _masked_sum(jnp.abs(diff), mask)
        s_sq, _ = _masked_sum(diff**2, mask)
        out[name] = jnp.stack([s_abs, s_sq, n])
    return out


def metrics_from_sums(sums: dict) -> dict:
    """``{"energy_mae", "energy_rmse", "forces_mae", ...}`` (units in :data:`UNITS`) from summed
    :func:`metric_sums`; each value has the shape of the leading axes of the sums (e.g. ``[n_seeds]``).
    Quantities with count 0 are left out."""
    out = {}
    for name, s in sums.items():
        s = np.asarray(s, dtype=np.float64)
        n = s[..., 2]
        if np.all(n == 0):
            continue
        n = np.maximum(n, 1.0)
        out[f"{name}_mae"] = s[..., 0] / n
        out[f"{name}_rmse"] = np.sqrt(s[..., 1] / n)
    return out
