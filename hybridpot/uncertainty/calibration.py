r"""Is the ensemble spread a good error estimate? Ranking, calibration and likelihood, on held-out data.

For held-out errors :math:`e_k = \hat y_k - y_k` (a structure's energy, or one force component)
and predicted standard deviations :math:`\sigma_k`:

* **ranking**: Spearman's ρ between :math:`\sigma_k` and :math:`|e_k|` (does a larger spread
  flag a larger error?);
* **calibration curve**: for confidence levels p, the observed fraction of errors inside the
  central Gaussian interval, :math:`|e_k| \le z_{(1+p)/2}\,\sigma_k`, against p; the
  miscalibration area is the mean of :math:`|\text{observed} - p|` over the levels (0: calibrated);
* **negative log-likelihood** of the errors under :math:`\mathcal N(0, \sigma_k^2)`, averaged:
  :math:`\tfrac12\log(2\pi\sigma_k^2) + e_k^2 / (2\sigma_k^2)`;
* **recalibration** with one parameter: :math:`\sigma \to s\,\sigma` with the s that minimises
  that likelihood on a calibration set, :math:`s^2 = \langle e_k^2 / \sigma_k^2 \rangle`
  (Musil et al., J. Chem. Theory Comput. 15, 906 (2019)). Fit s on validation data and apply it
  to test data; ρ does not change.

Units: ``error`` and ``sigma`` in the same unit (eV, eV/atom or eV/Å); the NLL is then in nats
with that unit's log offset (compare NLLs in one unit only).
"""

from __future__ import annotations

import numpy as np
import scipy.stats

from hybridpot._checks import check_finite

#: Confidence levels of :func:`calibration_curve`.
DEFAULT_LEVELS = np.linspace(0.05, 0.95, 19)


def _pair(error, sigma) -> tuple[np.ndarray, np.ndarray]:
    error = np.asarray(error, np.float64).reshape(-1)
    sigma = np.asarray(sigma, np.float64).reshape(-1)
    if error.shape != sigma.shape:
        raise ValueError(f"error and sigma must have the same number of entries, got {error.size} and {sigma.size}")
    if error.size < 2:
        raise ValueError(f"calibration needs at least 2 errors, got {error.size}")
    check_finite("error", error)
    check_finite("sigma", sigma)
    bad = int(np.sum(sigma <= 0))
    if bad:
        raise ValueError(f"sigma must be > 0; {bad} of {sigma.size} entries are <= 0 (members that agree exactly?)")
    return error, sigma


def rank_correlation(error, sigma) -> float:
    """Spearman's ρ between predicted ``sigma`` ``[n]`` and observed ``|error|`` ``[n]`` (−1…1)."""
    error, sigma = _pair(error, sigma)
    return float(scipy.stats.spearmanr(sigma, np.abs(error)).statistic)


def gaussian_nll(error, sigma) -> float:
    """Mean negative log-likelihood of ``error`` ``[n]`` under N(0, ``sigma`` ``[n]``²), nats."""
    error, sigma = _pair(error, sigma)
    return float(np.mean(0.5 * np.log(2 * np.pi * sigma**2) + 0.5 * (error / sigma) ** 2))


def calibration_curve(error, sigma, levels=DEFAULT_LEVELS) -> tuple[np.ndarray, np.ndarray]:
    """``(expected [L], observed [L])``: confidence levels p and the fraction of ``|error|`` within
    the central Gaussian interval of ``sigma`` at each (a calibrated σ lies on the diagonal)."""
    error, sigma = _pair(error, sigma)
    levels = np.asarray(levels, np.float64).reshape(-1)
    if levels.size == 0 or np.any((levels <= 0) | (levels >= 1)):
        raise ValueError(f"levels must lie in (0, 1), got {levels.tolist()}")
    z = scipy.stats.norm.ppf(0.5 + 0.5 * levels)
    ratio = np.abs(error) / sigma
    return levels, (ratio[None, :] <= z[:, None]).mean(axis=1)


def miscalibration_area(error, sigma, levels=DEFAULT_LEVELS) -> float:
    """Mean ``|observed − expected|`` of :func:`calibration_curve` (0 calibrated, ≤ 1)."""
    expected, observed = calibration_curve(error, sigma, levels)
    return float(np.mean(np.abs(observed - expected)))


def fit_sigma_scale(error, sigma) -> float:
    """The factor s of the one-parameter recalibration σ → sσ that maximises the Gaussian
    likelihood of ``error`` ``[n]``: ``s = sqrt(mean(error² / sigma²))`` (dimensionless)."""
    error, sigma = _pair(error, sigma)
    return float(np.sqrt(np.mean((error / sigma) ** 2)))


def calibration_report(error, sigma, *, scale: float = 1.0, levels=DEFAULT_LEVELS) -> dict:
    """Every measure of this module for ``error`` ``[n]`` and ``scale * sigma`` ``[n]``.

    Returns:
        ``{"n", "rmse", "mae", "mean_sigma", "spearman", "nll", "miscalibration_area",
        "coverage_68", "coverage_95", "scale"}`` (error units for rmse/mae/mean_sigma).
    """
    if not scale > 0:
        raise ValueError(f"scale must be > 0, got {scale}")
    error, sigma = _pair(error, sigma)
    sigma = sigma * scale
    _, cover = calibration_curve(error, sigma, [0.6827, 0.9545])
    return {
        "n": int(error.size),
        "rmse": float(np.sqrt(np.mean(error**2))),
        "mae": float(np.mean(np.abs(error))),
        "mean_sigma": float(np.mean(sigma)),
        "spearman": rank_correlation(error, sigma),
        "nll": gaussian_nll(error, sigma),
        "miscalibration_area": miscalibration_area(error, sigma, levels),
        "coverage_68": float(cover[0]),
        "coverage_95": float(cover[1]),
        "scale": float(scale),
    }
