"""Structures → ``jraph.GraphsTuple``: neighbour lists, periodic shifts, padding buckets, triplets.

Conventions (docs/graph.md): edge vector R[senders] − R[receivers] + shifts = R_j − R_i (messages
flow j → i); full neighbour lists; padding in ``jraph.pad_with_graphs`` layout with padding nodes at
the origin with atomic number 0.
"""

from hybridpot.graph.batch import (
    Bucket,
    PaddingBuckets,
    batch_graphs,
    edge_graph_index,
    edge_mask,
    graph_mask,
    node_graph_index,
    node_mask,
    pad_graph,
    pad_to_bucket,
    unbatch_graphs,
    unpad,
)
from hybridpot.graph.build import build_graph, graph_from_atoms
from hybridpot.graph.geometry import (
    edge_distances,
    edge_vectors,
    safe_arccos,
    safe_norm,
)
from hybridpot.graph.neighbours import neighbour_list
from hybridpot.graph.triplets import (
    Triplets,
    build_triplets,
    pad_triplets,
    triplet_angles,
    triplet_mask,
)

__all__ = [
    "Bucket",
    "PaddingBuckets",
    "Triplets",
    "batch_graphs",
    "build_graph",
    "build_triplets",
    "edge_distances",
    "edge_graph_index",
    "edge_mask",
    "edge_vectors",
    "graph_from_atoms",
    "graph_mask",
    "neighbour_list",
    "node_graph_index",
    "node_mask",
    "pad_graph",
    "pad_to_bucket",
    "pad_triplets",
    "safe_arccos",
    "safe_norm",
    "triplet_angles",
    "triplet_mask",
    "unbatch_graphs",
    "unpad",
]
