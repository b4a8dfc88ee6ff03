"""Reusable NequIP-style checks for any ``energy_fn(params, graph) -> [n_graph] eV``.

Every model in the library runs these in its tests; users can run them on their own models. Each
``assert_*`` raises ``AssertionError`` with the worst mismatch when the property fails.

Checks that must rebuild graphs (rotations, permutations, far-apart molecules, a dimer at the
cutoff, finite-difference stress on a rebuilt neighbour list) take ``build_fn(positions,
atomic_numbers, cell=None) -> GraphsTuple``, e.g.
``functools.partial(hybridpot.graph.build_graph, cutoff=5.0, pbc=True)``.

Gradients are compared in float64: call ``jax.config.update("jax_enable_x64", True)`` first.
"""

from __future__ import annotations

import functools
from typing import Callable, Sequence

import jax
import jax.numpy as jnp
import jraph
import numpy as np

from hybridpot import potential
from hybridpot.graph.batch import batch_graphs, graph_mask, node_mask, pad_graph
from hybridpot.potential import energy_and_forces, energy_forces_stress, strain_graph

BuildFn = Callable[..., jraph.GraphsTuple]


def _require_x64(graph: jraph.GraphsTuple | None = None) -> None:
    if not jax.config.read("jax_enable_x64"):
        raise RuntimeError("hybridpot.testing needs float64: jax.config.update('jax_enable_x64', True)")
    if graph is not None and graph.nodes["positions"].dtype != jnp.float64:
        raise ValueError(
            f"finite-difference checks need float64 positions, got {graph.nodes['positions'].dtype}"
        )


def _close(name: str, actual, expected, rtol: float, atol: float) -> None:
    actual, expected = np.asarray(actual), np.asarray(expected)
    if actual.shape != expected.shape:
        raise AssertionError(f"{name}: shape {actual.shape} != expected {expected.shape}")
    if not np.all(np.isfinite(actual)):
        raise AssertionError(f"{name}: non-finite values {actual}")
    err = np.abs(actual - expected)
    tol = atol + rtol * np.abs(expected)
    if np.any(err > tol):
        k = np.unravel_index(np.argmax(err - tol), err.shape)
        raise AssertionError(
            f"{name}: max mismatch at {tuple(int(i) for i in k)}: {actual[k]!r} vs expected "
            f"{expected[k]!r} (|diff| {err[k]:.3g} > atol {atol} + rtol {rtol}·|expected|)"
        )


def _total_energy(energy_fn, params, graph):
    return jnp.sum(jnp.where(graph_mask(graph), energy_fn(params, graph), 0.0))


def assert_forces_match_finite_differences(
    energy_fn, params, graph, *, delta: float = 1e-4, rtol: float = 1e-6, atol: float = 1e-6
) -> None:
    """Forces from ``jax.grad`` equal −(E(R + δ) − E(R − δ)) / 2δ for every real atom and axis.

    The graph's edges are kept fixed while atoms move (δ must be small enough that no pair crosses
    the cutoff). Central differences in float64; the energies are evaluated in one vmapped call.
    """
    _require_x64(graph)
    _, forces = _jitted(energy_fn, "forces")(params, graph)
    positions = graph.nodes["positions"]
    real = np.flatnonzero(np.asarray(node_mask(graph)))
    disp = np.zeros((2, len(real), 3) + positions.shape)
    for a, node in enumerate(real):
        for x in range(3):
            disp[0, a, x, node, x] = delta
            disp[1, a, x, node, x] = -delta
    stacked = positions[None] + jnp.asarray(disp.reshape((-1,) + positions.shape))
    energies = _displaced_energies(energy_fn, params, graph, stacked)
    energies = np.asarray(energies).reshape(2, len(real), 3)
    fd = -(energies[0] - energies[1]) / (2 * delta)
    _close("forces vs finite differences", np.asarray(forces)[real], fd, rtol, atol)


@functools.partial(jax.jit, static_argnums=0)
def _displaced_energies(energy_fn, params, graph, stacked_positions):
    """Total energy for each of ``stacked_positions: [n_displaced, n_node, 3]`` (one vmapped call)."""

    def one(p):
        return _total_energy(energy_fn, params, graph._replace(nodes={**graph.nodes, "positions": p}))

    return jax.vmap(one)(stacked_positions)


def assert_stress_matches_finite_differences(
    energy_fn,
    params,
    graph,
    *,
    build_fn: BuildFn | None = None,
    delta: float = 1e-5,
    rtol: float = 1e-6,
    atol: float = 1e-7,
) -> None:
    """Stress from ``jax.grad`` equals (1/V)(E(ε_ab = +δ) − E(ε_ab = −δ)) / 2δ for all a, b.

    ε_ab is the symmetric strain (e_a e_bᵀ + e_b e_aᵀ)/2 · δ. With ``build_fn`` (single-graph input)
    the strained graph is rebuilt from strained positions and cell — this also checks the periodic
    shifts independently of :func:`hybridpot.potential.strain_graph`; otherwise the fixed graph
    is strained (positions, shifts and cell).
    """
    _require_x64(graph)
    _, _, stress = _efs(energy_fn, params, graph, True)
    n_graph = graph.n_node.shape[0]
    volume = np.abs(np.linalg.det(np.asarray(graph.globals["cell"])))
    fd = np.zeros((n_graph, 3, 3))
    total = functools.partial(_jitted(energy_fn, "energy"), params)
    for a in range(3):
        for b in range(3):
            e = np.zeros((3, 3))
            e[a, b] += 0.5
            e[b, a] += 0.5
            values = []
            for sign in (1.0, -1.0):
                strain = np.broadcast_to(sign * delta * e, (n_graph, 3, 3))
                if build_fn is None:
                    g = strain_graph(graph, jnp.asarray(strain))
                else:
                    if n_graph != 1:
                        raise ValueError("build_fn rebuilding needs a single unpadded graph")
                    deform = np.eye(3) + strain[0]
                    g = build_fn(
                        np.asarray(graph.nodes["positions"]) @ deform,
                        np.asarray(graph.nodes["atomic_numbers"]),
                        cell=np.asarray(graph.globals["cell"][0]) @ deform,
                    )
                values.append(np.asarray(total(g)))
            fd[:, a, b] = (values[0] - values[1]) / (2 * delta)
    real = np.asarray(graph_mask(graph))
    fd = fd[real] / volume[real][:, None, None]
    _close("stress vs finite differences", np.asarray(stress)[real], fd, rtol, atol)


def _random_rotation(rng: np.random.Generator) -> np.ndarray:
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return q


def _make_jitted(energy_fn, kind: str):
    if kind == "stress":
        return jax.jit(energy_forces_stress(energy_fn))
    if kind == "forces":
        return jax.jit(energy_and_forces(energy_fn))
    return jax.jit(energy_fn)


_cached_jitted = functools.lru_cache(maxsize=64)(_make_jitted)


def _jitted(energy_fn, kind: str):
    """One compiled wrapper per (energy_fn, kind), reused across checks (jit caches per function)."""
    try:
        return _cached_jitted(energy_fn, kind)
    except TypeError:  # unhashable energy_fn
        return _make_jitted(energy_fn, kind)


def _efs(energy_fn, params, graph, stress: bool):
    if stress:
        potential._check_periodic(graph)  # skipped inside jit: check the concrete graph here
        return tuple(np.asarray(x) for x in _jitted(energy_fn, "stress")(params, graph))
    e, f = _jitted(energy_fn, "forces")(params, graph)
    return np.asarray(e), np.asarray(f), None


def _is_periodic(graph) -> bool:
    return bool(np.asarray(graph.globals["pbc"]).any())


def assert_invariant_under_rotation_translation(
    energy_fn,
    params,
    build_fn: BuildFn,
    positions,
    atomic_numbers,
    cell=None,
    *,
    seed: int = 0,
    rtol: float = 1e-9,
    atol: float = 1e-9,
) -> None:
    """A random rotation Q and translation t (R → R Q + t, cell → cell Q) leave the energy
    unchanged and rotate forces (F → F Q) and, for periodic graphs, stress (σ → Qᵀ σ Q)."""
    _require_x64()
    rng = np.random.default_rng(seed)
    q = _random_rotation(rng)
    t = rng.normal(size=3) * 3.0
    positions = np.asarray(positions, dtype=np.float64)
    g0 = build_fn(positions, atomic_numbers, cell=cell)
    g1 = build_fn(positions @ q + t, atomic_numbers, cell=None if cell is None else np.asarray(cell) @ q)
    periodic = _is_periodic(g0)
    e0, f0, s0 = _efs(energy_fn, params, g0, periodic)
    e1, f1, s1 = _efs(energy_fn, params, g1, periodic)
    _close("energy after rotation+translation", e1, e0, rtol, atol)
    _close("forces after rotation+translation", f1, f0 @ q, rtol, atol)
    if periodic:
        _close("stress after rotation+translation", s1, np.einsum("ai,gab,bj->gij", q, s0, q), rtol, atol)


def assert_permutation_invariant(
    energy_fn,
    params,
    build_fn: BuildFn,
    positions,
    atomic_numbers,
    cell=None,
    *,
    seed: int = 0,
    rtol: float = 1e-9,
    atol: float = 1e-9,
) -> None:
    """Relabelling the atoms by a random permutation leaves the energy (and stress) unchanged and
    permutes the forces the same way."""
    _require_x64()
    rng = np.random.default_rng(seed)
    positions = np.asarray(positions, dtype=np.float64)
    numbers = np.asarray(atomic_numbers)
    perm = rng.permutation(len(numbers))
    g0 = build_fn(positions, numbers, cell=cell)
    g1 = build_fn(positions[perm], numbers[perm], cell=cell)
    periodic = _is_periodic(g0)
    e0, f0, s0 = _efs(energy_fn, params, g0, periodic)
    e1, f1, s1 = _efs(energy_fn, params, g1, periodic)
    _close("energy after permutation", e1, e0, rtol, atol)
    _close("forces after permutation", f1, f0[perm], rtol, atol)
    if periodic:
        _close("stress after permutation", s1, s0, rtol, atol)


def _param_grad(energy_fn, params, graph):
    leaves = jax.tree_util.tree_leaves(params)
    if not leaves or not all(jnp.issubdtype(jnp.asarray(x).dtype, jnp.inexact) for x in leaves):
        return None
    return _jitted_param_grad(energy_fn, params, graph)


@functools.partial(jax.jit, static_argnums=0)
def _jitted_param_grad(energy_fn, params, graph):
    return jax.grad(lambda p: _total_energy(energy_fn, p, graph))(params)


def assert_padding_invariant(
    energy_fn,
    params,
    graph,
    *,
    extra_nodes: int = 3,
    extra_edges: int = 5,
    extra_graphs: int = 2,
    rtol: float = 1e-10,
    atol: float = 1e-10,
) -> None:
    """Padded == unpadded: padding ``graph`` (with ``pad_graph``) leaves real energies, forces,
    stress (periodic) and parameter gradients unchanged; padding graphs get energy exactly 0,
    padding nodes force exactly 0, and every value and gradient is finite (no NaN from r = 0)."""
    n_node = int(np.sum(np.asarray(graph.n_node)))
    n_edge = int(np.sum(np.asarray(graph.n_edge)))
    n_graph = int(np.asarray(graph.n_node).shape[0])
    padded = pad_graph(graph, n_node + extra_nodes, n_edge + extra_edges, n_graph + extra_graphs)
    periodic = bool(np.asarray(graph.globals["pbc"]).any(axis=-1).all())
    e0, f0, s0 = _efs(energy_fn, params, graph, periodic)
    e1, f1, s1 = _efs(energy_fn, params, padded, periodic)
    raw, grad = _padded_energy_and_grad(energy_fn, params, padded)
    if not np.all(np.isfinite(raw)) or not np.all(np.isfinite(f1)) or not np.all(np.isfinite(grad)):
        raise AssertionError(f"padded graph gives non-finite energies {raw}, forces or gradients")
    _close("energy of real graphs after padding", e1[:n_graph], e0, rtol, atol)
    _close("forces on real nodes after padding", f1[:n_node], f0, rtol, atol)
    if np.any(e1[n_graph:] != 0) or np.any(f1[n_node:] != 0):
        raise AssertionError("padding graphs/nodes must have exactly zero energy and force")
    if periodic:
        _close("stress after padding", s1[:n_graph], s0, rtol, atol)
    g0, g1 = _param_grad(energy_fn, params, graph), _param_grad(energy_fn, params, padded)
    if g0 is not None:
        for a, b in zip(jax.tree_util.tree_leaves(g1), jax.tree_util.tree_leaves(g0)):
            _close("parameter gradient after padding", a, b, rtol, atol)


@functools.partial(jax.jit, static_argnums=0)
def _padded_energy_and_grad(energy_fn, params, graph):
    """Raw energies of all graphs (padding ones included) and the gradient of their sum w.r.t.
    all positions, padding nodes included."""

    def f(positions):
        e = energy_fn(params, graph._replace(nodes={**graph.nodes, "positions": positions}))
        return jnp.sum(e), e

    (_, e), g = jax.value_and_grad(f, has_aux=True)(graph.nodes["positions"])
    return e, g


def assert_batch_equals_single(
    energy_fn, params, graphs: Sequence[jraph.GraphsTuple], *, rtol: float = 1e-10, atol: float = 1e-10
) -> None:
    """Energies, forces (and stress if all graphs are periodic) of a batch equal those of each
    graph evaluated alone."""
    batch = batch_graphs(graphs)
    periodic = all(_is_periodic(g) for g in graphs)
    eb, fb, sb = _efs(energy_fn, params, batch, periodic)
    start = 0
    for k, g in enumerate(graphs):
        e, f, s = _efs(energy_fn, params, g, periodic)
        n = f.shape[0]
        _close(f"energy of graph {k} in batch", eb[k : k + 1], e, rtol, atol)
        _close(f"forces of graph {k} in batch", fb[start : start + n], f, rtol, atol)
        if periodic:
            _close(f"stress of graph {k} in batch", sb[k : k + 1], s, rtol, atol)
        start += n


def assert_no_gradient_leak_between_graphs(energy_fn, params, graphs: Sequence[jraph.GraphsTuple]) -> None:
    """In a batch, the energy of each graph has exactly zero derivative with respect to the
    positions of atoms in every other graph (full Jacobian ∂E_g/∂R)."""
    batch = batch_graphs(graphs)
    jac = _jacobian(energy_fn, params, batch)
    jac = np.asarray(jac)  # [n_graph, n_node, 3]
    owner = np.repeat(np.arange(len(graphs)), np.asarray(batch.n_node))
    for g in range(len(graphs)):
        leak = np.abs(jac[g][owner != g])
        if leak.size and leak.max() != 0:
            raise AssertionError(f"energy of graph {g} depends on other graphs' atoms (max |dE/dR| {leak.max():.3g})")
        if not np.all(np.isfinite(jac[g])):
            raise AssertionError(f"non-finite gradient of graph {g}'s energy")


@functools.partial(jax.jit, static_argnums=0)
def _jacobian(energy_fn, params, graph):
    return jax.jacrev(lambda p: energy_fn(params, graph._replace(nodes={**graph.nodes, "positions": p})))(
        graph.nodes["positions"]
    )


def assert_far_apart_add_up(
    energy_fn,
    params,
    build_fn: BuildFn,
    positions_a,
    numbers_a,
    positions_b,
    numbers_b,
    *,
    separation: float = 100.0,
    rtol: float = 1e-9,
    atol: float = 1e-9,
) -> None:
    """Two molecules far apart (B translated by ``separation`` Å along x, beyond any cutoff): the
    energy of the pair equals E(A) + E(B), and each keeps its own forces."""
    pa = np.asarray(positions_a, dtype=np.float64)
    pb = np.asarray(positions_b, dtype=np.float64) + np.array([separation, 0.0, 0.0])
    ga = build_fn(pa, numbers_a)
    gb = build_fn(pb, numbers_b)
    gab = build_fn(np.concatenate([pa, pb]), np.concatenate([np.asarray(numbers_a), np.asarray(numbers_b)]))
    ea, fa, _ = _efs(energy_fn, params, ga, False)
    eb, fb, _ = _efs(energy_fn, params, gb, False)
    eab, fab, _ = _efs(energy_fn, params, gab, False)
    _close("energy of far-apart molecules", eab, ea + eb, rtol, atol)
    _close("forces of far-apart molecules", fab, np.concatenate([fa, fb]), rtol, atol)


def assert_forces_vanish_at_cutoff(
    energy_fn,
    params,
    build_fn: BuildFn,
    atomic_numbers,
    cutoff: float,
    *,
    eps: float = 1e-4,
    atol: float = 1e-6,
) -> None:
    """A dimer just inside the cutoff (r = cutoff − eps) feels (almost) no force, and its energy
    equals that of the dimer just outside (r = cutoff + eps, no edge): energy is continuous and
    forces go to zero at the cutoff (a smooth envelope is needed)."""
    numbers = np.asarray(atomic_numbers)
    if numbers.shape != (2,):
        raise ValueError(f"atomic_numbers must be a pair, got {numbers.tolist()}")
    axis = np.array([1.0, 2.0, 2.0]) / 3.0
    results = []
    for r in (cutoff - eps, cutoff + eps):
        g = build_fn(np.array([np.zeros(3), r * axis]), numbers)
        results.append(_efs(energy_fn, params, g, False))
    (e_in, f_in, _), (e_out, _, _) = results
    if np.abs(f_in).max() > atol:
        raise AssertionError(f"force at r = cutoff − {eps} is {np.abs(f_in).max():.3g} eV/Å > {atol}")
    if abs(float(e_in.sum()) - float(e_out.sum())) > atol:
        raise AssertionError(
            f"energy jumps across the cutoff: {float(e_in.sum())!r} inside vs {float(e_out.sum())!r} outside"
        )


def assert_atomic_energies_sum_to_energy(model, params, graphs: Sequence[jraph.GraphsTuple], *,
                                         rtol: float = 1e-10, atol: float = 1e-10) -> None:
    """A :class:`~hybridpot.potential.GraphModel`'s energies per atom (``atomic_energy``) sum to its
    energy over each graph of the batch of ``graphs`` (padded by one graph and a few atoms, which
    hold 0), jitted as eagerly (triplets from :func:`hybridpot.graph.build_triplets` when the model
    reads them)."""
    from hybridpot.graph.triplets import build_triplets

    if model.atomic_energy is None:
        raise AssertionError("the model has no atomic_energy")
    graph = pad_graph(batch_graphs(list(graphs)), int(sum(g.n_node.sum() for g in graphs)) + 3,
                      int(sum(g.n_edge.sum() for g in graphs)) + 4, len(graphs) + 1)
    triplets = build_triplets(graph) if model.needs_triplets else None
    energy = np.asarray(jax.jit(model.energy)(params, graph, triplets))
    atomic = np.asarray(jax.jit(model.atomic_energy)(params, graph, triplets))
    _close("atomic energies eager vs jit", model.atomic_energy(params, graph, triplets), atomic, rtol, atol)
    real = np.asarray(node_mask(graph))
    _close("atomic energies of padding atoms", atomic[~real], np.zeros(int((~real).sum())), 0.0, 0.0)
    index = np.repeat(np.arange(len(graph.n_node)), np.asarray(graph.n_node))
    _close("sum of atomic energies per graph", np.bincount(index, atomic, minlength=len(graph.n_node)), energy,
           rtol, atol)


def model_energy_fn(model) -> Callable:
    """``(params, graph) -> [n_graph]`` eV of a :class:`~hybridpot.potential.GraphModel`, for these checks.

    The checks rebuild and trace graphs, so triplets cannot come from the host: models that read
    triplets get ``triplets=None``, their dense in-jit enumeration (O(n_edge²), small molecules
    only). Cached per model so the checks' compiled functions are reused.
    """
    return _model_energy_fn(model)


@functools.lru_cache(maxsize=32)
def _model_energy_fn(model):
    def fn(params, graph):
        return model.energy(params, graph, None)

    return fn
