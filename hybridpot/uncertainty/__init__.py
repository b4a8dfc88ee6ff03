"""Uncertainty from vmapped ensembles: committee statistics, calibration, active learning.

See docs/uncertainty.md.
"""

from hybridpot.uncertainty.active_learning import (
    ActiveLearningConfig,
    ActiveLearningResult,
    ExplorationConfig,
    explore,
    run_active_learning,
)
from hybridpot.uncertainty.calibration import (
    calibration_curve,
    calibration_report,
    fit_sigma_scale,
    gaussian_nll,
    miscalibration_area,
    rank_correlation,
)
from hybridpot.uncertainty.ensemble import (
    EnsembleStatistics,
    committee_errors,
    ensemble_predict,
    ensemble_statistics,
)
from hybridpot.uncertainty.selection import (
    farthest_point_order,
    pair_distance_fingerprint,
    select_uncertain_diverse,
)

__all__ = [
    "ActiveLearningConfig",
    "ActiveLearningResult",
    "EnsembleStatistics",
    "ExplorationConfig",
    "calibration_curve",
    "calibration_report",
    "committee_errors",
    "ensemble_predict",
    "ensemble_statistics",
    "explore",
    "farthest_point_order",
    "fit_sigma_scale",
    "gaussian_nll",
    "miscalibration_area",
    "pair_distance_fingerprint",
    "rank_correlation",
    "run_active_learning",
    "select_uncertain_diverse",
]
