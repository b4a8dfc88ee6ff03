r"""Per-element energy shift and energy scale fitted from the training set.

The trained energy of structure g is

.. math::
    E_g = E^\text{phys}_g + \sum_{i \in g} \mu_{Z_i} + s\, E^\text{model}_g(\theta),

* :math:`\mu_Z` (eV/atom) by least squares of :math:`E - E^\text{phys}` on composition
  (:math:`\min_\mu \sum_g (E_g - E^\text{phys}_g - \sum_Z n_{gZ}\mu_Z)^2`), so with a hybrid the
  shift is fitted to what the physics term leaves, and the network learns the rest;
* :math:`s` (eV) the RMS of the residual force components :math:`F - F^\text{phys}` (eV/Å, read as
  eV per unit length of the model's output), so the network predicts O(1) numbers.

:math:`E^\text{phys}` is the physics part of a hybrid model at its initial parameters (a fixed
term, or the starting point of a trainable one); the scale multiplies the learned part only
(:mod:`hybridpot.potentials.assembled`).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from hybridpot.elements import N_ELEMENTS
from hybridpot.potentials.normalisation import EnergyNormalisation


def fit_energy_normalisation(
    numbers: Sequence[np.ndarray],
    energies: np.ndarray,
    forces: Sequence[np.ndarray] | None = None,
    *,
    physics_energies: np.ndarray | None = None,
    physics_forces: Sequence[np.ndarray] | None = None,
    fit_shift: bool = True,
    fit_scale: bool = True,
    dtype=np.float64,
) -> EnergyNormalisation:
    """Fit the per-element shift (least squares on composition) and the force-RMS scale.

    Args:
        numbers: per structure ``[n_i]`` atomic numbers.
        energies: ``[n_struct]`` eV.
        forces: per structure ``[n_i, 3]`` eV/Å, or None for a structure without force labels
            (skipped; ``fit_scale`` needs at least one).
        physics_energies: ``[n_struct]`` eV of the fixed physics term, subtracted before the fit.
        physics_forces: per structure ``[n_i, 3]`` eV/Å of the physics term.
        fit_shift, fit_scale: fit each part (otherwise 0 shift / unit scale).
    Returns:
        :class:`EnergyNormalisation` (numpy, ``dtype``). Elements absent from the training set get 0.
        Compositions that are linearly dependent get the minimum-norm shift.
    """
    energies = np.asarray(energies, dtype=np.float64)
    if len(numbers) != energies.shape[0]:
        raise ValueError(f"{len(numbers)} structures but {energies.shape[0]} energies")
    target = energies - (0.0 if physics_energies is None else np.asarray(physics_energies, np.float64))
    shift = np.zeros(N_ELEMENTS)
    if fit_shift and len(numbers):
        species = np.unique(np.concatenate([np.asarray(z) for z in numbers]))
        counts = np.stack([np.bincount(np.asarray(z), minlength=N_ELEMENTS)[species] for z in numbers])
        solution, *_ = np.linalg.lstsq(counts.astype(np.float64), target, rcond=None)
        shift[species] = solution
    scale = 1.0
    if fit_scale:
        physics = physics_forces if physics_forces is not None else [None] * len(numbers)
        pairs = [(f, p) for f, p in zip(forces if forces is not None else [], physics) if f is not None]
        if not pairs:
            raise ValueError("fit_scale needs training forces and no training structure has any; "
                             "set normalisation.scale=false to train on energies only")
        residual = [np.asarray(f, np.float64) - (0.0 if p is None else np.asarray(p, np.float64)) for f, p in pairs]
        flat = np.concatenate([f.ravel() for f in residual])
        rms = float(np.sqrt(np.mean(flat**2))) if flat.size else 0.0
        scale = rms if np.isfinite(rms) and rms > 0 else 1.0
    return EnergyNormalisation(shift.astype(dtype), np.asarray(scale, dtype))
