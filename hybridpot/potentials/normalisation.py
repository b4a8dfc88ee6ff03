r"""The per-element energy shift and the energy scale of the learned part of a potential.

The assembled potential (:mod:`hybridpot.potentials.assembled`) evaluates

.. math::
    E_g = \mathrm{strategy}\Big(E^\text{phys}_g,\ \sum_{i \in g} \mu_{Z_i} + s\, E^\text{model}_g(\theta)\Big),

with :math:`\mu_Z` eV/atom and :math:`s` eV (fitted by :func:`hybridpot.train.fit_energy_normalisation`).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from hybridpot.elements import N_ELEMENTS
from hybridpot.potential import graph_sum


class EnergyNormalisation(NamedTuple):
    """Per-element shift and global scale.

    Attributes:
        shift: ``[119]`` eV per atom, indexed by atomic number (0 for padding and unseen elements).
        scale: ``[]`` eV, multiplies the model's output.
    """

    shift: np.ndarray
    scale: np.ndarray


def identity_normalisation(dtype=np.float64) -> EnergyNormalisation:
    """No shift (zeros) and unit scale."""
    return EnergyNormalisation(np.zeros(N_ELEMENTS, dtype), np.asarray(1.0, dtype))


def _atomic_shift(graph, normalisation: EnergyNormalisation) -> jax.Array:
    """``μ_{Z_i}`` per atom: ``[n_node]`` eV (padding atoms, Z = 0, get 0)."""
    return jnp.asarray(normalisation.shift)[graph.nodes["atomic_numbers"]]


def shift_energy(graph, normalisation: EnergyNormalisation) -> jax.Array:
    """``Σ_i μ_{Z_i}`` per graph: ``[n_graph]`` eV (padding nodes add 0), the per-element part. Jittable."""
    return graph_sum(_atomic_shift(graph, normalisation), graph)


def normalised_energy(model_energy: jax.Array, graph, normalisation: EnergyNormalisation) -> jax.Array:
    """``s · model_energy + Σ_i μ_{Z_i}`` per graph: ``[n_graph]`` eV (padding nodes add 0). Jittable."""
    dtype = model_energy.dtype
    scale = jnp.asarray(normalisation.scale).astype(dtype)
    return scale * model_energy + shift_energy(graph, normalisation).astype(dtype)


def normalised_atomic_energy(model_atomic: jax.Array, graph, normalisation: EnergyNormalisation) -> jax.Array:
    """``s · model_atomic_i + μ_{Z_i}`` per atom: ``[n_node]`` eV (padding atoms, Z = 0, keep 0); its
    graph sum is :func:`normalised_energy` of the model's energy. Jittable."""
    dtype = model_atomic.dtype
    scale = jnp.asarray(normalisation.scale).astype(dtype)
    return scale * model_atomic + _atomic_shift(graph, normalisation).astype(dtype)
