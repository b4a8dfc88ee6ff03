"""Flax modules holding the learned parts of potentials, each a :class:`~hybridpot.potential.GraphModel`.

No strategy lives here: a hybrid is a composition (:mod:`hybridpot.hybrid`) of one of these with a
physics term (:mod:`hybridpot.potentials`).
"""

from hybridpot.models.behler_parrinello import (
    ElementNetworks,
    atomic_energies,
    behler_parrinello,
    behler_parrinello_model,
    behler_parrinello_model_args,
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
from hybridpot.models.dimenet import DimeNetNetwork, dimenet, dimenet_model, dimenet_pp
from hybridpot.models.equivariant import (
    EquivariantNetwork,
    average_neighbour_count,
    equivariant_model,
    mace,
    nequip,
    polar_irreps,
)
from hybridpot.models.mlp import MLP, Dense, apply_points_last
from hybridpot.models.pair_mlp import PairMLP, pair_mlp_model
from hybridpot.potential import GraphModel

__all__ = [
    "Dense",
    "DescriptorScaling",
    "DimeNetNetwork",
    "ElementNetworks",
    "EquivariantNetwork",
    "GraphModel",
    "MLP",
    "PairMLP",
    "SymmetryFunctionSpec",
    "angular_triplets",
    "apply_points_last",
    "atomic_energies",
    "average_neighbour_count",
    "behler_parrinello",
    "behler_parrinello_model",
    "behler_parrinello_model_args",
    "dimenet",
    "dimenet_model",
    "dimenet_pp",
    "equivariant_model",
    "fit_descriptor_scaling",
    "identity_scaling",
    "mace",
    "nequip",
    "pair_mlp_model",
    "polar_irreps",
    "symmetry_function_descriptors",
    "symmetry_function_spec",
]
