"""Uniform DVR grids and their convergence check: do the levels move when the grid is refined?

The sinc DVR (:mod:`hybridpot.spectroscopy.dvr`) converges exponentially with the grid spacing
once the spacing resolves the fastest oscillation of the highest level wanted, and the range must
reach into the classically forbidden region of every level. :func:`check_grid_convergence` tests
the first condition directly: the same levels on a grid with ``refine`` times more points over the
same range must agree within a stated tolerance, else it warns.
"""

from __future__ import annotations

import warnings
from typing import Callable, NamedTuple

import jax
import numpy as np

from hybridpot.spectroscopy.dvr import vibrational_states
from hybridpot.units import HARTREE_TO_INV_CM

#: Default spacing (Å) of a grid built from a curve file's range. LiH (X v ≤ 9, A v ≤ 19) moves by
#: < 1e-5 cm⁻¹ when it is halved; lighter molecules or higher levels may need less (the check says).
DEFAULT_GRID_STEP_ANGSTROM = 0.02
#: Default tolerance (cm⁻¹) on the change of any level when the grid is refined.
DEFAULT_LEVEL_TOLERANCE_INV_CM = 0.01


class DVRConvergenceWarning(UserWarning):
    """Vibrational levels changed by more than the tolerance when the DVR grid was refined."""


class GridConvergence(NamedTuple):
    """Outcome of :func:`check_grid_convergence`.

    change_inv_cm:     [k] cm⁻¹, |E_v(refined grid) − E_v(grid)| for v = 0 … k − 1.
    max_change_inv_cm: the largest of them, cm⁻¹.
    tolerance_inv_cm:  the tolerance it was compared with, cm⁻¹.
    converged:         max_change_inv_cm ≤ tolerance_inv_cm.
    """

    change_inv_cm: np.ndarray
    max_change_inv_cm: float
    tolerance_inv_cm: float
    converged: bool


def uniform_grid(start: float, stop: float, step: float) -> np.ndarray:
    """Uniform grid start, start + step, …, ending at the last point ≤ stop (+ 1e-9 step).

    Args:
      start, stop: Å, with start < stop.
      step: Å, > 0.

    Returns:
      [n] Å float64, built as start + i · step (no drift from repeated addition).
    """
    start, stop, step = float(start), float(stop), float(step)
    if not (np.isfinite([start, stop, step]).all() and step > 0 and stop > start):
        raise ValueError(f"need start < stop and step > 0, got start={start}, stop={stop}, step={step}")
    n = int(np.floor((stop - start) / step + 1e-9)) + 1
    if n < 3:
        raise ValueError(f"grid {start}:{stop}:{step} has {n} points; need at least 3")
    return start + step * np.arange(n)


def check_grid_convergence(
    potential: Callable[[np.ndarray], np.ndarray],
    r_angstrom,
    reduced_mass_amu: float,
    num_levels: int,
    tolerance_inv_cm: float = DEFAULT_LEVEL_TOLERANCE_INV_CM,
    refine: int = 2,
    name: str = "potential",
) -> GridConvergence:
    """Compare the lowest ``num_levels`` DVR levels on ``r_angstrom`` and on a ``refine``-times finer
    grid over the same range; warn (:class:`DVRConvergenceWarning`) when any moves by more than
    ``tolerance_inv_cm``.

    Args:
      potential: V(r): ``[m] Å -> [m] hartree`` (NumPy), e.g. a spline through a curve.
      r_angstrom: [n] Å, the uniform grid to check.
      reduced_mass_amu: μ in u.
      num_levels: k, the levels that matter (Python int).
      tolerance_inv_cm: the largest acceptable change, cm⁻¹.
      refine: the finer grid's spacing is the grid's divided by this (int ≥ 2).
      name: what the warning calls the potential.

    Returns:
      :class:`GridConvergence`.
    """
    r = np.asarray(r_angstrom, np.float64)
    if int(refine) != refine or refine < 2:
        raise ValueError(f"refine must be an integer ≥ 2, got {refine}")
    fine = r[0] + (r[1] - r[0]) / refine * np.arange(refine * (r.size - 1) + 1)
    with jax.enable_x64(True):
        coarse_levels, fine_levels = (
            np.asarray(
                vibrational_states(g, np.asarray(potential(g), np.float64), reduced_mass_amu, num_levels, differentiable=False)
                .energies_hartree
            )
            for g in (r, fine)
        )
    change = np.abs(fine_levels - coarse_levels) * HARTREE_TO_INV_CM
    worst = float(change.max())
    converged = worst <= tolerance_inv_cm
    if not converged:
        warnings.warn(
            f"DVR grid {r[0]:.4g}–{r[-1]:.4g} Å by {r[1] - r[0]:.4g} Å is not converged for {name}: level "
            f"v = {int(change.argmax())} moves by {worst:.3g} cm⁻¹ (tolerance {tolerance_inv_cm:g} cm⁻¹) "
            f"when the spacing is divided by {refine}; give a finer grid",
            DVRConvergenceWarning,
            stacklevel=2,
        )
    return GridConvergence(change, worst, float(tolerance_inv_cm), bool(converged))
