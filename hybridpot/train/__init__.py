"""Training: full-batch compiled loops and the minibatch trainer of graph potentials.

The graph trainer (:func:`fit`, :func:`resume`) trains vmapped ensembles of any
:class:`~hybridpot.models.GraphModel` on energies, forces and stresses; see docs/training.md.
"""

from hybridpot.train.checkpoint import load_checkpoint, save_checkpoint, unflatten_like
from hybridpot.train.config import (
    DataConfig,
    LossConfig,
    NormalisationConfig,
    OptimConfig,
    RunConfig,
    TrainConfig,
    apply_overrides,
    config_from_dict,
    config_to_dict,
    load_config,
    save_config,
)
from hybridpot.train.data import Batch, Dataset, GraphSet, Structure, collate, make_buckets, prefetch
from hybridpot.train.full_batch import FitResult, fit_full_batch, polish_lbfgs
from hybridpot.train.losses import UNITS, Predictions, elementwise_loss, metrics_from_sums
from hybridpot.train.normalisation import EnergyNormalisation, fit_energy_normalisation, normalised_energy
from hybridpot.train.optimizers import ema_update, make_optimizer, make_schedule
from hybridpot.train.trainer import (
    NonFiniteError,
    TrainResult,
    TrainState,
    evaluate,
    fit,
    load_best,
    predict,
    resume,
)

__all__ = [
    "Batch",
    "DataConfig",
    "Dataset",
    "EnergyNormalisation",
    "FitResult",
    "GraphSet",
    "LossConfig",
    "NonFiniteError",
    "NormalisationConfig",
    "OptimConfig",
    "Predictions",
    "RunConfig",
    "Structure",
    "TrainConfig",
    "TrainResult",
    "TrainState",
    "UNITS",
    "apply_overrides",
    "collate",
    "config_from_dict",
    "config_to_dict",
    "elementwise_loss",
    "ema_update",
    "evaluate",
    "fit",
    "fit_energy_normalisation",
    "fit_full_batch",
    "load_best",
    "load_checkpoint",
    "load_config",
    "make_buckets",
    "make_optimizer",
    "make_schedule",
    "metrics_from_sums",
    "normalised_energy",
    "polish_lbfgs",
    "predict",
    "prefetch",
    "resume",
    "save_checkpoint",
    "save_config",
    "unflatten_like",
]
