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

from typing import Callable

import jax
import jax.numpy as jnp
import jraph
import numpy as np

from hybridpot._checks import is_concrete
from hybridpot.graph.batch import batch_graphs, edge_graph_index, edge_mask, graph_mask, node_graph_index, node_mask
from hybridpot.graph.build import build_graph
from hybridpot.graph.geometry import edge_distances
from hybridpot.physics.zbl import ZBL_UNIVERSAL, ZBLParams, zbl_energy

EnergyFn = Callable[[object, jraph.GraphsTuple], jnp.ndarray]

#: Distance (Å) fed to ``pair_fn`` in place of padded edges; its output is discarded.
_SAFE_R = 1.0


def pair_energy(graph: jraph.GraphsTuple, pair_fn: Callable) -> jnp.ndarray:
    r"""Per-graph pair energy :math:`E_g = \tfrac12 \sum_{e \in g} u(r_e, Z_i, Z_j)` over directed edges.

    Each pair appears twice in the full neighbour list, hence the ½. Padded edges are masked with
    a double ``where`` (r and Z replaced by safe values before ``pair_fn``, output zeroed after),
    so they add exactly 0 with zero, finite gradients even when ``pair_fn(0)`` is inf.

    Args:
        graph: ``GraphsTuple`` (possibly batched/padded).
        pair_fn: ``pair_fn(r, z_i, z_j) -> [n_edge]`` eV with ``r: [n_edge]`` Å and ``z_i, z_j:
            [n_edge] int32`` (receiver, sender). Use the edges of the graph as its cutoff: e.g.
            ``lambda r, zi, zj: lennard_jones_energy(r, params)``.

    Returns:
        ``[n_graph]`` eV.
    """
    mask = edge_mask(graph)
    r = edge_distances(graph)
    z = graph.nodes["atomic_numbers"]
    r_safe = jnp.where(mask, r, _SAFE_R)
    z_i = jnp.where(mask, z[graph.receivers], 1)
    z_j = jnp.where(mask, z[graph.senders], 1)
    u = jnp.where(mask, pair_fn(r_safe, z_i, z_j), 0.0)
    n_graph = graph.n_edge.shape[0]
    return 0.5 * jax.ops.segment_sum(u, edge_graph_index(graph), num_segments=n_graph)


def zbl_pair_energy(graph: jraph.GraphsTuple, params: ZBLParams = ZBL_UNIVERSAL, switch=None) -> jax.Array:
    """The ZBL calculator layer: Σ_{pairs i<j in the graph} E_ZBL(r_ij, Z_i, Z_j) per graph, ``[n_graph]`` eV.

    Uses the real nuclear charges (the graph's atomic numbers), each pair once
    (:func:`hybridpot.potential.pair_energy` over the full neighbour list), padded edges add 0.

    Args:
        graph: ``GraphsTuple`` (Å).
        params: :class:`~hybridpot.physics.zbl.ZBLParams` (fixed or trainable).
        switch: None, ``EnvelopeZBLSwitch`` or ``LammpsZBLSwitch`` (:mod:`hybridpot.physics.zbl`).
    """
    return pair_energy(graph, lambda r, zi, zj: zbl_energy(r, zi, zj, params, switch))


def structure_zbl_energies(positions, numbers, cutoff: float, switch=None, params: ZBLParams = ZBL_UNIVERSAL,
                           chunk: int = 4096, return_forces: bool = False):
    """ZBL energy of each isolated structure, ``[n_struct]`` eV: the fixed physics term of a
    DimezblNet-type hybrid, e.g. to fit reference energies on E − E_ZBL before training.

    Args:
        positions: per structure ``[n_i, 3]`` Å (a list, or one ``[n_struct, n, 3]`` array).
        numbers: per structure ``[n_i]`` atomic numbers, or one ``[n]`` array shared by all.
        cutoff: neighbour cutoff, Å (pairs beyond it add 0; use the model's ZBL range).
        switch, params: as :func:`zbl_pair_energy`.
        chunk: structures per compiled call.
        return_forces: also return the ZBL forces −∂E_ZBL/∂R, eV/Å, e.g. to size the network of a
            hybrid by the residual F − F_ZBL it has to learn.

    Returns:
        energies ``[n_struct]``; with ``return_forces``, ``(energies, forces)`` where forces is a
        list of ``[n_i, 3]`` arrays.
    """
    shared = np.ndim(numbers[0]) == 0

    def energy(_, g):
        return zbl_pair_energy(g, params, switch)

    # the backward pass only when the forces are asked for
    compute = jax.jit(energy_and_forces(energy) if return_forces else lambda p, g: (energy(p, g), None))
    energies, forces = [], []
    for start in range(0, len(positions), chunk):
        graphs = [
            build_graph(p, numbers if shared else numbers[start + k], cutoff)
            for k, p in enumerate(positions[start : start + chunk])
        ]
        e, f = compute(None, batch_graphs(graphs))
        energies.append(np.asarray(e, np.float64))
        if return_forces:
            sizes = np.cumsum([g.n_node[0] for g in graphs])[:-1]
            forces.extend(np.split(np.asarray(f, np.float64), sizes))
    energies = np.concatenate(energies) if energies else np.zeros(0)
    return (energies, forces) if return_forces else energies


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


def _masked_energy(energy_fn: EnergyFn, params, graph: jraph.GraphsTuple):
    e = energy_fn(params, graph)
    e = jnp.where(graph_mask(graph), e, 0.0)
    return jnp.sum(e), e


def energy_and_forces(energy_fn: EnergyFn) -> Callable:
    """Wrap ``energy_fn`` into ``(params, graph) -> (energy [n_graph] eV, forces [n_node, 3] eV/Å)``.

    forces = −∂(Σ_g E_g)/∂positions by ``jax.grad``; padding graphs get energy 0 and padding
    nodes force 0. Jittable and vmappable.
    """

    def fn(params, graph: jraph.GraphsTuple):
        def total(positions):
            return _masked_energy(energy_fn, params, _with_positions(graph, positions))

        (_, energy), grad = jax.value_and_grad(total, has_aux=True)(graph.nodes["positions"])
        forces = jnp.where(node_mask(graph)[:, None], -grad, 0.0)
        return energy, forces

    return fn


def energy_forces_stress(energy_fn: EnergyFn) -> Callable:
    """Wrap ``energy_fn`` into ``(params, graph) -> (energy, forces, stress)``.

    energy ``[n_graph]`` eV, forces ``[n_node, 3]`` eV/Å, stress ``[n_graph, 3, 3]`` eV/Å³
    = (1/V) ∂E/∂ε (ASE convention: negative for a compressed cell that wants to expand; the
    pressure is −tr(σ)/3). Padding graphs get stress 0.

    Raises:
        ValueError: (on concrete inputs) when a real graph is non-periodic or has zero volume.
    """

    def fn(params, graph: jraph.GraphsTuple):
        _check_periodic(graph)
        n_graph = graph.n_node.shape[0]
        dtype = graph.nodes["positions"].dtype

        def total(positions, strain):
            g = strain_graph(_with_positions(graph, positions), strain)
            return _masked_energy(energy_fn, params, g)

        strain = jnp.zeros((n_graph, 3, 3), dtype=dtype)
        (_, energy), (g_pos, g_strain) = jax.value_and_grad(total, argnums=(0, 1), has_aux=True)(
            graph.nodes["positions"], strain
        )
        forces = jnp.where(node_mask(graph)[:, None], -g_pos, 0.0)
        volume = cell_volumes(graph)
        ok = (volume > 0) & graph_mask(graph)
        stress = jnp.where(ok[:, None, None], g_strain / jnp.where(ok, volume, 1.0)[:, None, None], 0.0)
        return energy, forces, stress

    return fn
