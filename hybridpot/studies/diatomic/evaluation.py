"""Evaluation of the diatomic study: test RMSE, recovered Morse parameters, vibrational levels,
Franck–Condon factors."""

from __future__ import annotations

import jax
import numpy as np
from scipy.interpolate import CubicSpline
from scipy.optimize import least_squares, minimize_scalar

from hybridpot.spectroscopy import franck_condon_vector, vibrational_states
from hybridpot.units import HARTREE_TO_INV_CM

#: Final-state levels v' = 0 … NUM_FC_LEVELS − 1 in the Franck–Condon vector.
NUM_FC_LEVELS = 20
#: Levels v = 0 … NUM_LEVELS − 1 of each state whose term values are compared.
NUM_LEVELS = 10


def summarise(values: np.ndarray) -> dict:
    """Median, first and third quartile over the last axis (linear interpolation, as pandas)."""
    q1, median, q3 = np.percentile(np.asarray(values, float), [25, 50, 75], axis=-1)
    return {"median": float(median), "q1": float(q1), "q3": float(q3)}


def test_rmse(prediction: np.ndarray, target: np.ndarray, test_masks: np.ndarray) -> np.ndarray:
    """RMSE over each fraction's test points.

    Args:
        prediction: ``[n_fraction, n_seed, n]`` energies on the study grid (hartree).
        target: ``[n]`` reference energies (hartree).
        test_masks: ``[n_fraction, n]`` booleans, True on test points.
    Returns:
        ``[n_fraction, n_seed]`` RMSE in hartree.
    """
    err2 = (np.asarray(prediction, float) - target) ** 2
    m = test_masks[:, None, :]
    return np.sqrt((err2 * m).sum(-1) / m.sum(-1))


def morse_fit(r: np.ndarray, y: np.ndarray) -> dict:
    """Least-squares Morse fit (scipy) to a whole curve: ``{"D_e", "a", "r_e", "shift"}`` (hartree, Å)."""
    i = int(np.argmin(y))
    x0 = [max(y[-1] - y[i], 1e-3), 2.0, r[i], y[i]]

    def residual(p):
        d_e, a, r_e, shift = p
        return d_e * (1 - np.exp(-a * (r - r_e))) ** 2 + shift - y

    d_e, a, r_e, shift = least_squares(residual, x0, x_scale="jac", xtol=1e-14, ftol=1e-14).x
    return {"D_e": float(d_e), "a": float(a), "r_e": float(r_e), "shift": float(shift)}


def curve_minimum_parameters(r: np.ndarray, y: np.ndarray) -> dict:
    """Morse-equivalent parameters read off the curve itself (cubic spline through the points).

    r_e: position of the global minimum; D_e: energy at the largest r minus the minimum;
    a = sqrt(V″(r_e) / (2 D_e)) (a Morse curve has V″(r_e) = 2 D_e a²).
    """
    spline = CubicSpline(r, y)
    i = int(np.argmin(y))
    lo, hi = r[max(i - 1, 0)], r[min(i + 1, len(r) - 1)]
    r_e = float(minimize_scalar(spline, bounds=(lo, hi), method="bounded", options={"xatol": 1e-10}).x)
    d_e = float(y[-1] - spline(r_e))
    return {"D_e": d_e, "a": float(np.sqrt(spline(r_e, 2) / (2 * d_e))), "r_e": r_e}


def reference_on_grid(r: np.ndarray, y: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """The reference curve interpolated (cubic spline) onto ``grid``, e.g. the 0.01 Å FC grid."""
    return CubicSpline(r, y)(grid)


def term_values(grid: np.ndarray, curve: np.ndarray, reduced_mass_amu: float, num_levels: int = NUM_LEVELS) -> np.ndarray:
    """Vibrational term values T_v = E_v − E_0, v = 1 … num_levels − 1, in cm⁻¹ (sinc DVR, float64).

    Args:
        grid: ``[m]`` uniform r grid, Å.
        curve: ``[m]`` potential on the grid, hartree.
        reduced_mass_amu: μ, u.
    Returns:
        ``[num_levels − 1]`` cm⁻¹.
    """
    with jax.enable_x64(True):
        e = np.asarray(
            vibrational_states(grid, np.asarray(curve, float), reduced_mass_amu, num_levels, differentiable=False).energies_hartree
        )
    return (e[1:] - e[0]) * HARTREE_TO_INV_CM


def level_errors(
    grid: np.ndarray, model: np.ndarray, reference: np.ndarray, reduced_mass_amu: float
) -> tuple[np.ndarray, np.ndarray]:
    """Error of each run's term values T_v, v = 1 … NUM_LEVELS − 1, against the reference curve's.

    Args:
        grid: ``[m]`` uniform r grid, Å.
        model: ``[n_fraction, n_seed, m]`` model curves on the grid (hartree).
        reference: ``[m]`` reference curve on the grid.
        reduced_mass_amu: μ, u.
    Returns:
        ``(model − reference [n_fraction, n_seed, NUM_LEVELS − 1] cm⁻¹,
        reference term values [NUM_LEVELS − 1] cm⁻¹)``.
    """
    ref = term_values(grid, reference, reduced_mass_amu)
    runs = np.stack([[term_values(grid, y, reduced_mass_amu) for y in per_seed] for per_seed in np.asarray(model, float)])
    return runs - ref, ref


def franck_condon_errors(
    grid: np.ndarray,
    model_x: np.ndarray,
    model_ef: np.ndarray,
    reference_x: np.ndarray,
    reference_ef: np.ndarray,
    reduced_mass_amu: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """MSE between each run's FC vector (lower state v=0 → upper state v′) and the reference FC vector.

    Args:
        grid: ``[m]`` uniform r grid, Å.
        model_x, model_ef: ``[n_fraction, n_seed, m]`` model curves of the lower and upper state
            on the grid (hartree).
        reference_x, reference_ef: ``[m]`` reference curves on the grid.
        reduced_mass_amu: μ of the molecule, u.
    Returns:
        ``(mse [n_fraction, n_seed], fc [n_fraction, n_seed, NUM_FC_LEVELS], reference_fc [NUM_FC_LEVELS])``.
    """
    with jax.enable_x64(True):

        def fc(vx, vef):  # eager LAPACK solver: evaluation needs no gradients
            return np.asarray(
                franck_condon_vector(grid, vx, vef, reduced_mass_amu, NUM_FC_LEVELS, differentiable=False)
            )

        reference = fc(np.asarray(reference_x, float), np.asarray(reference_ef, float))
        model_x, model_ef = np.asarray(model_x, float), np.asarray(model_ef, float)
        vectors = np.stack([[fc(vx, vef) for vx, vef in zip(xs, efs)] for xs, efs in zip(model_x, model_ef)])
    return np.mean((vectors - reference) ** 2, axis=-1), vectors, reference
