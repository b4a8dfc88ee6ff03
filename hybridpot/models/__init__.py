"""Flax modules holding the learned parts of potentials, and the GraphModel interface."""

from hybridpot.models.base import GraphModel, check_species
from hybridpot.models.behler_parrinello import (
    ElementNetworks,
    atomic_energies,
    behler_parrinello,
    compose_graph_model,
    second_moment_energy,
    zbl_graph_energy,
)
from hybridpot.models.descriptors import (
    DescriptorScaling,
    SymmetryFunctionSpec,
    angular_triplets,
    fit_descriptor_scaling,
    identity_scaling,
    symmetry_function_descriptors,
    symmetry_function_spec,
)
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
    "DescriptorScaling",
    "DimeNetNetwork",
    "ElementNetworks",
    "GraphModel",
    "MLP",
    "PairMLP",
    "SymmetryFunctionSpec",
    "all_edge_pairs",
    "angular_triplets",
    "atomic_energies",
    "behler_parrinello",
    "check_species",
    "compose_graph_model",
    "dense_triplet_energy_fn",
    "dimenet",
    "dimenet_model",
    "dimenet_pp",
    "fit_descriptor_scaling",
    "identity_scaling",
    "pair_mlp_model",
    "second_moment_energy",
    "symmetry_function_descriptors",
    "symmetry_function_spec",
    "zbl_graph_energy",
    "zbl_pair_energy",
]
