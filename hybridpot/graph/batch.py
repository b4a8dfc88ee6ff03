"""Batching, padding to fixed size buckets, and padding masks.

Padding uses ``jraph.pad_with_graphs``' layout: padding nodes, edges and graphs are appended at
the end; the first padding graph holds all padding nodes and edges, the rest are empty. Padding
nodes have position 0 and atomic number 0 and padding edges join the first padding node to itself
with zero shift, so a padded edge has length r = 0 (every ``1/r`` must be guarded).

Masks are read from the atomic numbers (0 marks a padding node, real atoms are 1..118). On graphs
padded with ``pad_with_graphs`` they equal ``jraph.get_node_padding_mask`` etc.; unlike those, they
are also right on graphs that were never padded (jraph's would mark the last real graph as padding).
On concrete (non-traced) graphs they are computed with numpy on the host (no compilation) and
return numpy arrays; under ``jax.jit`` they return ``jax.Array``s.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple, Sequence

import jax
import jax.numpy as jnp
import jraph
import numpy as np

from hybridpot._checks import is_concrete


def batch_graphs(graphs: Sequence[jraph.GraphsTuple]) -> jraph.GraphsTuple:
    """Concatenate graphs into one ``GraphsTuple`` (``jraph.batch`` layout); node indices are offset.

    Host-side (numpy concatenation, no compilation); returns ``jnp`` arrays. Not jittable: batch
    before ``jax.jit``.
    """
    if len(graphs) == 0:
        raise ValueError("batch_graphs needs at least one graph, got an empty list")
    batch = jraph.batch_np([jax.device_get(g) for g in graphs])
    return jax.tree_util.tree_map(jnp.asarray, batch)


def unbatch_graphs(graph: jraph.GraphsTuple) -> list[jraph.GraphsTuple]:
    """Split a batch back into single graphs (``jraph.unbatch``; host-side, not jittable)."""
    return jraph.unbatch(jax.device_get(graph))


def _xp(*arrays):
    """numpy for concrete inputs (host-side, no compilation), ``jax.numpy`` under tracing."""
    return np if all(is_concrete(a) for a in arrays) else jnp


def node_mask(graph: jraph.GraphsTuple):
    """``[n_node]`` bool, True for real atoms (atomic number > 0). Jittable."""
    z = graph.nodes["atomic_numbers"]
    return _xp(z).asarray(z) > 0


def edge_mask(graph: jraph.GraphsTuple):
    """``[n_edge]`` bool, True for real edges (receiver is a real atom). Jittable."""
    z, receivers = graph.nodes["atomic_numbers"], graph.receivers
    xp = _xp(z, receivers)
    return (xp.asarray(z) > 0)[xp.asarray(receivers)]


def _segment_index(counts, total: int):
    if is_concrete(counts):
        counts = np.asarray(counts)
        out = np.repeat(np.arange(counts.shape[0]), counts)
        if out.shape[0] != total:
            raise ValueError(f"graph sizes {counts.tolist()} do not add up to {total}")
        return out
    return jnp.repeat(jnp.arange(counts.shape[0]), counts, total_repeat_length=total)


def node_graph_index(graph: jraph.GraphsTuple):
    """``[n_node]`` int: the graph each node belongs to. Jittable."""
    return _segment_index(graph.n_node, graph.nodes["atomic_numbers"].shape[0])


def edge_graph_index(graph: jraph.GraphsTuple):
    """``[n_edge]`` int: the graph each edge belongs to. Jittable."""
    return _segment_index(graph.n_edge, graph.senders.shape[0])


def graph_mask(graph: jraph.GraphsTuple):
    """``[n_graph]`` bool, True for graphs holding at least one real atom. Jittable."""
    n_graph = graph.n_node.shape[0]
    mask, index = node_mask(graph), node_graph_index(graph)
    if _xp(mask, index) is np:
        return np.bincount(index[mask], minlength=n_graph) > 0
    counts = jax.ops.segment_sum(mask.astype(jnp.int32), index, num_segments=n_graph)
    return counts > 0


class Bucket(NamedTuple):
    """One padded size: total nodes, edges, graphs (and triplets, 0 when unused) after padding."""

    n_node: int
    n_edge: int
    n_graph: int
    n_triplet: int = 0


def _graph_sizes(graph: jraph.GraphsTuple) -> tuple[int, int, int]:
    return (
        int(np.sum(np.asarray(graph.n_node))),
        int(np.sum(np.asarray(graph.n_edge))),
        int(np.asarray(graph.n_node).shape[0]),
    )


@dataclasses.dataclass(frozen=True)
class PaddingBuckets:
    """A few fixed padded sizes, so a training run compiles at most ``len(buckets)`` times.

    A graph with (n_node, n_edge, n_graph, n_triplet) fits a bucket when the bucket leaves room for
    at least one padding node, one padding edge (padded triplets point to it) and one padding graph:
    ``n_node < bucket.n_node``, ``n_edge < bucket.n_edge``, ``n_graph < bucket.n_graph``,
    ``n_triplet <= bucket.n_triplet``.
    """

    buckets: tuple[Bucket, ...]

    def __post_init__(self):
        buckets = tuple(Bucket(*map(int, b)) for b in self.buckets)
        if not buckets:
            raise ValueError("PaddingBuckets needs at least one bucket")
        for b in buckets:
            if b.n_node < 2 or b.n_edge < 1 or b.n_graph < 2 or b.n_triplet < 0:
                raise ValueError(
                    f"bucket {b} too small: need n_node >= 2, n_edge >= 1, n_graph >= 2, n_triplet >= 0"
                )
        object.__setattr__(self, "buckets", tuple(sorted(set(buckets), key=_cost)))

    @classmethod
    def geometric(
        cls,
        max_n_node: int,
        max_n_edge: int,
        n_graph: int,
        *,
        max_n_triplet: int = 0,
        n_buckets: int = 4,
        ratio: float = 2.0,
    ) -> "PaddingBuckets":
        """``n_buckets`` sizes shrinking by ``ratio`` from the largest (``max_*`` + 1 padding slot).

        ``n_graph`` (graphs per batch + 1 padding graph) is the same in every bucket.
        """
        out = []
        for k in range(n_buckets):
            f = ratio**-k
            out.append(
                Bucket(
                    max(2, int(np.ceil(max_n_node * f)) + 1),
                    max(1, int(np.ceil(max_n_edge * f)) + 1),
                    int(n_graph),
                    int(np.ceil(max_n_triplet * f)),
                )
            )
        return cls(tuple(out))

    def choose(self, n_node: int, n_edge: int, n_graph: int, n_triplet: int = 0) -> Bucket:
        """The smallest bucket that fits; ``ValueError`` naming the sizes if none does."""
        for b in self.buckets:
            if n_node < b.n_node and n_edge < b.n_edge and n_graph < b.n_graph and n_triplet <= b.n_triplet:
                return b
        raise ValueError(
            f"no padding bucket fits n_node={n_node}, n_edge={n_edge}, n_graph={n_graph}, "
            f"n_triplet={n_triplet} (a bucket must exceed n_node, n_edge and n_graph by at least one "
            f"and hold n_triplet); largest buckets: {list(self.buckets[-3:])}"
        )

    def choose_for(self, graph: jraph.GraphsTuple, triplets=None) -> Bucket:
        """``choose`` for the sizes of ``graph`` (and ``triplets``)."""
        n_triplet = 0 if triplets is None else int(np.asarray(triplets.kj).shape[0])
        return self.choose(*_graph_sizes(graph), n_triplet)


def _cost(b: Bucket) -> tuple:
    return (b.n_edge + b.n_triplet, b.n_node, b.n_graph)


def pad_graph(graph: jraph.GraphsTuple, n_node: int, n_edge: int, n_graph: int) -> jraph.GraphsTuple:
    """Pad to exactly (n_node, n_edge, n_graph) total with ``jraph.pad_with_graphs`` (host-side).

    Needs ``n_node`` > real nodes and ``n_graph`` > real graphs; ``ValueError`` otherwise.
    Returns ``jnp`` arrays.
    """
    real_node, real_edge, real_graph = _graph_sizes(graph)
    if n_node <= real_node or n_edge < real_edge or n_graph <= real_graph:
        raise ValueError(
            f"cannot pad a graph with n_node={real_node}, n_edge={real_edge}, n_graph={real_graph} "
            f"to n_node={n_node}, n_edge={n_edge}, n_graph={n_graph}: need at least one more node "
            "and graph than the real ones, and no fewer edges"
        )
    padded = jraph.pad_with_graphs(jax.device_get(graph), n_node, n_edge, n_graph)
    return jax.tree_util.tree_map(jnp.asarray, padded)


def pad_to_bucket(graph: jraph.GraphsTuple, buckets: PaddingBuckets, triplets=None):
    """Pad ``graph`` (and ``triplets`` if given) to the smallest fitting bucket.

    Returns the padded graph, or ``(padded_graph, padded_triplets)`` when ``triplets`` is given.
    """
    b = buckets.choose_for(graph, triplets)
    padded = pad_graph(graph, b.n_node, b.n_edge, b.n_graph)
    if triplets is None:
        return padded
    from hybridpot.graph.triplets import pad_triplets

    real_edge = int(np.sum(np.asarray(graph.n_edge)))
    return padded, pad_triplets(triplets, b.n_triplet, padding_edge=real_edge, n_graph=b.n_graph)


def unpad(graph: jraph.GraphsTuple) -> jraph.GraphsTuple:
    """Drop padding nodes, edges and graphs (host-side; inverse of ``pad_graph``)."""
    g = jax.device_get(graph)
    keep_graph = np.asarray(graph_mask(graph))
    keep_node = np.asarray(node_mask(graph))
    keep_edge = np.asarray(edge_mask(graph))
    sel = lambda mask: (lambda x: jnp.asarray(np.asarray(x)[mask]))  # noqa: E731
    return jraph.GraphsTuple(
        nodes=jax.tree_util.tree_map(sel(keep_node), g.nodes),
        edges=jax.tree_util.tree_map(sel(keep_edge), g.edges),
        globals=jax.tree_util.tree_map(sel(keep_graph), g.globals),
        senders=jnp.asarray(np.asarray(g.senders)[keep_edge]),
        receivers=jnp.asarray(np.asarray(g.receivers)[keep_edge]),
        n_node=jnp.asarray(np.asarray(g.n_node)[keep_graph]),
        n_edge=jnp.asarray(np.asarray(g.n_edge)[keep_graph]),
    )
