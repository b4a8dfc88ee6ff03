r"""Triplets k → j → i of directed edges, for angular models (DimeNet and friends).

A triplet pairs edge ``kj`` (sender k, receiver j) with edge ``ji`` (sender j, receiver i): the
message on ``kj`` flows into ``ji``. The angle of the triplet is the angle at j,

.. math::
    \theta_{kji} = \angle(R_k - R_j,\; R_i - R_j) \in [0, \pi],

with ``R_k − R_j = vec[kj]`` and ``R_i − R_j = −vec[ji]`` (``vec`` from
:func:`hybridpot.graph.edge_vectors`, periodic shifts included).

The pair (kj, ji) is excluded only when k is the very atom i in the same periodic image, i.e.
k == i and shift_kj + shift_ji == 0; another periodic image of i is a genuine third site and is kept.
"""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp
import jraph
import numpy as np

from hybridpot.graph.batch import edge_graph_index, edge_mask
from hybridpot.graph.geometry import edge_vectors, safe_norm

#: Shift sums shorter than this (Å) count as "the same periodic image" (real images are ≥ the
#: minimum interatomic distance apart, 0.1 Å by default).
SAME_IMAGE_TOLERANCE = 1e-3


class Triplets(NamedTuple):
    """Edge-index pairs of the triplets k → j → i.

    Attributes:
        kj: ``[n_triplet] int32`` edge with sender k, receiver j.
        ji: ``[n_triplet] int32`` edge with sender j, receiver i.
        n_triplet: ``[n_graph] int32`` triplets per graph (graph of the edges).
    """

    kj: np.ndarray
    ji: np.ndarray
    n_triplet: np.ndarray


#: Candidate triplets handled at a time by :func:`build_triplets` (≈ 60 bytes each while a block
#: is processed): bounds the host memory of the build to the int32 result plus one block.
TRIPLET_BLOCK = 1 << 22


def build_triplets(graph: jraph.GraphsTuple, *, block: int = TRIPLET_BLOCK) -> Triplets:
    """All triplets of a (possibly batched or padded) graph, host-side and vectorised.

    Padding edges take part in no triplet. Ordered by ``ji``, then by ``kj``. Returns numpy arrays.
    The edges ``ji`` are processed in blocks of at most ``block`` candidate triplets (fewer only
    when one edge alone has more), written into preallocated int32 arrays, so the peak host
    memory is the result (8 bytes per triplet) plus one block, at any size.
    """
    senders = np.asarray(graph.senders, dtype=np.int64)
    receivers = np.asarray(graph.receivers, dtype=np.int64)
    shifts = np.asarray(graph.edges["shifts"])
    n_node = np.asarray(graph.nodes["atomic_numbers"]).shape[0]
    n_graph = np.asarray(graph.n_node).shape[0]
    real_edges = np.flatnonzero(np.asarray(edge_mask(graph)))
    graph_of_edge = np.asarray(edge_graph_index(graph))

    # incoming real edges of every node, grouped by receiver (stable: keeps edge order)
    by_receiver = real_edges[np.argsort(receivers[real_edges], kind="stable")]
    n_in = np.bincount(receivers[real_edges], minlength=n_node)
    start = np.concatenate([[0], np.cumsum(n_in)[:-1]])

    # every real edge ji is joined with every incoming edge kj of its sender j; the candidates
    # include k == i, which are dropped below, so the result is at most n_candidates long
    per_ji = n_in[senders[real_edges]]
    ends = np.cumsum(per_ji)
    n_candidates = int(ends[-1]) if ends.size else 0
    kj_out = np.empty(n_candidates, dtype=np.int32)
    ji_out = np.empty(n_candidates, dtype=np.int32)
    n_triplet = np.zeros(n_graph, dtype=np.int64)
    filled = lo = 0
    while lo < real_edges.size:
        # the edges whose candidates fit in one block (at least one edge)
        hi = max(lo + 1, int(np.searchsorted(ends, (ends[lo - 1] if lo else 0) + block, side="right")))
        edges, counts = real_edges[lo:hi], per_ji[lo:hi]
        ji = np.repeat(edges, counts)
        first = np.repeat(start[senders[edges]], counts)
        offset = np.arange(ji.shape[0]) - np.repeat(np.cumsum(counts) - counts, counts)
        kj = by_receiver[first + offset]
        keep = senders[kj] != receivers[ji]
        maybe_same = np.flatnonzero(~keep)
        if maybe_same.size:  # k == i: a triplet only when it is another periodic image of i
            shift_sum = np.linalg.norm(shifts[kj[maybe_same]] + shifts[ji[maybe_same]], axis=1)
            keep[maybe_same] = shift_sum >= SAME_IMAGE_TOLERANCE
        kj, ji = kj[keep], ji[keep]
        kj_out[filled:filled + kj.size] = kj
        ji_out[filled:filled + ji.size] = ji
        filled += kj.size
        n_triplet += np.bincount(graph_of_edge[ji], minlength=n_graph)
        lo = hi
    return Triplets(kj_out[:filled], ji_out[:filled], n_triplet.astype(np.int32))


def pad_triplets(
    triplets: Triplets, n_triplet: int, padding_edge: int, n_graph: int | None = None
) -> Triplets:
    """Pad to ``n_triplet`` triplets, the padding ones pointing at edge ``padding_edge``.

    Args:
        triplets: from :func:`build_triplets` on the unpadded graph.
        n_triplet: total triplets after padding (≥ the real count).
        padding_edge: index of a padding edge of the padded graph (the first one is the number of
            real edges; :func:`hybridpot.graph.pad_to_bucket` passes it).
        n_graph: graphs in the padded graph; the padding triplets are counted in the first padding
            graph, later padding graphs get 0. Default: one more than the real graphs.
    """
    kj = np.asarray(triplets.kj)
    ji = np.asarray(triplets.ji)
    counts = np.asarray(triplets.n_triplet)
    n_pad = int(n_triplet) - kj.shape[0]
    if n_pad < 0:
        raise ValueError(f"cannot pad {kj.shape[0]} triplets to n_triplet={n_triplet}")
    n_graph = counts.shape[0] + 1 if n_graph is None else int(n_graph)
    if n_graph <= counts.shape[0]:
        raise ValueError(f"n_graph={n_graph} must exceed the {counts.shape[0]} real graphs")
    pad = np.full(n_pad, padding_edge, dtype=np.int32)
    extra = np.zeros(n_graph - counts.shape[0], dtype=np.int32)
    extra[0] = n_pad
    return Triplets(
        np.concatenate([kj, pad]).astype(np.int32),
        np.concatenate([ji, pad]).astype(np.int32),
        np.concatenate([counts, extra]).astype(np.int32),
    )


def triplet_mask(graph: jraph.GraphsTuple, triplets: Triplets) -> jnp.ndarray:
    """``[n_triplet]`` bool, True for real triplets (their ``ji`` edge is real). Jittable."""
    # jnp on both sides: the graph may be concrete (a closure constant) while the triplets are traced
    return jnp.asarray(edge_mask(graph))[jnp.asarray(triplets.ji)]


def triplet_angles(graph: jraph.GraphsTuple, triplets: Triplets, vectors=None):
    r"""Cosine and angle at j of each triplet k → j → i.

    θ = ∠(R_k − R_j, R_i − R_j), computed as ``atan2(|a × b|, a · b)`` with a = vec[kj],
    b = −vec[ji]: accurate near 0 and π (no arccos), and with finite gradients everywhere —
    including exactly collinear triplets (θ = 0 or π) and padded triplets (zero-length edges),
    which give cos θ = 0, θ = π/2 and zero gradients. Jittable.

    Args:
        graph: the graph the triplets index.
        triplets: k → j → i triplets (only ``kj`` and ``ji`` are read).
        vectors: ``edge_vectors(graph)`` ``[n_edge, 3]`` Å when already computed (else computed).

    Returns:
        ``(cos_theta, theta)``: ``[n_triplet]`` each, dimensionless and radians.
    """
    vec = edge_vectors(graph) if vectors is None else vectors
    a = vec[jnp.asarray(triplets.kj)]
    b = -vec[jnp.asarray(triplets.ji)]
    dot = jnp.sum(a * b, axis=-1)
    cross = safe_norm(jnp.cross(a, b))
    norms = safe_norm(a) * safe_norm(b)
    ok = norms > 0
    cos_theta = jnp.where(ok, dot / jnp.where(ok, norms, 1.0), 0.0)
    # atan2 gradient is singular only at (0, 0): i.e. padded (zero-length) triplets
    sin_s = jnp.where(ok, cross, 1.0)
    cos_s = jnp.where(ok, dot, 0.0)
    theta = jnp.where(ok, jnp.arctan2(sin_s, cos_s), 0.5 * jnp.pi)
    return cos_theta, theta
