import jax
import jraph
import numpy as np
import pytest
from ase.build import bulk

from hybridpot.graph import (
    Bucket,
    PaddingBuckets,
    batch_graphs,
    build_graph,
    build_triplets,
    edge_distances,
    edge_mask,
    graph_from_atoms,
    graph_mask,
    node_mask,
    pad_graph,
    pad_to_bucket,
    triplet_mask,
    unbatch_graphs,
    unpad,
)

WATER = np.array([[0.0, 0.0, 0.12], [0.0, 0.76, -0.47], [0.0, -0.76, -0.47]])


def _graphs():
    return [build_graph(WATER, [8, 1, 1], 2.0), graph_from_atoms(bulk("Cu", "fcc", a=3.6), 3.0)]


def test_masks_match_jraph_on_padded_and_are_right_unpadded():
    batch = batch_graphs(_graphs())
    assert node_mask(batch).all() and edge_mask(batch).all() and graph_mask(batch).all()
    padded = pad_graph(batch, 10, 40, 4)
    ours = jax.jit(lambda g: (node_mask(g), edge_mask(g), graph_mask(g)))(padded)
    theirs = jax.jit(
        lambda g: (jraph.get_node_padding_mask(g), jraph.get_edge_padding_mask(g), jraph.get_graph_padding_mask(g))
    )(padded)
    host = (node_mask(padded), edge_mask(padded), graph_mask(padded))  # numpy path
    for a, b, c in zip(ours, theirs, host):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(c, b)
    assert [int(m.sum()) for m in ours] == [4, 18, 2]


def test_padded_edges_have_zero_length_and_padded_nodes_sit_at_origin():
    padded = pad_graph(batch_graphs(_graphs()), 10, 40, 4)
    assert not np.any(padded.nodes["positions"][4:]) and not np.any(padded.nodes["atomic_numbers"][4:])
    assert not np.any(edge_distances(padded)[18:])


def test_pad_unpad_roundtrip_and_unbatch():
    batch = batch_graphs(_graphs())
    back = unpad(pad_graph(batch, 10, 40, 4))
    for a, b in zip(jax.tree_util.tree_leaves(back), jax.tree_util.tree_leaves(batch)):
        np.testing.assert_array_equal(a, b)
    singles = unbatch_graphs(batch)
    assert [int(g.n_node[0]) for g in singles] == [3, 1]


def test_buckets_choose_smallest_that_fits():
    buckets = PaddingBuckets.geometric(64, 1000, 3, n_buckets=3)
    assert [b.n_edge for b in buckets.buckets] == [251, 501, 1001]
    assert buckets.choose(10, 200, 2) == buckets.buckets[0]
    assert buckets.choose(10, 251, 2) == buckets.buckets[1]  # leaves no padding edge: next one
    with pytest.raises(ValueError, match="no padding bucket fits n_node=100"):
        buckets.choose(100, 10, 2)
    with pytest.raises(ValueError, match="too small"):
        PaddingBuckets((Bucket(1, 10, 2),))


def test_pad_to_bucket_with_triplets():
    batch = batch_graphs(_graphs())
    triplets = build_triplets(batch)
    buckets = PaddingBuckets((Bucket(8, 32, 3, 512), Bucket(16, 64, 3, 1024)))
    padded, pt = pad_to_bucket(batch, buckets, triplets)
    assert padded.senders.shape == (32,) and pt.kj.shape == (512,)
    assert pt.n_triplet.shape == (3,) and int(pt.n_triplet.sum()) == 512
    mask = np.asarray(triplet_mask(padded, pt))
    assert mask.sum() == len(triplets.kj)
    assert np.all(np.asarray(edge_mask(padded))[pt.kj[~mask]] == 0)
    assert pad_to_bucket(batch, buckets).senders.shape == (32,)


def test_pad_graph_too_small():
    with pytest.raises(ValueError, match="cannot pad"):
        pad_graph(batch_graphs(_graphs()), 4, 40, 4)
