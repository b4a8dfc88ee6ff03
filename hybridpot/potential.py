r"""Energy → forces and stress for any ``energy_fn(params, graph) -> [n_graph] eV``.

Forces are :math:`F = -\partial E_\text{tot} / \partial R` (eV/Å) with
:math:`E_\text{tot} = \sum_g E_g` over real graphs. Stress (eV/Å³, ASE sign convention) is

.. math::
    \sigma_g = \frac{1}{V_g} \frac{\partial E_g}{\partial \varepsilon_g}\Big|_{\varepsilon = 0},

from a symmetric strain ε applied per graph to positions, edge shifts and cell,
R' = R (I + ε), shift' = shift (I + ε), cell' = cell (I + ε) (row vectors).
Everything here works under ``jax.jit`` and ``jax.vmap`` (e.g. over stacked params).
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import jraph
import numpy as np

from hybridpot._checks import is_concrete
from hybridpot.graph.batch import (
    edge_graph_index,
    edge_mask,
    graph_mask,
    node_graph_index,
    node_mask,
)
from hybridpot.graph.geometry import edge_distances
from hybridpot.graph.neighbours import available_memory
from hybridpot.graph.sums import contiguous_segment_sum
from hybridpot.graph.triplets import Triplets

EnergyFn = Callable[[object, jraph.GraphsTuple], jnp.ndarray]


class GraphModel(NamedTuple):
    """A potential over ``jraph.GraphsTuple`` structures (see :mod:`hybridpot.graph`).

    Every model, physics term and hybrid of hybridpot is one; strategies
    (:mod:`hybridpot.hybrid`) compose two into a third.

    Attributes:
        init: ``(key, graph, triplets) -> params``; ``triplets`` is None unless
            ``needs_triplets``.
        energy: ``(params, graph, triplets) -> [n_graph]`` energies in eV; padded graphs give 0.
            Forces and stress come from :mod:`hybridpot.potential` (by ``jax.grad``), never
            from a separate head.
        cutoff: neighbour-list cutoff the graphs must be built with, Å (None only for a physics
            term that reads whatever edges the graph has).
        needs_triplets: whether ``energy`` reads angular triplets k → j → i.
        species: atomic numbers the model was built for (None: any); a structure with another
            element must raise a ``ValueError`` naming it before it reaches ``energy``.
        hybrid: for a composite built by a strategy, its parts
            (:class:`hybridpot.hybrid.graph.HybridParts`); None for a single model or term.
        atomic_energy: ``(params, graph, triplets) -> [n_node]`` energies per atom, eV, that sum
            to ``energy`` over each graph (padding atoms 0); None for a model without such a
            decomposition. :func:`atomic_model` builds ``energy`` from it.
    """

    init: Callable[[jax.Array, jraph.GraphsTuple, Triplets | None], Any]
    energy: Callable[[Any, jraph.GraphsTuple, Triplets | None], jax.Array]
    cutoff: float | None
    needs_triplets: bool = False
    species: tuple[int, ...] | None = None
    hybrid: Any = None
    atomic_energy: Callable[[Any, jraph.GraphsTuple, Triplets | None], jax.Array] | None = None


def graph_sum(node_values: jax.Array, graph: jraph.GraphsTuple) -> jax.Array:
    """Per-atom values ``[n_node]`` summed per graph: ``[n_graph]`` (padding atoms must hold 0). Jittable.

    Compensated (:func:`hybridpot.graph.sums.contiguous_segment_sum`): the energy per atom of a
    float32 crystal does not drift with its size, as a running float32 ``segment_sum`` does."""
    return contiguous_segment_sum(node_values, graph.n_node)


def atomic_model(init: Callable, atomic_energy: Callable, cutoff: float | None, *, needs_triplets: bool = False,
                 species: tuple[int, ...] | None = None) -> GraphModel:
    """A :class:`GraphModel` whose energy is the per-graph sum of ``atomic_energy(params, graph,
    triplets) -> [n_node]`` eV: both come from one function, so they cannot disagree."""

    def energy(params, graph, triplets=None):
        return graph_sum(atomic_energy(params, graph, triplets), graph)

    return GraphModel(init=init, energy=energy, cutoff=cutoff, needs_triplets=needs_triplets, species=species,
                      atomic_energy=atomic_energy)


#: Distance (Å) fed to ``pair_fn`` in place of padded edges; its output is discarded.
_SAFE_R = 1.0


def pair_atomic_energy(graph: jraph.GraphsTuple, pair_fn: Callable) -> jnp.ndarray:
    r"""Per-atom pair energy :math:`E_i = \tfrac12 \sum_{j} u(r_{ij}, Z_i, Z_j)` over the directed edges into i.

    Each pair appears twice in the full neighbour list (i ← j and j ← i), so each atom of a pair
    gets half of it. Padded edges are masked with a double ``where`` (r and Z replaced by safe
    values before ``pair_fn``, output zeroed after), so they add exactly 0 with zero, finite
    gradients even when ``pair_fn(0)`` is inf.

    Args:
        graph: ``GraphsTuple`` (possibly batched/padded).
        pair_fn: ``pair_fn(r, z_i, z_j) -> [n_edge]`` eV with ``r: [n_edge]`` Å and ``z_i, z_j:
            [n_edge] int32`` (receiver, sender). Use the edges of the graph as its cutoff: e.g.
            ``lambda r, zi, zj: lennard_jones_energy(r, params)``.

    Returns:
        ``[n_node]`` eV.
    """
    mask = edge_mask(graph)
    r = edge_distances(graph)
    z = graph.nodes["atomic_numbers"]
    r_safe = jnp.where(mask, r, _SAFE_R)
    z_i = jnp.where(mask, z[graph.receivers], 1)
    z_j = jnp.where(mask, z[graph.senders], 1)
    u = jnp.where(mask, pair_fn(r_safe, z_i, z_j), 0.0)
    return 0.5 * jax.ops.segment_sum(u, graph.receivers, num_segments=z.shape[0])


def pair_energy(graph: jraph.GraphsTuple, pair_fn: Callable) -> jnp.ndarray:
    r"""Per-graph pair energy :math:`E_g = \tfrac12 \sum_{e \in g} u(r_e, Z_i, Z_j)`: the graph sum of
    :func:`pair_atomic_energy` (same arguments); ``[n_graph]`` eV."""
    return graph_sum(pair_atomic_energy(graph, pair_fn), graph)


def _with_positions(graph: jraph.GraphsTuple, positions) -> jraph.GraphsTuple:
    return graph._replace(nodes={**graph.nodes, "positions": positions})


def strain_graph(graph: jraph.GraphsTuple, strain: jnp.ndarray) -> jraph.GraphsTuple:
    """Apply the strain ``strain: [n_graph, 3, 3]`` (symmetrised) per graph.

    Positions, edge shifts and cell rows are mapped x → x (I + ε_sym), ε_sym = (ε + εᵀ)/2.
    """
    eps = 0.5 * (strain + jnp.swapaxes(strain, -1, -2))
    deform = jnp.eye(3, dtype=eps.dtype) + eps
    positions = graph.nodes["positions"]
    shifts = graph.edges["shifts"]
    positions = jnp.einsum("ni,nij->nj", positions, deform[node_graph_index(graph)])
    shifts = jnp.einsum("ei,eij->ej", shifts, deform[edge_graph_index(graph)])
    cell = jnp.einsum("gij,gjk->gik", graph.globals["cell"], deform)
    return graph._replace(
        nodes={**graph.nodes, "positions": positions},
        edges={**graph.edges, "shifts": shifts},
        globals={**graph.globals, "cell": cell},
    )


def cell_volumes(graph: jraph.GraphsTuple) -> jnp.ndarray:
    """``[n_graph]`` Å³: |det cell| (0 for molecules and padding graphs)."""
    return jnp.abs(jnp.linalg.det(graph.globals["cell"]))


def _check_periodic(graph: jraph.GraphsTuple) -> None:
    pbc, cell = graph.globals["pbc"], graph.globals["cell"]
    if not (is_concrete(pbc) and is_concrete(cell) and is_concrete(graph.nodes["atomic_numbers"])):
        return
    real = np.asarray(graph_mask(graph))
    periodic = np.asarray(pbc).any(axis=-1)
    volume = np.abs(np.linalg.det(np.asarray(cell)))
    bad = real & (~periodic | (volume <= 0))
    if bad.any():
        g = np.flatnonzero(bad).tolist()
        raise ValueError(
            f"stress needs periodic graphs with a non-singular cell; graph(s) {g} are non-periodic "
            "(pbc all False) or have zero cell volume. Use energy_and_forces for molecules."
        )


def _masked_energy(energy_fn: EnergyFn, params, graph: jraph.GraphsTuple, has_aux: bool):
    out = energy_fn(params, graph)
    e, aux = out if has_aux else (out, None)
    e = jnp.where(graph_mask(graph), e, 0.0)
    return jnp.sum(e), (e, aux)


def energy_and_forces(energy_fn: EnergyFn, *, has_aux: bool = False) -> Callable:
    """Wrap ``energy_fn`` into ``(params, graph) -> (energy [n_graph] eV, forces [n_node, 3] eV/Å)``.

    forces = −∂(Σ_g E_g)/∂positions by ``jax.grad``; padding graphs get energy 0 and padding
    nodes force 0. Jittable and vmappable. With ``has_aux``, ``energy_fn`` returns
    ``(energy, aux)`` (e.g. the parts of a hybrid, from the same forward pass) and the wrapper
    ``(energy, forces, aux)``.
    """

    def fn(params, graph: jraph.GraphsTuple):
        def total(positions):
            return _masked_energy(energy_fn, params, _with_positions(graph, positions), has_aux)

        (_, (energy, aux)), grad = jax.value_and_grad(total, has_aux=True)(graph.nodes["positions"])
        forces = jnp.where(node_mask(graph)[:, None], -grad, 0.0)
        return (energy, forces, aux) if has_aux else (energy, forces)

    return fn


def energy_forces_stress(energy_fn: EnergyFn, *, has_aux: bool = False) -> Callable:
    """Wrap ``energy_fn`` into ``(params, graph) -> (energy, forces, stress)``.

    energy ``[n_graph]`` eV, forces ``[n_node, 3]`` eV/Å, stress ``[n_graph, 3, 3]`` eV/Å³
    = (1/V) ∂E/∂ε (ASE convention: negative for a compressed cell that wants to expand; the
    pressure is −tr(σ)/3). Padding graphs get stress 0. ``has_aux`` as in
    :func:`energy_and_forces` (then ``(energy, forces, stress, aux)``).

    Raises:
        ValueError: (on concrete inputs) when a real graph is non-periodic or has zero volume.
    """

    def fn(params, graph: jraph.GraphsTuple):
        _check_periodic(graph)
        n_graph = graph.n_node.shape[0]
        dtype = graph.nodes["positions"].dtype

        def total(positions, strain):
            g = strain_graph(_with_positions(graph, positions), strain)
            return _masked_energy(energy_fn, params, g, has_aux)

        strain = jnp.zeros((n_graph, 3, 3), dtype=dtype)
        (_, (energy, aux)), (g_pos, g_strain) = jax.value_and_grad(total, argnums=(0, 1), has_aux=True)(
            graph.nodes["positions"], strain
        )
        forces = jnp.where(node_mask(graph)[:, None], -g_pos, 0.0)
        volume = cell_volumes(graph)
        ok = (volume > 0) & graph_mask(graph)
        stress = jnp.where(ok[:, None, None], g_strain / jnp.where(ok, volume, 1.0)[:, None, None], 0.0)
        return (energy, forces, stress, aux) if has_aux else (energy, forces, stress)

    return fn


def device_memory_available(device=None) -> int:
    """Bytes a new allocation on ``device`` (default: JAX's first device) can get: the accelerator's
    limit less what is in use where JAX reports it (GPU), else the host's available memory (CPU)."""
    stats = (device or jax.devices()[0]).memory_stats() or {}
    if "bytes_limit" in stats:
        return int(stats["bytes_limit"]) - int(stats.get("bytes_in_use", 0))
    return available_memory()


def memory_checked_jit(fn: Callable, describe: Callable[..., str]) -> Callable:
    """``jax.jit(fn)`` that refuses, with a ``MemoryError``, a program that cannot fit in memory.

    For every new set of input shapes the program is compiled ahead of time and XLA's own estimate
    of what a call allocates (its temporaries and outputs; the inputs already exist) is compared
    with :func:`device_memory_available`. Too large a system then gets an error naming the system
    (``describe(*args)``, e.g. "1,000,188 atoms, 18,003,384 edges") and both numbers, instead of
    XLA's ``RESOURCE_EXHAUSTED`` or the operating system killing the process halfway through an
    allocation. The engines' evaluations (ASE calculator, LAMMPS) go through it.

    Returns:
        ``(*args) -> fn(*args)``, compiled once per input shapes (like ``jax.jit``).
    """
    jitted = jax.jit(fn)
    compiled = {}

    def call(*args):
        leaves, tree = jax.tree.flatten(args)
        key = (tree, tuple((np.shape(x), getattr(x, "dtype", type(x))) for x in leaves))
        if key not in compiled:
            program = jitted.lower(*args).compile()
            memory = program.memory_analysis()
            if memory is not None:
                need = memory.temp_size_in_bytes + memory.output_size_in_bytes
                free = device_memory_available()
                if need > free:
                    raise MemoryError(
                        f"evaluating {describe(*args)} needs about {need / 2**30:.1f} GiB (XLA's estimate of the "
                        f"program's temporaries and outputs) but only {free / 2**30:.1f} GiB are available; use "
                        "fewer atoms, a model whose large-system memory is chunked (docs/scale.md), or a machine "
                        "with more memory")
            compiled[key] = program
        return compiled[key](*args)

    return call
