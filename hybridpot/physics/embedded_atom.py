r"""Second-moment (Gupta / Cleri–Rosato tight-binding) embedded-atom energy for metals.

The band energy of atom i is the square root of the second moment of its local density of
states, the repulsion a Born–Mayer sum (F. Cleri & V. Rosato, Phys. Rev. B 48, 22 (1993)):

.. math::
    E_i = \sum_{j \ne i} A_{ab}\, e^{-p_{ab} (r_{ij}/r_{0,ab} - 1)} u(r_{ij})
          - \sqrt{\sum_{j \ne i} \xi_{ab}^2\, e^{-2 q_{ab} (r_{ij}/r_{0,ab} - 1)} u(r_{ij})},

with a, b the species of i and j, and u the polynomial envelope
(:func:`hybridpot.basis.envelopes.polynomial_envelope`, p = 6) at ``cutoff``, so energy, forces
and their derivative vanish smoothly at the cutoff. It is an embedded-atom model with embedding
function F(ρ) = −√ρ: the many-body physics baseline of the Al–Ni study (issue 6), whose
parameters are fitted to the data before the network learns the rest (Sequential Phy-ML).

Units: r, r₀ in Å; A, ξ in eV; p, q dimensionless. The sum over j runs over the *directed* edges
into i (each neighbour once per atom, so every pair enters both atoms' sums).

Three tiers, as for the pair kernels: :func:`second_moment_edge_terms` (kernels of r),
:func:`second_moment_atomic_energies` (the per-atom sums over an edge list, arrays in and out);
the graph-level total is :func:`hybridpot.models.behler_parrinello.second_moment_energy`.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from hybridpot._checks import check_positive
from hybridpot.basis.envelopes import polynomial_envelope


class SecondMomentParams(NamedTuple):
    """Species-pair parameters (a pytree: trainable, vmappable); each leaf ``[S, S]`` symmetric.

    Attributes:
        a: repulsion prefactor A, eV.
        p: repulsion decay p, dimensionless.
        xi: hopping integral ξ, eV.
        q: hopping decay q, dimensionless.
        r0: reference distance r₀ (nearest-neighbour distance), Å.
    """

    a: ArrayLike
    p: ArrayLike
    xi: ArrayLike
    q: ArrayLike
    r0: ArrayLike


def second_moment_edge_terms(
    r: ArrayLike, species_i: ArrayLike, species_j: ArrayLike, params: SecondMomentParams, cutoff: float
) -> tuple[jnp.ndarray, jnp.ndarray]:
    """Repulsion A e^{−p(r/r₀−1)} u(r) and squared hopping ξ² e^{−2q(r/r₀−1)} u(r) per edge.

    Args:
        r: ``[n_edge]`` Å (> 0; padded edges must be replaced by a safe value by the caller).
        species_i, species_j: ``[n_edge]`` int species indices (0..S−1) of receiver and sender.
        params: :class:`SecondMomentParams`.
        cutoff: envelope cutoff, Å.
    Returns:
        ``(repulsion [n_edge] eV, hopping_sq [n_edge] eV²)``.
    """
    check_positive("cutoff", cutoff)
    r = jnp.asarray(r)
    a, p, xi, q, r0 = (jnp.asarray(x)[species_i, species_j] for x in params)
    x = r / r0 - 1.0
    u = polynomial_envelope(r, cutoff)
    return a * jnp.exp(-p * x) * u, xi**2 * jnp.exp(-2.0 * q * x) * u


def second_moment_atomic_energies(
    r: ArrayLike,
    species_i: ArrayLike,
    species_j: ArrayLike,
    receivers: ArrayLike,
    edge_weight: ArrayLike,
    n_node: int,
    params: SecondMomentParams,
    cutoff: float,
) -> jnp.ndarray:
    """Per-atom second-moment energies E_i (module docstring) from a directed edge list.

    Args:
        r: ``[n_edge]`` Å; padded edges may hold any value (give them ``edge_weight`` 0).
        species_i, species_j: ``[n_edge]`` species indices of receiver i and sender j.
        receivers: ``[n_edge]`` int, the atom i each edge adds to.
        edge_weight: ``[n_edge]`` 1 for real edges, 0 for padding.
        n_node: number of atoms (static).
        params: :class:`SecondMomentParams`.
        cutoff: envelope cutoff, Å.
    Returns:
        ``[n_node]`` eV; an atom without neighbours gets 0 with a finite gradient.
    """
    w = jnp.asarray(edge_weight)
    r_safe = jnp.where(w > 0, jnp.asarray(r), 1.0)
    rep, hop = second_moment_edge_terms(r_safe, species_i, species_j, params, cutoff)
    rep = jax.ops.segment_sum(jnp.where(w > 0, rep, 0.0), receivers, num_segments=n_node)
    rho = jax.ops.segment_sum(jnp.where(w > 0, hop, 0.0), receivers, num_segments=n_node)
    positive = rho > 0
    band = jnp.where(positive, jnp.sqrt(jnp.where(positive, rho, 1.0)), 0.0)
    return rep - band


def second_moment_params(n_species: int, a=0.1, p=10.0, xi=1.5, q=2.5, r0=2.7, dtype=np.float64) -> SecondMomentParams:
    """Species-pair parameters filled with the same starting values (``[S, S]`` each).

    The defaults are of the size of the Cleri–Rosato fcc-metal fits (A ≈ 0.1 eV, p ≈ 10,
    ξ ≈ 1.5 eV, q ≈ 2.5, r₀ ≈ nearest-neighbour distance); a starting point for a fit.
    """
    full = lambda v: np.full((n_species, n_species), float(v), dtype)  # noqa: E731
    return SecondMomentParams(full(a), full(p), full(xi), full(q), full(r0))


def symmetrize_params(params: SecondMomentParams) -> SecondMomentParams:
    """Each ``[S, S]`` leaf replaced by (X + Xᵀ)/2, so pair parameters do not depend on order."""
    return SecondMomentParams(*(0.5 * (jnp.asarray(x) + jnp.swapaxes(jnp.asarray(x), -1, -2)) for x in params))
