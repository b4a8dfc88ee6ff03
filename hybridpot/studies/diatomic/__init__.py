"""Diatomic hybrid study: Morse + network on H2 curves, vmapped over seeds (El Haloui et al. 2025)."""

from hybridpot.studies.diatomic.protocols import (
    FRACTIONS_PERCENT,
    MODELS,
    STATES,
    get_protocol,
)
from hybridpot.studies.diatomic.run import (
    PAPER_SEEDS,
    load_study_curves,
    run_diatomic_study,
    seed_list,
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
    "get_protocol",
    "load_study_curves",
    "nested_training_sets",
    "run_diatomic_study",
    "seed_list",
    "complement_indices",
]
