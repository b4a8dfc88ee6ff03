"""Training: full-batch compiled loops and the minibatch trainer of graph potentials.

The graph trainer (:func:`fit`, :func:`resume`) trains vmapped ensembles of any
:class:`~hybridpot.potential.GraphModel` (a network, a physics term or a hybrid of
:mod:`hybridpot.hybrid`) on energies, forces and stresses; see docs/training.md.
"""

from hybridpot._store import load_checkpoint, save_checkpoint, unflatten_like
from hybridpot.structures import Dataset, Structure
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
from hybridpot.train.data import Batch, GraphSet, collate, make_buckets, prefetch
from hybridpot.train.full_batch import FitProblem, FitResult, fit_full_batch, fit_full_batch_fused, full_batch_step, polish_lbfgs
from hybridpot.train.losses import (
    UNITS,
    Predictions,
    elementwise_loss,
    metrics_from_sums,
)
from hybridpot.train.normalisation import fit_energy_normalisation
from hybridpot.train.optimizers import ema_update, make_optimizer, make_schedule
from hybridpot.train.trainer import (
    NonFiniteError,
    TrainingInterrupted,
    TrainResult,
    TrainState,
    errors_by_config_type,
    evaluate,
    fit,
    has_run,
    load_best,
    load_last,
    predict,
    resume,
)

__all__ = [
    "Batch",
    "DataConfig",
    "Dataset",
    "FitProblem",
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
    "TrainingInterrupted",
    "UNITS",
    "apply_overrides",
    "collate",
    "config_from_dict",
    "config_to_dict",
    "elementwise_loss",
    "ema_update",
    "errors_by_config_type",
    "evaluate",
    "fit",
    "fit_energy_normalisation",
    "fit_full_batch",
    "fit_full_batch_fused",
    "full_batch_step",
    "has_run",
    "load_best",
    "load_last",
    "load_checkpoint",
    "load_config",
    "make_buckets",
    "make_optimizer",
    "make_schedule",
    "metrics_from_sums",
    "polish_lbfgs",
    "predict",
    "prefetch",
    "resume",
    "save_checkpoint",
    "save_config",
    "unflatten_like",
]
