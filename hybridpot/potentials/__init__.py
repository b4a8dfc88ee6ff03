"""The assembled potential: physics terms, strategies over models, normalisation, trained potentials, model files.

Every consumer (the trainer, the ASE calculator, jax-md, the CLI) evaluates one value: a model
(a single network, a physics term, or their composition by a strategy of :mod:`hybridpot.hybrid`)
with its parameters and the per-element shift and scale of its learned part
(:func:`assembled_terms`, :class:`Potential`). A :class:`TrainedPotential` is that value with the
specs that rebuild it in a fresh process; model files (:func:`save_potential`,
:func:`load_potential`) store it.
"""

from hybridpot.potentials.assembled import Potential, assembled_terms
from hybridpot.potentials.dimezblnet import dimezblnet
from hybridpot.potentials.files import (
    MODEL_FORMAT_VERSION,
    ModelFileError,
    load_potential,
    read_model_metadata,
    save_potential,
)
from hybridpot.potentials.long_range import (
    QEqEwald,
    check_total_charge,
    qeq_charges,
    qeq_ewald,
    qeq_from_spec,
    total_charges,
)
from hybridpot.potentials.normalisation import (
    EnergyNormalisation,
    identity_normalisation,
    normalised_energy,
    shift_energy,
)
from hybridpot.potentials.physics_terms import (
    COVALENT_ZBL_FACTOR,
    PHYSICS_KINDS,
    build_physics,
    coulomb_term,
    covalent_zbl_ranges,
    embedded_atom_term,
    physics_term,
    structure_energies,
    zbl_switch,
    zbl_term,
)
from hybridpot.potentials.registry import (
    build_model,
    build_potential_model,
    model_kinds,
    register_model_kind,
)
from hybridpot.potentials.trained import TrainedPotential, with_positions

__all__ = [
    "COVALENT_ZBL_FACTOR",
    "EnergyNormalisation",
    "MODEL_FORMAT_VERSION",
    "ModelFileError",
    "PHYSICS_KINDS",
    "Potential",
    "QEqEwald",
    "TrainedPotential",
    "assembled_terms",
    "build_model",
    "build_physics",
    "build_potential_model",
    "check_total_charge",
    "coulomb_term",
    "covalent_zbl_ranges",
    "dimezblnet",
    "embedded_atom_term",
    "identity_normalisation",
    "load_potential",
    "model_kinds",
    "normalised_energy",
    "physics_term",
    "qeq_charges",
    "qeq_ewald",
    "qeq_from_spec",
    "read_model_metadata",
    "register_model_kind",
    "save_potential",
    "shift_energy",
    "structure_energies",
    "total_charges",
    "with_positions",
    "zbl_switch",
    "zbl_term",
]
