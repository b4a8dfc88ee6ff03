"""Flax modules holding the learned parts of potentials, and the GraphModel interface."""

from hybridpot.models.base import GraphModel
from hybridpot.models.dimenet import (
    DimeNetNetwork,
    all_edge_pairs,
    dense_triplet_energy_fn,
    dimenet,
    dimenet_model,
    dimenet_pp,
    zbl_pair_energy,
)
from hybridpot.models.mlp import MLP, Dense
from hybridpot.models.pair_mlp import PairMLP, pair_mlp_model

__all__ = [
    "Dense",
    "DimeNetNetwork",
    "GraphModel",
    "MLP",
    "PairMLP",
    "all_edge_pairs",
    "dense_triplet_energy_fn",
    "dimenet",
    "dimenet_model",
    "dimenet_pp",
    "pair_mlp_model",
    "zbl_pair_energy",
]
