import time

import jax
import jax.numpy as jnp
import numpy as np
from ase.build import bulk

from hybridpot.graph import (
    batch_graphs,
    build_graph,
    build_triplets,
    edge_vectors,
    graph_from_atoms,
    pad_graph,
    pad_triplets,
    safe_arccos,
    triplet_angles,
    triplet_mask,
)


def brute_force_triplets(senders, receivers, shifts):
    """Set of (kj, ji) edge pairs: receiver(kj) == sender(ji), minus k == i in the same image."""
    out = set()
    for ji in range(len(senders)):
        for kj in range(len(senders)):
            if receivers[kj] != senders[ji]:
                continue
            if senders[kj] == receivers[ji] and np.allclose(shifts[kj] + shifts[ji], 0.0, atol=1e-8):
                continue
            out.add((kj, ji))
    return out


def _check_against_reference(graph):
    t = build_triplets(graph)
    s, r = np.asarray(graph.senders), np.asarray(graph.receivers)
    ref = brute_force_triplets(s, r, np.asarray(graph.edges["shifts"]))
    got = set(zip(t.kj.tolist(), t.ji.tolist()))
    assert len(got) == len(t.kj) == len(ref) and got == ref
    assert np.all(r[t.kj] == s[t.ji])
    assert t.kj.dtype == np.int32 and t.ji.dtype == np.int32 and t.n_triplet.dtype == np.int32
    return t


def test_periodic_images_of_same_atom_kept():
    # one atom per cell: every triplet is k → j → i among images of atom 0; i == k (same atom)
    # is kept whenever it is a different image, excluded when it is the same image
    g = graph_from_atoms(bulk("Cu", "fcc", a=3.6), 3.0)
    t = _check_against_reference(g)
    assert int(g.n_edge[0]) == 12
    assert len(t.kj) == 12 * 11  # 12 incoming edges per ji, minus the one that returns to i
    assert t.n_triplet.tolist() == [len(t.kj)]


def test_small_cell_and_molecule_batch():
    rng = np.random.default_rng(0)
    cell = np.array([[2.6, 0.0, 0.0], [0.4, 2.8, 0.0], [0.3, 0.2, 2.7]])
    crystal = build_graph(rng.uniform(0, 2.5, (3, 3)), [14, 8, 8], 3.0, cell, True, min_distance=0.05)
    mol = build_graph(rng.uniform(0, 3.0, (6, 3)), [6] * 6, 2.2, min_distance=0.05)
    for g in (crystal, mol):
        _check_against_reference(g)
    batch = batch_graphs([crystal, mol])
    t = _check_against_reference(batch)
    assert t.n_triplet.tolist() == [len(build_triplets(crystal).kj), len(build_triplets(mol).kj)]


def test_thousands_of_edges_quickly():
    atoms = bulk("Cu", "fcc", a=3.6, cubic=True).repeat((4, 4, 4))  # 256 atoms
    g = graph_from_atoms(atoms, 5.0)
    start = time.perf_counter()
    t = build_triplets(g)
    elapsed = time.perf_counter() - start
    assert int(g.n_edge[0]) == 256 * 42 and len(t.kj) == 256 * 42 * 41
    assert elapsed < 2.0


def test_blocks_give_the_same_triplets_in_the_same_order():
    # the build streams over edges ji in blocks of candidate triplets; any block size (1: one edge
    # at a time, however many candidates it has) gives the same arrays as one block
    rng = np.random.default_rng(1)
    cell = np.array([[2.6, 0.0, 0.0], [0.4, 2.8, 0.0], [0.3, 0.2, 2.7]])
    crystal = build_graph(rng.uniform(0, 2.5, (3, 3)), [14, 8, 8], 3.0, cell, True, min_distance=0.05)
    mol = build_graph(rng.uniform(0, 3.0, (6, 3)), [6] * 6, 2.2, min_distance=0.05)
    padded = pad_graph(batch_graphs([crystal, mol]), n_node=16, n_edge=int(crystal.n_edge[0] + mol.n_edge[0]) + 7, n_graph=3)
    whole = _check_against_reference(padded)
    for block in (1, 7, 100, len(whole.kj) - 1):
        t = build_triplets(padded, block=block)
        for got, want in zip(t, whole):
            assert got.dtype == want.dtype and np.array_equal(got, want), block


def test_padding_triplets_and_angles_are_safe():
    g = build_graph(np.array([[0.0, 0, 0], [1.0, 0, 0], [2.0, 0, 0], [1.0, 1.0, 0]]), [1] * 4, 1.5)
    t = build_triplets(g)
    padded = pad_graph(g, 6, int(g.n_edge[0]) + 2, 3)
    pt = pad_triplets(t, len(t.kj) + 4, padding_edge=int(g.n_edge[0]), n_graph=3)
    assert pt.n_triplet.tolist() == [len(t.kj), 4, 0]
    mask = np.asarray(triplet_mask(padded, pt))
    assert mask.tolist() == [True] * len(t.kj) + [False] * 4

    def total(positions):
        gg = padded._replace(nodes={**padded.nodes, "positions": positions})
        cos, theta = triplet_angles(gg, pt)
        return jnp.sum(jnp.where(mask, theta + cos, 0.0)), (cos, theta)

    (value, (cos, theta)), grad = jax.jit(jax.value_and_grad(total, has_aux=True))(padded.nodes["positions"])
    assert np.all(np.isfinite(cos)) and np.all(np.isfinite(theta)) and np.all(np.isfinite(grad))
    assert not np.any(grad[4:])  # padded nodes get zero gradient
    # real angles: the straight chain 0-1-2 gives π (collinear) and the corner gives π/2
    theta = np.asarray(theta)[mask]
    assert np.isclose(theta, np.pi).any() and np.isclose(theta, np.pi / 2).any()


def test_angle_convention_and_gradient_against_arccos():
    g = build_graph(np.array([[0.0, 0, 0], [1.1, 0, 0], [1.5, 0.9, 0.2]]), [1, 8, 1], 1.5)
    t = build_triplets(g)
    cos, theta = jax.jit(triplet_angles)(g, t)
    vec = np.asarray(edge_vectors(g))
    for c, th, kj, ji in zip(np.asarray(cos), np.asarray(theta), t.kj, t.ji):
        a, b = vec[kj], -vec[ji]  # R_k − R_j and R_i − R_j
        ref = a @ b / np.linalg.norm(a) / np.linalg.norm(b)
        np.testing.assert_allclose([c, th], [ref, np.arccos(ref)], rtol=1e-12)

    def f(fn, positions):
        gg = g._replace(nodes={**g.nodes, "positions": positions})
        c, th = triplet_angles(gg, t)
        return jnp.sum(th) if fn == "theta" else jnp.sum(jnp.arccos(c))

    p = g.nodes["positions"]
    grads = jax.jit(lambda x: (jax.grad(lambda y: f("theta", y))(x), jax.grad(lambda y: f("arccos", y))(x)))(p)
    np.testing.assert_allclose(grads[0], grads[1], atol=1e-10)


def test_safe_arccos_at_plus_minus_one():
    x = jnp.array([-1.0, -1.0 + 1e-15, 0.3, 1.0 - 1e-15, 1.0, 1.0 + 1e-12])
    value = np.asarray(jax.jit(safe_arccos)(x))
    grad = np.asarray(jax.jit(jax.vmap(jax.grad(safe_arccos)))(x))
    assert np.all(np.isfinite(value)) and np.all(np.isfinite(grad))
    np.testing.assert_allclose(value[[0, 4]], [np.pi, 0.0])
    np.testing.assert_allclose(value[2], np.arccos(0.3))
    np.testing.assert_allclose(grad[2], -1 / np.sqrt(1 - 0.09))
    assert np.all(grad[[0, 4, 5]] == 0.0)


def test_triplet_mask_with_a_constant_graph_and_traced_triplets():
    from hybridpot.graph import build_graph, build_triplets, triplet_mask

    graph = build_graph(np.array([[0.0, 0, 0], [1.0, 0, 0], [0, 1.2, 0]]), [1, 8, 1], cutoff=3.0)
    triplets = build_triplets(graph)
    traced = jax.jit(lambda t: triplet_mask(graph, t))(triplets)
    np.testing.assert_array_equal(traced, triplet_mask(graph, triplets))
