"""Diatomic hybrid study: Morse + network on the curves of H2 or any diatomic, vmapped over seeds
(El Haloui et al. 2025)."""

from hybridpot.studies.diatomic.protocols import (
    FRACTIONS_PERCENT,
    MODELS,
    STATES,
    get_protocol,
)
from hybridpot.studies.diatomic.run import (
    PAPER_SEEDS,
    StudyMolecule,
    load_study_curves,
    run_diatomic_study,
    seed_list,
    study_dvr_grid,
    study_reduced_mass,
)
from hybridpot.studies.diatomic.split import complement_indices, nested_training_sets
from hybridpot.studies.diatomic.training import MORSE, PhysicsTerm

__all__ = [
    "FRACTIONS_PERCENT",
    "MODELS",
    "MORSE",
    "PAPER_SEEDS",
    "PhysicsTerm",
    "STATES",
    "StudyMolecule",
    "get_protocol",
    "load_study_curves",
    "nested_training_sets",
    "run_diatomic_study",
    "seed_list",
    "study_dvr_grid",
    "study_reduced_mass",
    "complement_indices",
]
