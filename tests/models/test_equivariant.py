"""NequIP-like and MACE-like models on e3nn-jax: equivariant features, the reusable model checks, stress, dtypes.

Small widths (4 channels, lmax 1 or 2, one hidden radial layer) and float64 (conftest) keep every check
fast; the same code runs at the published sizes.
"""

from __future__ import annotations

import functools

import e3nn_jax as e3nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from ase.build import bulk

from hybridpot import testing
from hybridpot.graph import PaddingBuckets, batch_graphs, build_graph, pad_to_bucket
from hybridpot.io import bundled_md17
from hybridpot.models import average_neighbour_count, equivariant_model, mace, nequip
from hybridpot.models.equivariant import EquivariantNetwork
from hybridpot.potential import energy_and_forces

# compile-heavy: outside the default selection; CI runs it with `pytest -m heavy`
pytestmark = pytest.mark.heavy

CUTOFF = 4.0
#: lmax 1 (features 0e + 1o) keeps compilation short for the energy and gradient checks; the
#: equivariance test runs lmax 2 (rank-2 tensors as well).
SMALL = dict(cutoff=CUTOFF, channels=4, lmax=1, num_interactions=2, num_radial=4, radial_hidden=(8,),
             readout_hidden=4, avg_num_neighbors=8.0, param_dtype=jnp.float64)


def random_params(model, graph, seed=0):
    """Initial parameters, all perturbed so that no readout starts degenerate."""
    params = model.init(jax.random.PRNGKey(seed), graph, None)
    leaves, tree = jax.tree.flatten(params)
    keys = jax.random.split(jax.random.PRNGKey(seed + 1), len(leaves))
    return jax.tree.unflatten(tree, [x + 0.3 * jax.random.normal(k, x.shape, x.dtype) for x, k in zip(leaves, keys)])


@pytest.fixture(scope="module")
def ethanol():
    """Two ethanol frames: (numbers [9], positions [2, 9, 3] Å)."""
    frames = bundled_md17()
    return frames.numbers, frames.positions[:2]


build = functools.partial(build_graph, cutoff=CUTOFF)


@pytest.mark.parametrize("ctor", [nequip, mace], ids=["nequip", "mace"])
def test_internal_features_are_equivariant_under_rotations_and_reflections(ethanol, ctor):
    """Every layer's node features transform by the Wigner matrices of their irreps when the positions
    are rotated and inverted (e3nn_jax.utils.assert_equivariant, random O(3) element)."""
    numbers, pos = ethanol
    hyper = {**SMALL, "lmax": 2}
    model = ctor((1, 6, 8), **hyper)
    graph = build(pos[0], numbers)
    params = random_params(model, graph)
    network = EquivariantNetwork(species=(1, 6, 8), **{k: v for k, v in hyper.items() if k != "param_dtype"},
                                 correlation=1 if ctor is nequip else 3)

    @jax.jit
    def features(positions: e3nn.IrrepsArray) -> e3nn.IrrepsArray:
        g = graph._replace(nodes={**graph.nodes, "positions": positions.array})
        _, hs = network.apply({"params": params}, g, return_features=True)
        return e3nn.concatenate(hs, axis=-1)

    out = features(e3nn.IrrepsArray("1o", jnp.asarray(pos[0])))
    assert out.irreps.lmax == 2 and out.irreps.count("1o") > 0  # the check is not only on scalars
    e3nn.utils.assert_equivariant(features, jax.random.PRNGKey(3), e3nn.IrrepsArray("1o", jnp.asarray(pos[0])),
                                  atol=1e-9, rtol=1e-9)


def test_mace_passes_every_reusable_model_check(ethanol):
    """MACE-like: finite-difference forces, rotation/translation and permutation invariance, padding,
    batch == single, no gradient leak, far-apart molecules add up, forces vanish at the cutoff."""
    numbers, pos = ethanol
    model = mace((1, 6, 8), **SMALL)
    g0, g1 = build(pos[0], numbers), build(pos[1], numbers)
    params = random_params(model, g0)
    fn = testing.model_energy_fn(model)
    testing.assert_forces_match_finite_differences(fn, params, g0, rtol=1e-5, atol=1e-6)
    testing.assert_invariant_under_rotation_translation(fn, params, build, pos[0], numbers)
    testing.assert_permutation_invariant(fn, params, build, pos[0], numbers)
    testing.assert_padding_invariant(fn, params, g0)
    testing.assert_batch_equals_single(fn, params, [g0, g1])
    testing.assert_no_gradient_leak_between_graphs(fn, params, [g0, g1])
    testing.assert_far_apart_add_up(fn, params, build, pos[0], numbers, pos[1][:3], numbers[:3])
    testing.assert_forces_vanish_at_cutoff(fn, params, build, [6, 8], CUTOFF)
    testing.assert_atomic_energies_sum_to_energy(model, params, [g0, g1])


# NequIP shares the convolution with MACE (checked above); its gated update's checks, and the
# dtype/bucket check below, run with `pytest -m slow` (each about a minute of compilation)
@pytest.mark.slow
def test_nequip_forces_invariance_padding_and_cutoff(ethanol):
    """NequIP-like: finite-difference forces, rotation invariance, padding, forces vanish at the cutoff."""
    numbers, pos = ethanol
    model = nequip((1, 6, 8), **SMALL)
    g0 = build(pos[0], numbers)
    params = random_params(model, g0)
    fn = testing.model_energy_fn(model)
    testing.assert_forces_match_finite_differences(fn, params, g0, rtol=1e-5, atol=1e-6)
    testing.assert_invariant_under_rotation_translation(fn, params, build, pos[0], numbers)
    testing.assert_padding_invariant(fn, params, g0)
    testing.assert_forces_vanish_at_cutoff(fn, params, build, [1, 8], CUTOFF)


def test_stress_matches_finite_differences_in_a_periodic_cell():
    """A rattled 4-atom Al/Ni cell (many periodic images within the cutoff): stress from the strain
    derivative equals finite differences of rebuilt neighbour lists."""
    atoms = bulk("Al", "fcc", a=3.9, cubic=True)
    atoms.numbers[0] = 28
    atoms.rattle(0.05, seed=1)
    pbuild = functools.partial(build_graph, cutoff=CUTOFF, pbc=True)
    graph = pbuild(atoms.positions, atoms.numbers, cell=np.asarray(atoms.cell))
    model = mace((13, 28), **{**SMALL, "avg_num_neighbors": average_neighbour_count([graph])})
    params = random_params(model, graph)
    fn = testing.model_energy_fn(model)
    testing.assert_stress_matches_finite_differences(fn, params, graph, build_fn=pbuild, rtol=1e-6, atol=1e-8)
    testing.assert_forces_match_finite_differences(fn, params, graph, rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_bucket_padding_and_float32_agree_with_float64(ethanol):
    """A batch padded to a bucket gives the unpadded energies; float32 parameters and positions give
    the float64 energies to float32 precision."""
    numbers, pos = ethanol
    g = batch_graphs([build(pos[0], numbers), build(pos[1], numbers)])
    model = mace((1, 6, 8), **SMALL)
    params = random_params(model, g)
    energy = jax.jit(testing.model_energy_fn(model))
    e = np.asarray(energy(params, g))
    padded = pad_to_bucket(g, PaddingBuckets.geometric(40, 300, 4, n_buckets=1))
    e_pad = np.asarray(energy(params, padded))
    np.testing.assert_allclose(e_pad[:2], e, rtol=1e-12, atol=1e-12)
    assert np.all(e_pad[2:] == 0)
    model32 = mace((1, 6, 8), **{**SMALL, "param_dtype": jnp.float32})
    params32 = jax.tree.map(lambda x: x.astype(jnp.float32), params)
    g32 = build(pos[0].astype(np.float32), numbers)
    g32 = g32._replace(nodes={**g32.nodes, "positions": g32.nodes["positions"].astype(jnp.float32)})
    e32 = jax.jit(testing.model_energy_fn(model32))(params32, g32)
    assert e32.dtype == jnp.float32
    np.testing.assert_allclose(np.asarray(e32), e[:1], rtol=1e-4, atol=1e-4)


def test_body_order_switch_changes_the_model_and_arguments_are_checked(ethanol):
    """correlation 1, 2, 3 are different functions with different parameters; bad arguments and
    elements outside the species raise ValueError naming them."""
    numbers, pos = ethanol
    g = build(pos[0], numbers)
    sizes = []
    for nu in (1, 2, 3):
        model = equivariant_model((1, 6, 8), correlation=nu, **SMALL)
        shapes = jax.eval_shape(model.init, jax.random.PRNGKey(0), g, None)
        sizes.append(sum(x.size for x in jax.tree.leaves(shapes)))
    assert sizes[1] < sizes[2] and len(set(sizes)) == 3
    with pytest.raises(ValueError, match="correlation"):
        nequip((1, 6, 8), correlation=2)
    with pytest.raises(ValueError, match="unknown mace argument"):
        mace((1, 6, 8), hidden=[4])
    with pytest.raises(ValueError, match="channels"):
        mace((1, 6, 8), channels=0)
    model = mace((1, 6), **SMALL)
    params = jax.tree.map(jnp.zeros_like, jax.eval_shape(model.init, jax.random.PRNGKey(0), g, None))
    with pytest.raises(ValueError, match="8"):
        model.energy(params, g)  # the host-side check fires before any computation


def test_average_neighbour_count_ignores_padding(ethanol):
    numbers, pos = ethanol
    g = build(pos[0], numbers)
    n = int(np.sum(np.asarray(g.n_edge))) / 9
    padded = pad_to_bucket(g, PaddingBuckets.geometric(40, 300, 2, n_buckets=1))
    assert average_neighbour_count([g]) == average_neighbour_count([padded]) == n


def test_edge_chunks_give_the_same_energy_forces_and_parameters():
    """Messages computed a chunk of edges at a time (an overlapping last chunk included) equal all at
    once in float64; the parameters keep their names and shapes, so model files load either way."""
    from hybridpot.models.chunking import auto_chunk

    atoms = bulk("Al", "fcc", a=3.9, cubic=True).repeat((2, 1, 1))
    atoms.numbers[[0, 5]] = 28
    atoms.rattle(0.05, seed=2)
    graph = build_graph(atoms.positions, atoms.numbers, cutoff=CUTOFF, pbc=True, cell=np.asarray(atoms.cell))
    n_edge = int(graph.senders.shape[0])
    assert n_edge % 37 and n_edge > 3 * 37  # several chunks and an overlapping last one
    whole = mace((13, 28), **SMALL, edge_chunk=None)
    chunked = mace((13, 28), **SMALL, edge_chunk=37)
    params = random_params(whole, graph)
    assert jax.tree.map(jnp.shape, random_params(chunked, graph)) == jax.tree.map(jnp.shape, params)
    full_e, full_f = jax.jit(energy_and_forces(whole.energy))(params, graph)
    e, f = jax.jit(energy_and_forces(chunked.energy))(params, graph)
    np.testing.assert_allclose(e, full_e, rtol=1e-12)
    np.testing.assert_allclose(f, full_f, rtol=1e-10, atol=1e-12)
    assert auto_chunk(1000, 100, budget=100_000) is None
    assert auto_chunk(10**6, 100, budget=10**6) == 10**4
    assert auto_chunk(10**6, 100, budget=10) == 64
    with pytest.raises(ValueError, match="edge_chunk"):
        mace((13, 28), edge_chunk=0)


@pytest.mark.parametrize(("ctor", "chunk"), [(mace, 5), (nequip, "auto")], ids=["mace-5", "nequip-auto"])
def test_node_chunks_give_the_same_energy_forces_and_parameter_gradients(ctor, chunk, monkeypatch):
    """Each layer's node update computed a chunk of nodes at a time equals all at once in float64:
    energies, forces and the gradient of the energy with respect to every parameter, on a graph
    with padding nodes; 12 nodes in chunks of 5 (the last overlapping the one before) and, through
    ``"auto"``, of 4 (the last chunk all padding nodes). The chunked model runs on the unchunked
    model's parameters: the names and shapes are the same."""
    from hybridpot.models import equivariant

    atoms = bulk("Al", "fcc", a=3.9, cubic=True).repeat((2, 1, 1))
    atoms.numbers[[0, 5]] = 28
    atoms.rattle(0.05, seed=3)
    graph = build_graph(atoms.positions, atoms.numbers, cutoff=CUTOFF, pbc=True, cell=np.asarray(atoms.cell))
    graph = pad_to_bucket(graph, PaddingBuckets(((12, int(graph.senders.shape[0]) + 5, 2),)))
    assert graph.nodes["positions"].shape[0] == 12  # 8 atoms and 4 padding nodes

    def evaluate(model, params):
        """(energies, forces, ∂E/∂params), from one backward pass."""
        def total(p, positions):
            energies = model.energy(p, graph._replace(nodes={**graph.nodes, "positions": positions}))
            return energies.sum(), energies

        grad = jax.jit(jax.value_and_grad(total, argnums=(0, 1), has_aux=True))
        (_, energies), (grads, d_positions) = grad(params, graph.nodes["positions"])
        return energies, -d_positions, grads

    whole = ctor((13, 28), **SMALL, edge_chunk=None, node_chunk=None)
    params = random_params(whole, graph)
    energy, forces, grads = evaluate(whole, params)
    # "auto" asks the budget (its smallest chunk, 64, exceeds this graph: answer 4 here)
    asked = []
    monkeypatch.setattr(equivariant, "auto_chunk", lambda n, per_node, budget=None: asked.append((n, per_node)) or 4)
    chunked = ctor((13, 28), **SMALL, edge_chunk=None, node_chunk=chunk)
    program = lambda model: str(jax.make_jaxpr(lambda p: model.energy(p, graph))(params))
    assert "scan" in program(chunked) and "scan" not in program(whole)  # lax.map over the chunks
    e, f, g = evaluate(chunked, params)
    assert chunk != "auto" or (asked and all(n == 12 and per_node > 0 for n, per_node in asked))
    np.testing.assert_allclose(e, energy, rtol=1e-12)
    np.testing.assert_allclose(f, forces, rtol=1e-10, atol=1e-12)
    assert np.all(np.asarray(f[8:]) == 0.0)
    for (path, x), y in zip(jax.tree_util.tree_flatten_with_path(g)[0], jax.tree.leaves(grads)):
        np.testing.assert_allclose(x, y, rtol=1e-10, atol=1e-12, err_msg=jax.tree_util.keystr(path))
    with pytest.raises(ValueError, match="node_chunk"):
        ctor((13, 28), node_chunk=0)
