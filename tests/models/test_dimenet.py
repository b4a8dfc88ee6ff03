"""DimeNet / DimeNet++ / DimezblNet (their ZBL composition): the reusable model checks, triplets, ZBL on/off, species.

Small widths and float64 (conftest) keep every check fast; triplets come from the dense in-jit
enumeration (``hybridpot.testing.model_energy_fn``) in the ``hybridpot.testing`` checks, which
rebuild graphs.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hybridpot import testing
from hybridpot.graph import (
    PaddingBuckets,
    batch_graphs,
    build_graph,
    build_triplets,
    pad_to_bucket,
)
from hybridpot.io import bundled_md17
from hybridpot.models import dimenet_model
from hybridpot.models.dimenet import all_edge_pairs, glorot_orthogonal
from hybridpot.potentials import dimezblnet, zbl_term

# compile-heavy: outside the default selection; CI runs it with `pytest -m heavy`
pytestmark = pytest.mark.heavy

CUTOFF = 4.0
SMALL = dict(emb_size=6, out_emb_size=6, int_emb_size=4, basis_emb_size=3, num_bilinear=3, num_blocks=1,
             num_spherical=3, num_radial=3, num_dense_output=1, num_after_skip=1)


def small_model(variant="dimenet++", zbl=True, **kw):
    """A small float64 model with C/H/O species (with ``zbl``: ZBL to ``zbl_cutoff``, default the cutoff)."""
    args = {**SMALL, **kw}
    if variant == "dimenet":
        args.pop("out_emb_size"), args.pop("int_emb_size"), args.pop("basis_emb_size")
    else:
        args.pop("num_bilinear")
    if zbl:  # the global ZBL range, so that the term acts at ethanol's bond lengths (the covalent
        # prior, zero there, has its own tests in tests/potentials/test_zbl_prior.py)
        return dimezblnet((1, 6, 8), variant=variant, cutoff=CUTOFF, zbl_ranges="global", zbl_trainable=True,
                          param_dtype=jnp.float64, **args)
    return dimenet_model((1, 6, 8), variant=variant, cutoff=CUTOFF, param_dtype=jnp.float64, **args)


def random_params(model, graph, seed=0):
    """Initial parameters with the zero-initialised output layers made non-zero (so energies vary)."""
    params = model.init(jax.random.PRNGKey(seed), graph, None)
    leaves, tree = jax.tree.flatten(params)
    keys = jax.random.split(jax.random.PRNGKey(seed + 1), len(leaves))
    leaves = [x + 0.1 * jax.random.normal(k, x.shape, x.dtype) if x.ndim == 2 and x.shape[1] == 1 else x
              for x, k in zip(leaves, keys)]
    return jax.tree.unflatten(tree, leaves)


@pytest.fixture(scope="module")
def ethanol():
    """Two ethanol frames: (numbers [9], positions [2, 9, 3] Å)."""
    frames = bundled_md17()
    return frames.numbers, frames.positions[:2]


build = functools.partial(build_graph, cutoff=CUTOFF)


def test_dimenet_pp_zbl_model_checks(ethanol):
    """DimeNet++ with the trainable ZBL term: every reusable check of hybridpot.testing."""
    numbers, pos = ethanol
    model = small_model("dimenet++")
    g0, g1 = build(pos[0], numbers), build(pos[1], numbers)
    params = random_params(model, g0)
    fn = testing.model_energy_fn(model)
    testing.assert_forces_match_finite_differences(fn, params, g0, rtol=1e-5, atol=1e-6)
    testing.assert_invariant_under_rotation_translation(fn, params, build, pos[0], numbers)
    testing.assert_permutation_invariant(fn, params, build, pos[0], numbers)
    testing.assert_padding_invariant(fn, params, g0)
    testing.assert_batch_equals_single(fn, params, [g0, g1])
    testing.assert_no_gradient_leak_between_graphs(fn, params, [g0, g1])
    testing.assert_forces_vanish_at_cutoff(fn, params, build, [6, 8], CUTOFF)
    testing.assert_atomic_energies_sum_to_energy(model, params, [g0, g1])  # the hybrid's, ZBL included


def test_dimenet_bilinear_forces_rotation_and_padding(ethanol):
    """The bilinear DimeNet (no ZBL): finite-difference forces, rotation invariance, padding."""
    numbers, pos = ethanol
    model = small_model("dimenet", zbl=False)
    g0 = build(pos[0], numbers)
    params = random_params(model, g0)
    fn = testing.model_energy_fn(model)
    testing.assert_forces_match_finite_differences(fn, params, g0, rtol=1e-5, atol=1e-6)
    testing.assert_invariant_under_rotation_translation(fn, params, build, pos[0], numbers)
    testing.assert_padding_invariant(fn, params, g0)


@pytest.mark.parametrize("rbf_edge", ["kj", "ji"])
def test_host_triplets_padded_equal_dense_triplets(ethanol, rbf_edge):
    """build_triplets (unpadded and padded to a bucket) and the in-jit dense enumeration agree."""
    numbers, pos = ethanol
    model = small_model("dimenet", rbf_edge=rbf_edge)
    g = batch_graphs([build(pos[0], numbers), build(pos[1], numbers)])
    params = random_params(model, g)
    t = build_triplets(g)
    e_dense = model.energy(params, g, None)
    e_host = model.energy(params, g, t)
    buckets = PaddingBuckets.geometric(40, 300, 4, max_n_triplet=4000, n_buckets=1)
    gp, tp = pad_to_bucket(g, buckets, t)
    e_pad = model.energy(params, gp, tp)
    np.testing.assert_allclose(e_host, e_dense, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(e_pad[:2], e_host, rtol=1e-12, atol=1e-12)
    assert np.all(np.asarray(e_pad[2:]) == 0)


def test_dense_triplets_match_host_triplets_with_periodic_images():
    """A small periodic cell: images of the same atom are separate sites in both enumerations."""
    rng = np.random.default_rng(0)
    cell = np.eye(3) * 3.2
    pos = rng.uniform(0, 3.2, (3, 3))
    g = build_graph(pos, [6, 1, 8], CUTOFF, cell=cell, pbc=True)
    t = build_triplets(g)
    kj, ji, mask = (np.asarray(x) for x in all_edge_pairs(g))
    dense = set(zip(kj[mask].tolist(), ji[mask].tolist()))
    assert dense == set(zip(np.asarray(t.kj).tolist(), np.asarray(t.ji).tolist()))
    assert len(dense) == len(t.kj) > 0


def test_zbl_on_off_differs_by_the_zbl_sum_only(ethanol):
    """Same network parameters: E(zbl) − E(no zbl) = Σ_pairs ZBL exactly; zero when every pair is
    beyond the ZBL range."""
    numbers, pos = ethanol
    on = small_model(zbl=True, zbl_cutoff=1.5)
    off = small_model(zbl=False)
    g = build(pos[0], numbers)
    params_on = random_params(on, g)
    params_off = params_on["learned"]
    diff = on.energy(params_on, g, None) - off.energy(params_off, g, None)
    zbl_model = zbl_term(1.5, "envelope", trainable=True)
    zbl = zbl_model.energy(params_on["physics"], g, None)
    np.testing.assert_allclose(diff, zbl, rtol=1e-12, atol=1e-12)
    assert float(zbl[0]) > 0
    # an expanded ethanol: every pair beyond 1.5 Å (still within the network cutoff)
    far = build(pos[0] * 1.6, numbers)
    assert np.min(np.linalg.norm(pos[0][:, None] * 1.6 - pos[0][None] * 1.6, axis=-1) + 9 * np.eye(9)) > 1.5
    d_far = on.energy(params_on, far, None) - off.energy(params_off, far, None)
    assert float(d_far[0]) == 0.0

    def zbl_far(p):  # the ZBL term adds no force either
        return zbl_model.energy(params_on["physics"], far._replace(nodes={**far.nodes, "positions": p}), None).sum()

    assert np.all(np.asarray(jax.grad(zbl_far)(far.nodes["positions"])) == 0)


def test_unknown_element_raises_value_error_naming_it(ethanol):
    numbers, pos = ethanol
    model = small_model()
    g = build(pos[0], numbers)
    params = random_params(model, g)
    bad = build(pos[0], np.where(numbers == 8, 7, numbers))
    with pytest.raises(ValueError, match=r"N \(Z=7\)"):
        model.energy(params, bad, None)
    with pytest.raises(ValueError, match="species"):
        dimenet_model((1, 1, 6))


def test_initialisers_and_defaults():
    w = glorot_orthogonal()(jax.random.PRNGKey(0), (64, 32))
    np.testing.assert_allclose(float(jnp.var(w)), 2.0 / 96, rtol=1e-5)
    m = dimenet_model((1, 6))
    assert m.needs_triplets and m.cutoff == 5.0 and m.species == (1, 6)
    with pytest.raises(ValueError, match="unknown DimeNet hyper"):
        dimenet_model((1, 6), emb_sise=3)
