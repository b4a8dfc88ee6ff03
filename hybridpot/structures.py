"""The labelled structures every layer passes around: :class:`Structure` and :class:`Dataset`.

Units: positions Å, energy eV, forces eV/Å, stress eV/Å³ (ASE sign convention). Loaders in
:mod:`hybridpot.io` convert to them; the trainer turns them into padded graphs.
"""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Iterable, Sequence

import numpy as np

from hybridpot._checks import check_finite, check_shape


@dataclasses.dataclass(frozen=True)
class Structure:
    """One labelled structure.

    Attributes:
        positions: ``[n, 3]`` Å.
        numbers: ``[n]`` atomic numbers.
        energy: total energy, eV.
        forces: ``[n, 3]`` eV/Å, or None for an energy-only label (QM9 properties, a high level
            without gradients); the force loss and metrics then skip this structure.
        cell: ``[3, 3]`` Å (rows are lattice vectors) or None for molecules.
        pbc: ``[3]`` bool or None.
        stress: ``[3, 3]`` eV/Å³ (ASE sign convention) or None.
        config_type: the kind of configuration (``"bulk"``, ``"dimer"``, ...; extxyz
            ``config_type``; stored as a string) or None: a tag for errors broken down by kind, not
            in the fingerprint.
        charge: total charge, e (ASE ``atoms.info["charge"]``; default 0); the trainer's graphs
            carry it as ``globals["charge"]`` for models with learned charges
            (:mod:`hybridpot.potentials.long_range`); in the fingerprint when non-zero.
    """

    positions: np.ndarray
    numbers: np.ndarray
    energy: float
    forces: np.ndarray | None = None
    cell: np.ndarray | None = None
    pbc: np.ndarray | None = None
    stress: np.ndarray | None = None
    config_type: str | None = None
    charge: float = 0.0

    def __post_init__(self):
        pos = np.asarray(self.positions, np.float64)
        check_shape("positions", pos, (None, 3))
        n = pos.shape[0]
        check_finite("positions", pos)
        if self.forces is not None:
            forces = np.asarray(self.forces, np.float64)
            check_shape("forces", forces, (n, 3))
            check_finite("forces", forces)
            object.__setattr__(self, "forces", forces)
        energy = float(self.energy)
        if not np.isfinite(energy):
            raise ValueError(f"energy must be finite, got {energy}")
        object.__setattr__(self, "positions", pos)
        object.__setattr__(self, "numbers", np.asarray(self.numbers, np.int32))
        object.__setattr__(self, "energy", energy)
        charge = float(self.charge)
        if not np.isfinite(charge):
            raise ValueError(f"charge must be finite, got {charge}")
        object.__setattr__(self, "charge", charge)
        if self.config_type is not None:
            object.__setattr__(self, "config_type", str(self.config_type))
        if self.stress is not None:
            stress = np.asarray(self.stress, np.float64)
            if stress.shape == (6,):  # Voigt xx yy zz yz xz xy
                xx, yy, zz, yz, xz, xy = stress
                stress = np.array([[xx, xy, xz], [xy, yy, yz], [xz, yz, zz]])
            check_shape("stress", stress, (3, 3))
            check_finite("stress", stress)
            object.__setattr__(self, "stress", stress)


class Dataset:
    """A list of :class:`Structure` with a content fingerprint (checked when a run resumes)."""

    def __init__(self, structures: Sequence[Structure]):
        self.structures = list(structures)
        if not self.structures:
            raise ValueError("a Dataset needs at least one structure")

    def __len__(self) -> int:
        return len(self.structures)

    def __getitem__(self, i) -> Structure:
        return self.structures[i]

    @classmethod
    def from_atoms(cls, images: Iterable) -> "Dataset":
        """From ASE ``Atoms`` with a calculator (or stored results): energy, and forces and stress if any."""
        out = []
        for k, atoms in enumerate(images):
            try:
                energy = atoms.get_potential_energy()
            except Exception as err:  # noqa: BLE001 - report which image lacks labels
                raise ValueError(f"image {k} has no energy: {err}") from err
            try:
                forces = atoms.get_forces()
            except Exception:  # noqa: BLE001 - forces are optional (an energy-only label)
                forces = None
            stress = None
            if atoms.pbc.all():
                try:
                    stress = atoms.get_stress(voigt=False)
                except Exception:  # noqa: BLE001 - stress is optional
                    stress = None
            cell = np.asarray(atoms.get_cell()) if atoms.pbc.any() else None
            out.append(
                Structure(atoms.get_positions(), atoms.get_atomic_numbers(), energy, forces, cell,
                          np.asarray(atoms.get_pbc()), stress, atoms.info.get("config_type"),
                          atoms.info.get("charge", 0.0))
            )
        return cls(out)

    def split(self, n_valid: int, seed: int = 0) -> tuple["Dataset", "Dataset"]:
        """A random (train, valid) split with ``n_valid`` validation structures."""
        if not 0 < n_valid < len(self):
            raise ValueError(f"n_valid must be in 1..{len(self) - 1}, got {n_valid}")
        order = np.random.default_rng(seed).permutation(len(self))
        return (Dataset([self[i] for i in sorted(order[n_valid:])]),
                Dataset([self[i] for i in sorted(order[:n_valid])]))

    def fingerprint(self) -> str:
        """sha256 (hex, 16 chars) of every number in the dataset."""
        h = hashlib.sha256()
        for s in self.structures:
            charge = np.asarray(s.charge) if s.charge else None  # fingerprints of neutral data unchanged
            for a in (s.positions, s.numbers, np.asarray(s.energy), s.forces, s.cell, s.stress, charge):
                if a is not None:
                    h.update(np.ascontiguousarray(a).tobytes())
        return h.hexdigest()[:16]
