"""Behler–Parrinello network: descriptors vs brute force, model checks, species errors, hybrids."""

import functools
import itertools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hybridpot import testing
from hybridpot.graph import batch_graphs, build_graph, build_triplets
from hybridpot.hybrid import additive
from hybridpot.models import (
    angular_triplets,
    behler_parrinello,
    fit_descriptor_scaling,
    symmetry_function_descriptors,
    symmetry_function_spec,
)
from hybridpot.physics import second_moment_params
from hybridpot.potential import energy_and_forces
from hybridpot.potentials import embedded_atom_term

# compile-heavy: outside the default selection; CI runs it with `pytest -m heavy`
pytestmark = pytest.mark.heavy

SPECIES = (13, 28)
CUTOFF, ANGULAR = 4.2, 3.3


def small_cell(seed=0, n_rep=1):
    """A rattled 4-atom fcc Al–Ni cell (L1₂-like), a = 3.7 Å: images matter at both cutoffs."""
    rng = np.random.default_rng(seed)
    a = 3.7
    base = np.array([[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]]) * a
    cell = np.eye(3) * a + rng.normal(scale=0.05, size=(3, 3))
    pos = base + rng.normal(scale=0.12, size=base.shape)
    numbers = np.array([13, 28, 28, 28])
    return pos, numbers, cell


@pytest.fixture(scope="module")
def spec():
    return symmetry_function_spec(SPECIES, CUTOFF, ANGULAR, num_radial=5, num_angular_eta=3, zetas=(1.0, 2.5))


def brute_descriptors(pos, numbers, cell, spec):
    """Element-resolved G2/G4 by explicit loops over periodic images (numpy, float64)."""
    n_img = 3
    images = []
    for shift in itertools.product(range(-n_img, n_img + 1), repeat=3):
        for j in range(len(pos)):
            images.append((j, pos[j] + np.asarray(shift) @ cell, shift == (0, 0, 0)))
    s_of = {z: k for k, z in enumerate(spec.species)}
    order = {}
    k = 0
    for a in range(spec.n_species):
        for b in range(a, spec.n_species):
            order[(a, b)] = order[(b, a)] = k
            k += 1
    fc = lambda r, rc: 0.5 * (math.cos(math.pi * r / rc) + 1.0) if r < rc else 0.0  # noqa: E731
    pr, pa = len(spec.radial_eta), len(spec.angular_eta)
    out = np.zeros((len(pos), spec.n_features))
    for i in range(len(pos)):
        neigh = [(j, x) for j, x, home in images if not (home and j == i) and np.linalg.norm(x - pos[i]) < spec.cutoff]
        for j, x in neigh:
            r = np.linalg.norm(x - pos[i])
            sj = s_of[numbers[j]]
            for p in range(pr):
                out[i, sj * pr + p] += math.exp(-spec.radial_eta[p] * (r - spec.radial_shift[p]) ** 2) * fc(r, spec.cutoff)
        for (j, xj), (k, xk) in itertools.permutations(neigh, 2):
            vij, vik = xj - pos[i], xk - pos[i]
            rij, rik, rjk = np.linalg.norm(vij), np.linalg.norm(vik), np.linalg.norm(xk - xj)
            cos = vij @ vik / (rij * rik)
            blk = spec.n_radial + order[(s_of[numbers[j]], s_of[numbers[k]])] * pa
            for p in range(pa):
                eta, zeta, lam = spec.angular_eta[p], spec.angular_zeta[p], spec.angular_lambda[p]
                term = 2 ** (1 - zeta) * max(1 + lam * cos, 0.0) ** zeta * math.exp(-eta * (rij**2 + rik**2 + rjk**2))
                out[i, blk + p] += term * fc(rij, spec.angular_cutoff) * fc(rik, spec.angular_cutoff) * fc(rjk, spec.angular_cutoff)
    return out


def test_descriptors_match_brute_force_on_periodic_cell(spec):
    pos, numbers, cell = small_cell()
    graph = build_graph(pos, numbers, CUTOFF, cell=cell, pbc=True)
    expected = brute_descriptors(pos, numbers, cell, spec)
    for triplets in (build_triplets(graph), angular_triplets(graph, ANGULAR)):
        got = np.asarray(jax.jit(symmetry_function_descriptors, static_argnums=2)(graph, triplets, spec))
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)
    assert np.abs(expected[:, spec.n_radial:]).max() > 1e-3  # angular blocks are exercised
    assert len(angular_triplets(graph, ANGULAR).kj) < len(build_triplets(graph).kj)


# ----------------------------------------------------------------------------- the model


def energy_fn_with_triplets(energy, graphs, padded=((3, 5),)):
    """``energy_fn(params, graph)`` for :mod:`hybridpot.testing`: the triplets of each graph are
    precomputed and looked up by the graph's static shape (n_node, n_edge); padded copies
    (extra nodes, extra edges) reuse the triplets of their graph (padding is appended)."""
    table = {}
    for g in graphs:
        n, e = g.nodes["positions"].shape[0], g.senders.shape[0]
        t = build_triplets(g)
        table[(n, e)] = t
        for dn, de in padded:
            table[(n + dn, e + de)] = t

    def fn(params, graph):
        return energy(params, graph, table[(graph.nodes["positions"].shape[0], graph.senders.shape[0])])

    return fn


@pytest.fixture(scope="module")
def cells():
    out = []
    for seed, reps in ((0, (1, 1, 1)), (1, (2, 1, 1))):
        pos, numbers, cell = small_cell(seed)
        k = np.prod(reps)
        pos = np.concatenate([pos + np.array([i, 0, 0]) @ cell for i in range(reps[0])])
        numbers = np.tile(numbers, k)
        cell = np.diag(reps) @ cell
        out.append((pos, numbers, cell))
    return out


@pytest.fixture(scope="module")
def model_and_params(spec, cells):
    graphs = [build_graph(p, z, CUTOFF, cell=c, pbc=True) for p, z, c in cells]
    scaling = fit_descriptor_scaling(spec, graphs)
    model = behler_parrinello(spec, scaling, hidden=(8, 8), param_dtype=jnp.float64)
    params = model.init(jax.random.PRNGKey(0), graphs[0], None)
    return model, params, graphs


@pytest.fixture(scope="module")
def energy_fn(model_and_params):
    """One ``energy_fn(params, graph)`` for every check, so compiled wrappers are shared."""
    model, _, graphs = model_and_params
    return energy_fn_with_triplets(model.energy, list(graphs) + [batch_graphs(graphs)])


def test_scaling_standardises_training_descriptors(spec, model_and_params):
    _, _, graphs = model_and_params
    scaling = fit_descriptor_scaling(spec, graphs, batch_size=1)
    descriptors = jax.jit(symmetry_function_descriptors, static_argnums=2)
    g = np.concatenate([np.asarray(descriptors(x, build_triplets(x), spec)) for x in graphs])
    z = np.concatenate([np.asarray(x.nodes["atomic_numbers"]) for x in graphs])
    for s, zz in enumerate(SPECIES):
        x = (g[z == zz] - scaling.mean[s]) / scaling.scale[s]
        np.testing.assert_allclose(x.mean(0), 0.0, atol=1e-9)
        g_s = g[z == zz]
        varying = g_s.std(0) > np.maximum(1e-3 * np.abs(g_s.mean(0)), 1e-8)
        np.testing.assert_allclose(x.std(0)[varying], 1.0, rtol=1e-9)
        assert (x.std(0)[~varying] <= 1.0 + 1e-9).all()
    assert scaling.counts.tolist() == [int((z == 13).sum()), int((z == 28).sum())]


def test_forces_and_stress_match_finite_differences(model_and_params, energy_fn):
    _, params, graphs = model_and_params
    # δ = 1e-5: the standardised features are steep (small training spread), and the
    # truncation error of central differences (∝ δ²) is 1e-6 eV/Å at the default 1e-4
    testing.assert_forces_match_finite_differences(energy_fn, params, graphs[0], delta=1e-5, rtol=1e-6, atol=1e-7)
    testing.assert_stress_matches_finite_differences(energy_fn, params, graphs[0], rtol=1e-6, atol=1e-8)


def test_padding_batch_and_gradient_isolation(model_and_params, energy_fn):
    model, params, graphs = model_and_params
    fn = energy_fn
    testing.assert_padding_invariant(fn, params, graphs[0])
    testing.assert_batch_equals_single(fn, params, graphs)
    testing.assert_no_gradient_leak_between_graphs(fn, params, graphs)
    testing.assert_atomic_energies_sum_to_energy(model, params, graphs)


def test_rotation_translation_and_permutation_invariance(model_and_params, energy_fn, cells):
    model, params, _ = model_and_params
    pos, numbers, cell = cells[0]
    build = functools.partial(build_graph, cutoff=CUTOFF, pbc=True)
    fn = energy_fn  # a rotated cell has the same edge list, so the same triplets
    testing.assert_invariant_under_rotation_translation(fn, params, build, pos, numbers, cell)
    # permutation changes the edge list: rebuild the triplets of the permuted graph
    perm = np.random.default_rng(3).permutation(len(numbers))
    ef = energy_and_forces(lambda p, g: model.energy(p, g, build_triplets(g)))
    e0, f0 = ef(params, build(pos, numbers, cell=cell))
    e1, f1 = ef(params, build(pos[perm], numbers[perm], cell=cell))
    np.testing.assert_allclose(e1, e0, rtol=1e-12)
    np.testing.assert_allclose(f1, np.asarray(f0)[perm], atol=1e-11)


def test_unknown_element_raises_naming_it(model_and_params, cells):
    model, params, _ = model_and_params
    pos, numbers, cell = cells[0]
    numbers = numbers.copy()
    numbers[1] = 29
    g = build_graph(pos, numbers, CUTOFF, cell=cell, pbc=True)
    with pytest.raises(ValueError, match=r"Cu \(Z=29\).*Al \(Z=13\), Ni \(Z=28\)"):
        model.energy(params, g, build_triplets(g))
    # under jit the species cannot be inspected: the energy is NaN, never a silent number
    e = jax.jit(model.energy)(params, g, build_triplets(g))
    assert np.isnan(np.asarray(e)).all()
    with pytest.raises(ValueError, match="Cu"):
        eam = embedded_atom_term(SPECIES, CUTOFF, **second_moment_params(2)._asdict())
        eam.energy({}, g, None)


def test_jit_vmap_over_params(model_and_params):
    model, params, graphs = model_and_params
    g = graphs[0]
    t = build_triplets(g)
    stacked = jax.vmap(lambda k: model.init(k, g, t))(jax.random.split(jax.random.PRNGKey(1), 3))
    e = jax.jit(jax.vmap(model.energy, in_axes=(0, None, None)))(stacked, g, t)
    for k in range(3):
        one = jax.tree_util.tree_map(lambda x: x[k], stacked)
        np.testing.assert_allclose(e[k], model.energy(one, g, t), rtol=1e-12)


def test_additive_hybrid_is_physics_plus_network_exactly(model_and_params, spec):
    model, params, graphs = model_and_params
    physics = embedded_atom_term(SPECIES, CUTOFF, **second_moment_params(2, r0=2.6)._asdict(), trainable=True)
    hybrid = additive(physics, model)
    hp = hybrid.init(jax.random.PRNGKey(0), graphs[0], build_triplets(graphs[0]))
    hp["learned"] = params
    for g in graphs:
        t = build_triplets(g)
        total = np.asarray(hybrid.energy(hp, g, t))
        expected = np.asarray(physics.energy(hp["physics"], g, None)) + np.asarray(model.energy(params, g, t))
        assert np.array_equal(total, expected)
    fn = energy_fn_with_triplets(hybrid.energy, graphs)
    testing.assert_forces_match_finite_differences(fn, hp, graphs[0], delta=1e-5, rtol=1e-6, atol=1e-7)


def test_radial_only_spec_needs_no_triplets_and_matches_the_radial_blocks(spec, cells):
    radial = symmetry_function_spec(SPECIES, CUTOFF, ANGULAR, num_radial=5, num_angular_eta=0)
    assert radial.n_angular == 0 and radial.n_features == spec.n_radial
    pos, numbers, cell = cells[1]
    graph = build_graph(pos, numbers, CUTOFF, cell=cell, pbc=True)
    full = np.asarray(symmetry_function_descriptors(graph, build_triplets(graph), spec))
    np.testing.assert_allclose(np.asarray(symmetry_function_descriptors(graph, None, radial)), full[:, : spec.n_radial],
                               rtol=1e-12, atol=1e-14)
    graphs = [build_graph(p, z, CUTOFF, cell=c, pbc=True) for p, z, c in cells]
    model = behler_parrinello(radial, fit_descriptor_scaling(radial, graphs), hidden=(8,), param_dtype=jnp.float64)
    assert not model.needs_triplets
    params = model.init(jax.random.PRNGKey(1), graph, None)
    testing.assert_forces_match_finite_differences(lambda p, g: model.energy(p, g, None), params, graph, delta=1e-5,
                                                   rtol=1e-6, atol=1e-7)
    with pytest.raises(ValueError, match="num_angular_eta"):
        symmetry_function_spec(SPECIES, CUTOFF, num_angular_eta=1)


def test_chunked_triplets_give_the_same_energy_and_forces(spec, model_and_params):
    model, params, graphs = model_and_params
    chunked = behler_parrinello(spec, fit_descriptor_scaling(spec, graphs), hidden=(8, 8), param_dtype=jnp.float64,
                                triplet_chunk=37)
    graph = graphs[1]
    triplets = build_triplets(graph)
    assert triplets.kj.shape[0] > 3 * 37  # several chunks and an overlapping last one
    full_e, full_f = energy_and_forces(lambda p, g: model.energy(p, g, triplets))(params, graph)
    e, f = jax.jit(energy_and_forces(lambda p, g: chunked.energy(p, g, triplets)))(params, graph)
    np.testing.assert_allclose(e, full_e, rtol=1e-12)
    np.testing.assert_allclose(f, full_f, rtol=1e-10, atol=1e-12)


def test_auto_triplet_chunk_follows_the_memory_budget(spec, model_and_params, monkeypatch):
    from hybridpot.models import chunking, descriptors

    per_triplet = 4 * 9 * len(spec.angular_eta)
    assert descriptors.auto_triplet_chunk(spec, 1000, jnp.float32, budget=1000 * per_triplet) is None
    assert descriptors.auto_triplet_chunk(spec, 10**7, jnp.float32, budget=10**5 * per_triplet) == 10**5
    assert descriptors.auto_triplet_chunk(spec, 10**7, jnp.float64, budget=10**5 * per_triplet) == 10**5 // 2
    # the default ("auto") model chunks once the budget is small, with unchanged energies and forces
    model, params, graphs = model_and_params
    graph = graphs[1]
    triplets = build_triplets(graph)
    full_e, full_f = energy_and_forces(lambda p, g: model.energy(p, g, triplets))(params, graph)
    monkeypatch.setattr(chunking, "MEMORY_BUDGET", 1)
    assert descriptors.auto_triplet_chunk(spec, triplets.kj.shape[0], jnp.float64) == 64
    assert triplets.kj.shape[0] > 3 * 64  # several chunks and an overlapping last one
    e, f = jax.jit(energy_and_forces(lambda p, g: model.energy(p, g, triplets)))(params, graph)
    np.testing.assert_allclose(e, full_e, rtol=1e-12)
    np.testing.assert_allclose(f, full_f, rtol=1e-10, atol=1e-12)
