"""File formats: diatomic curves, MD17 frames, QM9 molecules, structure files (extxyz, ASE db), model files."""

from hybridpot.io.curves import DiatomicCurves, bundled_h2_curves, load_curves, reference_h2_curves
from hybridpot.io.formats import (
    ENERGY_UNITS_TO_EV,
    LENGTH_UNITS_TO_ANGSTROM,
    label_atoms,
    read_atoms,
    read_structures,
    structures_to_atoms,
    write_structures,
)
from hybridpot.io.md17 import MD17_MOLECULES, MD17Frames, bundled_md17, load_md17, protocol_split, shared_md17_path
from hybridpot.io.model_files import (
    MODEL_FORMAT_VERSION,
    ModelFileError,
    load_potential,
    read_model_metadata,
    save_potential,
)
from hybridpot.io.qm9 import QM9_UNITS, QM9Molecules, load_qm9, shared_qm9_path
from hybridpot.io.registry import PHYSICS_KINDS, build_model, build_physics, model_kinds, register_model_kind
from hybridpot.io.trained import TrainedPotential, with_positions

__all__ = [
    "DiatomicCurves",
    "ENERGY_UNITS_TO_EV",
    "LENGTH_UNITS_TO_ANGSTROM",
    "MD17Frames",
    "MD17_MOLECULES",
    "MODEL_FORMAT_VERSION",
    "QM9Molecules",
    "QM9_UNITS",
    "ModelFileError",
    "PHYSICS_KINDS",
    "TrainedPotential",
    "build_model",
    "build_physics",
    "bundled_h2_curves",
    "bundled_md17",
    "label_atoms",
    "load_curves",
    "load_md17",
    "load_potential",
    "load_qm9",
    "model_kinds",
    "protocol_split",
    "read_atoms",
    "read_model_metadata",
    "read_structures",
    "reference_h2_curves",
    "register_model_kind",
    "save_potential",
    "shared_md17_path",
    "shared_qm9_path",
    "structures_to_atoms",
    "with_positions",
    "write_structures",
]
