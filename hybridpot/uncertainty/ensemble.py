r"""Ensemble statistics: the vmapped seeds of one training run as a committee.

A run with ``run.n_seeds = M`` trains M members that differ in initialisation and data order
(:mod:`hybridpot.train.trainer`). Their spread is the committee estimate of the model error:

.. math::
    \bar E = \frac1M \sum_m E_m, \qquad
    \sigma_E^2 = \frac{1}{M - \delta} \sum_m (E_m - \bar E)^2,

per structure, and likewise per force component (δ = ``ddof``, 0 by default as in
:class:`~hybridpot.md.HybridpotCalculator`). Per atom, the force uncertainty is the norm of the
component standard deviations, :math:`\sigma_{F,i} = (\sum_c \sigma_{F,ic}^2)^{1/2}` eV/Å; per
structure, its maximum and mean over the atoms (the maximum is what active learning selects on).
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

import numpy as np

from hybridpot._checks import check_finite
from hybridpot.train import predict


class EnsembleStatistics(NamedTuple):
    """Mean and spread of an ensemble's predictions on ``n`` structures.

    Attributes:
        energy_mean: ``[n]`` eV.
        energy_std: ``[n]`` eV.
        n_atoms: ``[n]`` atoms per structure.
        forces_mean: list of ``[n_i, 3]`` eV/Å.
        forces_std: list of ``[n_i, 3]`` eV/Å, per component.
        atom_force_std: list of ``[n_i]`` eV/Å, the norm of each atom's component std.
        max_force_std: ``[n]`` eV/Å, the largest ``atom_force_std`` of each structure.
        mean_force_std: ``[n]`` eV/Å, its mean over the atoms.
    """

    energy_mean: np.ndarray
    energy_std: np.ndarray
    n_atoms: np.ndarray
    forces_mean: list
    forces_std: list
    atom_force_std: list
    max_force_std: np.ndarray
    mean_force_std: np.ndarray

    @property
    def energy_per_atom_std(self) -> np.ndarray:
        """``[n]`` eV/atom: ``energy_std / n_atoms``."""
        return self.energy_std / self.n_atoms


def ensemble_statistics(energies, forces: Sequence, *, ddof: int = 0) -> EnsembleStatistics:
    """Committee mean and standard deviation of member predictions.

    Args:
        energies: ``[M, n]`` eV, member m's energy of structure k.
        forces: ``n`` arrays ``[M, n_k, 3]`` eV/Å (the layout of :func:`hybridpot.train.predict`).
        ddof: delta degrees of freedom of the standard deviation (0: population, 1: sample).

    Returns:
        :class:`EnsembleStatistics`.
    """
    energies = np.asarray(energies, np.float64)
    if energies.ndim != 2:
        raise ValueError(f"energies must have shape [n_members, n_structures], got {list(energies.shape)}")
    n_members, n = energies.shape
    if n_members - ddof < 1:
        raise ValueError(f"{n_members} member(s) with ddof={ddof}: the spread needs n_members > ddof")
    if len(forces) != n:
        raise ValueError(f"forces has {len(forces)} entries, energies {n} structures")
    check_finite("energies", energies)
    f_mean, f_std, atom_std = [], [], []
    for k, f in enumerate(forces):
        f = np.asarray(f, np.float64)
        if f.ndim != 3 or f.shape[0] != n_members or f.shape[2] != 3:
            raise ValueError(f"forces[{k}] must have shape [{n_members}, n_atoms, 3], got {list(f.shape)}")
        check_finite(f"forces[{k}]", f)
        std = f.std(axis=0, ddof=ddof)
        f_mean.append(f.mean(axis=0))
        f_std.append(std)
        atom_std.append(np.sqrt((std**2).sum(axis=1)))
    return EnsembleStatistics(
        energy_mean=energies.mean(axis=0),
        energy_std=energies.std(axis=0, ddof=ddof),
        n_atoms=np.array([len(a) for a in atom_std], np.int64),
        forces_mean=f_mean,
        forces_std=f_std,
        atom_force_std=atom_std,
        max_force_std=np.array([a.max() if a.size else 0.0 for a in atom_std]),
        mean_force_std=np.array([a.mean() if a.size else 0.0 for a in atom_std]),
    )


def ensemble_predict(potential, dataset, *, batch_size: int = 16, dtype=np.float32,
                     ddof: int = 0) -> EnsembleStatistics:
    """:func:`ensemble_statistics` of every member of ``potential`` (a
    :class:`~hybridpot.potentials.Potential` or :class:`~hybridpot.potentials.TrainedPotential`,
    params ``[M, ...]``) on ``dataset`` (a :class:`hybridpot.train.Dataset`), through
    :func:`hybridpot.train.predict`."""
    out = predict(potential, dataset, batch_size=batch_size, dtype=dtype)
    return ensemble_statistics(out["energy"], out["forces"], ddof=ddof)


def committee_errors(stats: EnsembleStatistics, dataset) -> dict:
    """Errors of the committee mean and their predicted spreads on labelled ``dataset`` (a
    :class:`hybridpot.train.Dataset` of the ``n`` structures ``stats`` describes), for calibration.

    Returns:
        ``{"energy_per_atom": (error [n], sigma [n]) eV/atom,
        "forces": (error [3 Σ n_k], sigma [3 Σ n_k]) eV/Å per component}``; error = mean − reference.
        The force entries cover the structures with force labels; ``"forces"`` is left out when
        none has any.
    """
    structures = list(dataset.structures)
    if len(structures) != len(stats.energy_mean):
        raise ValueError(f"stats describe {len(stats.energy_mean)} structures, the dataset has {len(structures)}")
    ref = np.array([s.energy for s in structures])
    e_err = (stats.energy_mean - ref) / stats.n_atoms
    out = {"energy_per_atom": (e_err, stats.energy_per_atom_std)}
    labelled = [k for k, s in enumerate(structures) if s.forces is not None]
    if labelled:
        f_err = np.concatenate([(stats.forces_mean[k] - structures[k].forces).ravel() for k in labelled])
        f_sig = np.concatenate([stats.forces_std[k].ravel() for k in labelled])
        out["forces"] = (f_err, f_sig)
    return out
