"""DimeNet / DimeNet++ chunking: the triplet term, and with it the per-edge and per-atom layers of
the blocks, a chunk at a time equal all at once.

Tiny float64 models (conftest) on one ethanol frame whose triplets are padded to a bucket, so
the padding triplets of the graph and the overlapping last chunk are both exercised.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hybridpot.graph import PaddingBuckets, build_graph, build_triplets, pad_to_bucket
from hybridpot.io import bundled_md17
from hybridpot.models import chunking, dimenet_model
from hybridpot.models.dimenet import InteractionBlock
from hybridpot.validation import check_model_args

CUTOFF = 4.0
TINY = dict(emb_size=6, num_spherical=3, num_radial=3, num_dense_output=1, num_before_skip=0,
            num_after_skip=0)
WIDTHS = {"dimenet++": dict(out_emb_size=6, int_emb_size=4, basis_emb_size=3), "dimenet": dict(num_bilinear=3)}


def tiny_model(variant, triplet_chunk, num_blocks=1):
    return dimenet_model((1, 6, 8), variant=variant, cutoff=CUTOFF, param_dtype=jnp.float64,
                         triplet_chunk=triplet_chunk, num_blocks=num_blocks, **TINY, **WIDTHS[variant])


@pytest.fixture(scope="module")
def ethanol():
    """One ethanol frame as (graph, triplets) padded to a bucket with padding triplets."""
    frames = bundled_md17()
    graph = build_graph(frames.positions[0], frames.numbers, CUTOFF)
    triplets = build_triplets(graph)
    buckets = PaddingBuckets.geometric(12, 100, 2, max_n_triplet=600, n_buckets=1)
    padded_graph, padded = pad_to_bucket(graph, buckets, triplets)
    assert padded.kj.shape[0] > triplets.kj.shape[0]  # padding triplets
    return padded_graph, padded


def random_params(model, graph, triplets):
    """Random parameters of the model's shapes, N(0, 0.3²) (no eager ``init``: it takes seconds)."""
    rng = np.random.default_rng(0)
    shapes = jax.eval_shape(model.init, jax.random.PRNGKey(0), graph, triplets)
    return jax.tree.map(lambda x: jnp.asarray(0.3 * rng.standard_normal(x.shape), x.dtype), shapes)


def energy_forces_gradient(model, params, graph, triplets):
    """Energies ``[n_graph]``, forces ``[n_node, 3]`` and ∂ΣE/∂params, jitted, from one backward pass."""

    def total(p, positions):
        energy = model.energy(p, graph._replace(nodes={**graph.nodes, "positions": positions}), triplets)
        return jnp.sum(energy), energy

    (_, energy), (grad_p, grad_x) = jax.jit(jax.value_and_grad(total, argnums=(0, 1), has_aux=True))(
        params, graph.nodes["positions"])
    return energy, -grad_x, grad_p


def assert_same(got, want):
    for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(want)):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_triplet_chunks_give_the_same_energy_forces_and_parameter_gradient(ethanol):
    """DimeNet++ with 37-triplet chunks (not a divisor of the padded triplet count): the same
    energy, forces and parameter gradient as all at once, in float64; the chunked program scans."""
    graph, triplets = ethanol
    n_triplet = triplets.kj.shape[0]
    assert n_triplet % 37 and n_triplet > 3 * 37
    whole, chunked = tiny_model("dimenet++", None), tiny_model("dimenet++", 37)
    params = random_params(whole, graph, triplets)
    assert jax.tree.map(jnp.shape, jax.eval_shape(chunked.init, jax.random.PRNGKey(0), graph, triplets)) == \
        jax.tree.map(jnp.shape, params)
    want = energy_forces_gradient(whole, params, graph, triplets)
    assert_same(energy_forces_gradient(chunked, params, graph, triplets), want)
    assert float(jnp.abs(want[0][0])) > 0 and float(jnp.max(jnp.abs(want[1]))) > 0

    def jaxpr(model):
        return str(jax.make_jaxpr(lambda p: model.energy(p, graph, triplets))(params))

    assert "scan" in jaxpr(chunked) and "scan" not in jaxpr(whole)


def test_auto_chunk_follows_the_budget_and_keeps_training_batches_whole():
    """``"auto"`` chunks only above the budget; a training batch of 32 aspirin frames (135 792
    triplets after padding, as ``benchmarks/dimenet_pyg.py`` collates them) keeps DimeNet++'s
    unchunked program in float32, the 3.4·10⁶ triplets of 10 976 Ni₃Al atoms do not."""
    assert chunking.auto_chunk(1000, 100, budget=100_000) is None
    assert chunking.auto_chunk(10**6, 100, budget=10**6) == 10**4
    assert chunking.auto_chunk(10**6, 100, budget=10) == chunking.MIN_CHUNK
    per_triplet = InteractionBlock("dimenet++", 128).bytes_per_triplet(7, jnp.float32)
    assert chunking.auto_chunk(135_792, per_triplet) is None
    assert chunking.auto_chunk(10976 * 306, per_triplet) is not None
    assert InteractionBlock("dimenet++", 128).bytes_per_triplet(7, jnp.float64) == 2 * per_triplet


def test_triplet_chunk_is_checked_like_the_other_chunks():
    """The constructor and the config layer take null, 'auto' or an integer ≥ 1 for triplet_chunk."""
    for value in (None, "auto", 1, 4096):
        check_model_args("dimenet++", {"triplet_chunk": value})
        tiny_model("dimenet", value)
    for value in (0, "big", 2.5):
        with pytest.raises(ValueError, match=r"model\.triplet_chunk=.*: must be null, 'auto' or an integer >= 1"):
            check_model_args("dimenet++", {"triplet_chunk": value})
        with pytest.raises(ValueError, match="triplet_chunk"):
            tiny_model("dimenet++", value)


@pytest.mark.heavy
@pytest.mark.parametrize(("variant", "chunk"), [("dimenet++", 37), ("dimenet", "auto")])
def test_triplet_chunks_match_in_force_training_gradients(ethanol, variant, chunk, monkeypatch):
    """Both variants with two blocks (scanned one at a time with their parameters stacked when the
    triplets are chunked), in 37-triplet chunks or ``"auto"`` under a 1-byte budget (64-triplet
    chunks): energies, forces and the parameter gradient of an energy + force loss (second order
    through the scans) equal all at once to 1e-12 in float64."""
    graph, triplets = ethanol

    def loss_terms(model, params):
        def loss(p):
            energy, forces, _ = energy_forces_gradient(model, p, graph, triplets)
            return jnp.sum(energy**2) + jnp.sum(forces**2), (energy, forces)

        (_, (energy, forces)), grad = jax.jit(jax.value_and_grad(loss, has_aux=True))(params)
        return energy, forces, grad

    whole = tiny_model(variant, None, num_blocks=2)
    params = random_params(whole, graph, triplets)
    want = loss_terms(whole, params)
    monkeypatch.setattr(chunking, "MEMORY_BUDGET", 1)
    assert_same(loss_terms(tiny_model(variant, chunk, num_blocks=2), params), want)


@pytest.mark.parametrize(("variant", "rbf_edge"), [("dimenet++", "kj"), pytest.param("dimenet", "ji", marks=pytest.mark.heavy)])
def test_edge_chunks_inside_the_blocks_give_the_same_energy_forces_and_parameter_gradient(
        ethanol, variant, rbf_edge, monkeypatch):
    """With chunked triplets the embedding, interaction and output blocks run their per-edge
    parts and the output MLP a chunk of edges or atoms at a time: under a 1-byte budget with
    7-item chunks (a divisor of none of the padded counts: every last chunk overlaps), two blocks with residual layers give
    the energy, forces and parameter gradient of the unchunked model to 1e-12 in float64, and the
    program maps over the edges in chunks of 7 (about 10 s each; DimeNet in the heavy selection)."""
    graph, triplets = ethanol
    n_node, n_edge, n_triplet = graph.nodes["atomic_numbers"].shape[0], graph.senders.shape[0], triplets.kj.shape[0]
    assert n_node % 7 and n_edge % 7 and n_triplet % 7

    def model(triplet_chunk):
        return dimenet_model((1, 6, 8), variant=variant, cutoff=CUTOFF, param_dtype=jnp.float64,
                             triplet_chunk=triplet_chunk, num_blocks=2, rbf_edge=rbf_edge,
                             **{**TINY, "num_before_skip": 1, "num_after_skip": 1}, **WIDTHS[variant])

    whole = model(None)
    params = random_params(whole, graph, triplets)
    want = energy_forces_gradient(whole, params, graph, triplets)
    monkeypatch.setattr(chunking, "MEMORY_BUDGET", 1)
    monkeypatch.setattr(chunking, "MIN_CHUNK", 7)
    chunked = model("auto")
    assert_same(energy_forces_gradient(chunked, params, graph, triplets), want)
    jaxpr = str(jax.make_jaxpr(lambda p: chunked.energy(p, graph, triplets))(params))
    assert f"length={-(-n_edge // 7)}" in jaxpr and f"length={-(-n_node // 7)}" in jaxpr
