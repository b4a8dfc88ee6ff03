r"""A learned pair potential: an MLP of the distance and the two species, smoothly cut off.

.. math::
    E_g = \tfrac12 \sum_{e = (j \to i) \in g} u(r_e, Z_i, Z_j), \qquad
    u(r, Z_i, Z_j) = \mathrm{MLP}\big([\,g(r),\; e_{Z_i} + e_{Z_j}\,]\big)\, f_c(r),

with :math:`g(r)` ``n_basis`` Gaussians centred from 0.5 Å to the cutoff (standard deviation equal to
their spacing, Å), :math:`e_Z` a learned ``embedding_dim``-vector per species (the sum makes u symmetric in
i ↔ j), a SiLU MLP and the Behler–Parrinello cosine cutoff :math:`f_c` (u and u′ vanish at r_c).
Energies in eV, distances in Å.

Optional learned three-body term (``three_body=True``), a minimal angular term that exercises the
triplet path of trainers and calculators:

.. math::
    E^{(3)}_g = \sum_{k \to j \to i} a_{Z_j} \cos\theta_{kji}\, f_c(r_{kj}) f_c(r_{ji}).

:func:`pair_mlp_model` wraps the module into a :class:`~hybridpot.models.GraphModel`; it is the
``"pair_mlp"`` kind of model files (:mod:`hybridpot.potentials.registry`).
"""

from __future__ import annotations

import functools
from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from hybridpot.basis.envelopes import cosine_cutoff
from hybridpot.basis.gaussian import gaussian_basis, gaussian_centers
from hybridpot.elements import N_ELEMENTS, species_index_table
from hybridpot.graph import (
    edge_distances,
    triplet_angles,
    triplet_mask,
)
from hybridpot.models.mlp import MLP
from hybridpot.potential import GraphModel, atomic_model, pair_atomic_energy


class PairMLP(nn.Module):
    """Learned pair potential u(r, Z_i, Z_j) = MLP([g(r), e_{Z_i} + e_{Z_j}]) · f_c(r), eV.

    Attributes:
        cutoff: r_c, Å; pairs beyond it contribute exactly 0.
        species: atomic numbers with an embedding row, or None for every element 1..118.
        n_basis: Gaussians of r (≥ 2), centred on [0.5 Å, r_c].
        hidden: widths of the SiLU hidden layers.
        three_body: add the learned term a(Z_j) cos θ f_c f_c (needs triplets).
        param_dtype: dtype of the parameters and of the MLP's arithmetic.
        embedding_dim: length of the species embedding.

    ``__call__(graph, triplets=None) -> [n_node]`` eV per atom (half of each pair, the angular
    term on its central atom; padding atoms give 0).
    """

    cutoff: float
    species: tuple[int, ...] | None = None
    n_basis: int = 8
    hidden: tuple[int, ...] = (16, 16)
    three_body: bool = False
    param_dtype: jnp.dtype = jnp.float32
    embedding_dim: int = 4

    @nn.compact
    def __call__(self, graph, triplets=None):
        if self.species is None:  # one embedding row per atomic number
            table = jnp.arange(N_ELEMENTS, dtype=jnp.int32)
            n_rows = N_ELEMENTS
        else:  # unknown elements are rejected host-side; padding atoms read row 0 and are masked
            table = jnp.asarray(np.maximum(species_index_table(self.species), 0))
            n_rows = len(self.species)
        embed = nn.Embed(n_rows, self.embedding_dim, param_dtype=self.param_dtype)
        mlp = MLP(tuple(self.hidden), 1, activation=nn.silu, param_dtype=self.param_dtype)
        centers = gaussian_centers(0.5, self.cutoff, self.n_basis)
        width = (self.cutoff - 0.5) / (self.n_basis - 1)

        def pair_fn(r, z_i, z_j):
            x = jnp.concatenate([gaussian_basis(r, centers, width), embed(table[z_i]) + embed(table[z_j])], axis=-1)
            return mlp(x.astype(self.param_dtype))[:, 0] * cosine_cutoff(r, self.cutoff)

        energy = pair_atomic_energy(graph, pair_fn)
        if self.three_body:
            if triplets is None:
                raise ValueError("PairMLP(three_body=True) needs triplets (hybridpot.graph.build_triplets)")
            a = self.param("three_body", nn.initializers.normal(0.01), (n_rows,), self.param_dtype)
            cos_t, _ = triplet_angles(graph, triplets)
            r = jnp.where(jnp.isfinite(edge_distances(graph)), edge_distances(graph), 0.0)
            fc = cosine_cutoff(r, self.cutoff)
            z_j = graph.nodes["atomic_numbers"][graph.senders[triplets.ji]]
            t = a[table[z_j]] * cos_t * fc[triplets.kj] * fc[triplets.ji]
            t = jnp.where(triplet_mask(graph, triplets), t, 0.0)
            # the angle k → j → i belongs to its central atom j
            energy = energy + jax.ops.segment_sum(t, graph.senders[triplets.ji], num_segments=energy.shape[0])
        return energy


def pair_mlp_model(
    cutoff: float = 4.0,
    species: Sequence[int] | None = None,
    *,
    n_basis: int = 8,
    hidden: Sequence[int] = (16, 16),
    embedding_dim: int = 4,
    three_body: bool = False,
    dtype="float32",
) -> GraphModel:
    """A :class:`PairMLP` as a :class:`~hybridpot.models.GraphModel` (the ``"pair_mlp"`` model kind).

    Calls with equal arguments return the *same* object, so compiled training steps and
    calculators are shared between them.

    Args:
        cutoff: r_c, Å (> 0.5).
        species: atomic numbers the model is built for (sorted and deduplicated; a structure with
            another element is rejected by trainers and calculators), or None for any element.
        n_basis: Gaussians of r (≥ 2).
        hidden: hidden-layer widths.
        embedding_dim: species-embedding length.
        three_body: add the learned angular term (the model then needs triplets).
        dtype: parameter dtype, a name (``"float32"``, ``"float64"``) or a numpy/jax dtype.

    Returns:
        ``GraphModel`` with ``energy(params, graph, triplets) -> [n_graph]`` eV.
    """
    if not float(cutoff) > 0.5:
        raise ValueError(f"pair_mlp cutoff must exceed 0.5 Å (the first Gaussian centre), got {cutoff}")
    if int(n_basis) < 2:
        raise ValueError(f"pair_mlp n_basis must be at least 2, got {n_basis}")
    spec = None if species is None else tuple(sorted({int(z) for z in species}))
    if spec is not None and (not spec or spec[0] < 1 or spec[-1] > 118):
        raise ValueError(f"pair_mlp species must be atomic numbers in 1..118, got {list(species)}")
    return _pair_mlp_model(float(cutoff), spec, int(n_basis), tuple(int(h) for h in hidden), int(embedding_dim),
                           bool(three_body), np.dtype(dtype).name)


@functools.lru_cache(maxsize=None)
def _pair_mlp_model(cutoff, species, n_basis, hidden, embedding_dim, three_body, dtype) -> GraphModel:
    module = PairMLP(cutoff, species, n_basis, hidden, three_body, jnp.dtype(dtype), embedding_dim)
    return atomic_model(lambda key, graph, triplets: module.init(key, graph, triplets),
                        lambda params, graph, triplets: module.apply(params, graph, triplets),
                        cutoff, needs_triplets=three_body, species=species)


#: Model kinds this module provides (found by :mod:`hybridpot.potentials.registry` for model files).
MODEL_KINDS = {"pair_mlp": pair_mlp_model}
