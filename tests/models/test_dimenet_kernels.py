"""DimeNet's triplet contractions against the direct formulas they reorder (float64, small graph).

The interaction blocks never form the ``[n_triplet, L·N]`` SBF; these checks pin the reordered
products to ``combine_spherical_basis(radial[kj], angular) @ W`` on real triplets of a molecule,
values and gradients, so a change of contraction order cannot change the model.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hybridpot.basis import (
    combine_spherical_basis,
    spherical_bessel_radial,
    zonal_spherical_harmonics,
)
from hybridpot.graph import build_graph, build_triplets, edge_distances, triplet_angles
from hybridpot.io import bundled_md17
from hybridpot.models.dimenet import spherical_basis_projection

pytestmark = pytest.mark.heavy  # two float64 gradient programs of a real molecule's triplets

L, N, K, CUTOFF = 4, 3, 5, 4.0


def _triplet_inputs():
    """radial [E, L, N], angular [T, L], kj [T] of an ethanol frame, and a random kernel [L·N, K]."""
    frames = bundled_md17()
    graph = build_graph(frames.positions[0], frames.numbers, CUTOFF)
    triplets = build_triplets(graph)
    _, theta = triplet_angles(graph, triplets)
    radial = spherical_bessel_radial(edge_distances(graph), CUTOFF, L, N)
    angular = zonal_spherical_harmonics(theta, L)
    kernel = jax.random.normal(jax.random.PRNGKey(0), (L * N, K), jnp.float64)
    return radial, angular, jnp.asarray(triplets.kj), kernel


def _direct(radial, angular, kj, kernel):
    """The formula the model used before: the [T, L·N] basis, then the product."""
    return combine_spherical_basis(radial[kj], angular) @ kernel


def test_projection_equals_direct_formula():
    radial, angular, kj, kernel = _triplet_inputs()
    assert kj.shape[0] > 100  # a molecule's worth of triplets, not a trivial case
    got = spherical_basis_projection(radial, angular, kj, kernel)
    np.testing.assert_allclose(got, _direct(radial, angular, kj, kernel), rtol=1e-12, atol=1e-14)


def test_projection_gradients_equal_direct_formula():
    radial, angular, kj, kernel = _triplet_inputs()
    weights = jax.random.normal(jax.random.PRNGKey(1), (kj.shape[0], K), jnp.float64)

    def loss(f):
        return lambda r, a, w: jnp.sum(weights * jnp.sin(f(r, a, kj, w)))

    got = jax.grad(loss(spherical_basis_projection), argnums=(0, 1, 2))(radial, angular, kernel)
    want = jax.grad(loss(_direct), argnums=(0, 1, 2))(radial, angular, kernel)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-11, atol=1e-13)
