"""Shared helpers of the trainer tests (and benchmarks/graph_training_seeds.py).

* :func:`pair_mlp_model`: a small but real learned potential as a ``GraphModel``,
  E = ½ Σ_edges MLP(gaussian basis of r, species embeddings) · f_c(r) (+ an optional learned
  three-body term Σ_triplets a(Z_j) cos θ f_c f_c, to exercise the triplet path);
* :func:`emt_structures`: rattled Cu/Al fcc cells and small clusters labelled by ASE's EMT.
"""

from __future__ import annotations

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hybridpot.basis.envelopes import cosine_cutoff
from hybridpot.basis.gaussian import gaussian_basis, gaussian_centers
from hybridpot.graph import edge_distances, edge_graph_index, triplet_angles, triplet_mask
from hybridpot.models import MLP, GraphModel
from hybridpot.potential import pair_energy
from hybridpot.train import Dataset

SPECIES = (13, 29)  # Al, Cu


class PairMLP(nn.Module):
    """Learned pair potential u(r, Z_i, Z_j) = MLP([g(r), e_{Z_i} + e_{Z_j}]) · f_c(r); eV."""

    cutoff: float
    species: tuple = SPECIES
    n_basis: int = 8
    hidden: tuple = (16, 16)
    three_body: bool = False
    param_dtype: jnp.dtype = jnp.float32

    @nn.compact
    def __call__(self, graph, triplets=None):
        table = np.zeros(119, np.int32)
        table[list(self.species)] = np.arange(len(self.species))
        table = jnp.asarray(table)
        embed = nn.Embed(len(self.species), 4, param_dtype=self.param_dtype)
        mlp = MLP(self.hidden, 1, activation=nn.silu, param_dtype=self.param_dtype)
        centers = gaussian_centers(0.5, self.cutoff, self.n_basis)
        width = (self.cutoff - 0.5) / (self.n_basis - 1)

        def pair_fn(r, z_i, z_j):
            x = jnp.concatenate([gaussian_basis(r, centers, width), embed(table[z_i]) + embed(table[z_j])], axis=-1)
            return mlp(x.astype(self.param_dtype))[:, 0] * cosine_cutoff(r, self.cutoff)

        energy = pair_energy(graph, pair_fn)
        if self.three_body:
            a = self.param("three_body", nn.initializers.normal(0.01), (len(self.species),), self.param_dtype)
            cos_t, _ = triplet_angles(graph, triplets)
            r = jnp.where(jnp.isfinite(edge_distances(graph)), edge_distances(graph), 0.0)
            fc = cosine_cutoff(r, self.cutoff)
            z_j = graph.nodes["atomic_numbers"][graph.senders[triplets.ji]]
            t = a[table[z_j]] * cos_t * fc[triplets.kj] * fc[triplets.ji]
            t = jnp.where(triplet_mask(graph, triplets), t, 0.0)
            graph_of = edge_graph_index(graph)[triplets.ji]
            energy = energy + jax.ops.segment_sum(t, graph_of, num_segments=graph.n_node.shape[0])
        return energy


@functools.lru_cache(maxsize=None)
def pair_mlp_model(cutoff: float = 4.0, three_body: bool = False, dtype=jnp.float64) -> GraphModel:
    """The test model as a ``GraphModel`` (cached: one object, so compiled steps are shared)."""
    module = PairMLP(cutoff, three_body=three_body, param_dtype=dtype)
    return GraphModel(
        init=lambda key, graph, triplets: module.init(key, graph, triplets),
        energy=lambda params, graph, triplets: module.apply(params, graph, triplets),
        cutoff=cutoff,
        needs_triplets=three_body,
        species=SPECIES,
    )


def emt_structures(n_bulk: int = 16, n_cluster: int = 8, seed: int = 0) -> Dataset:
    """EMT-labelled Cu/Al: rattled, strained 4-atom fcc cells (with stress) and 3–5-atom clusters."""
    from ase import Atoms
    from ase.build import bulk
    from ase.calculators.emt import EMT

    rng = np.random.default_rng(seed)
    images = []
    for _ in range(n_bulk):
        atoms = bulk("Cu", "fcc", a=3.6, cubic=True)
        atoms.numbers = rng.choice([13, 29], size=len(atoms))
        strain = np.eye(3) + rng.uniform(-0.02, 0.02, (3, 3))
        atoms.set_cell(atoms.cell[:] @ strain, scale_atoms=True)
        atoms.rattle(0.05, seed=int(rng.integers(1 << 30)))
        images.append(atoms)
    for _ in range(n_cluster):
        n = int(rng.integers(3, 6))
        pos = [np.zeros(3)]
        while len(pos) < n:
            p = pos[int(rng.integers(len(pos)))] + rng.normal(size=3) / np.sqrt(3) * 2.5
            if min(np.linalg.norm(p - q) for q in pos) > 2.2:
                pos.append(p)
        images.append(Atoms(numbers=rng.choice([13, 29], size=n), positions=np.array(pos)))
    for atoms in images:
        atoms.calc = EMT()
    return Dataset.from_atoms(images)


@pytest.fixture(scope="session")
def emt_data():
    """(train, valid) EMT datasets: 20 + 4 structures."""
    data = emt_structures()
    return data.split(4, seed=1)
