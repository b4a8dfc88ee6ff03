"""Training: full-batch compiled loops (and, later, the graph-potential trainer)."""

from hybridpot.train.full_batch import FitResult, fit_full_batch, polish_lbfgs

__all__ = ["FitResult", "fit_full_batch", "polish_lbfgs"]
