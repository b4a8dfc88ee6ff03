"""QM9 molecules (npz subset of the ``qm9pack`` CSVs) → arrays and per-molecule property data sets.

File layout (``shared/data/qm9/qm9_subset20k.npz``, see its PROVENANCE.md; n molecules, up to 29
atoms each, padded with atomic number 0):

=========================  ==========  ===================================================
key                        shape       meaning / unit in the file
=========================  ==========  ===================================================
``idx``                    [n]         QM9 index (``dsgdb9nsd_XXXXXX``)
``N``                      [n]         atoms per molecule
``Z`` / ``R``              [n, 29(,3)] atomic numbers (0 = padding) / positions, Å
``mu``                     [n]         dipole moment, Debye
``alpha``                  [n]         isotropic polarisability, bohr³
``homo``/``lumo``/``gap``  [n]         Hartree
``r2``                     [n]         electronic spatial extent, bohr²
``zpve``                   [n]         zero-point vibrational energy, Hartree
``U0``/``U``/``H``/``G``   [n]         internal energy at 0 K and 298 K, enthalpy, free energy, Hartree
``Cv``                     [n]         heat capacity at 298 K, cal/(mol K)
=========================  ==========  ===================================================

Properties are returned in the units of :data:`QM9_UNITS`: energies in eV (converted from
Hartree), the others as in the file (the units of the DimeNet and Tao & Wan tables). The level of
theory is B3LYP/6-31G(2df,p) (Ramakrishnan et al., Sci. Data 1, 140022 (2014)).
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np

from hybridpot.io.md17 import _load_npz
from hybridpot.io.shared import shared_data_folder
from hybridpot.units import HARTREE_TO_EV

#: Property → unit returned by :func:`load_qm9`.
QM9_UNITS = {
    "mu": "D", "alpha": "bohr³", "homo": "eV", "lumo": "eV", "gap": "eV", "r2": "bohr²", "zpve": "eV",
    "U0": "eV", "U": "eV", "H": "eV", "G": "eV", "Cv": "cal/(mol K)",
}
_HARTREE_KEYS = ("homo", "lumo", "gap", "zpve", "U0", "U", "H", "G")
#: The file the shared folder holds.
SHARED_QM9_FILE = "qm9_subset20k.npz"


class QM9Molecules(NamedTuple):
    """Molecules of a QM9 file.

    Attributes:
        index: ``[n]`` QM9 indices.
        numbers: list of ``[A_k]`` int32 atomic numbers (padding removed).
        positions: list of ``[A_k, 3]`` Å.
        properties: ``{name: [n]}`` in :data:`QM9_UNITS`.
        source: the file read.
    """

    index: np.ndarray
    numbers: list
    positions: list
    properties: dict
    source: str

    @property
    def n_molecules(self) -> int:
        """Number of molecules n."""
        return int(self.index.shape[0])

    def to_dataset(self, prop: str, molecules=None):
        """A :class:`hybridpot.structures.Dataset` whose per-structure "energy" is property ``prop``.

        The property sits in the energy slot so that the graph trainer fits it as a sum over
        atoms (the DimeNet read-out); the structures carry no forces, so training and evaluation
        skip the backward pass. Train with ``loss.forces_weight=0`` and
        ``normalisation.scale=false`` (there are no forces to set a scale from), and read the
        metrics ``energy_mae`` / ``energy_rmse`` in the property's unit (:data:`QM9_UNITS`).

        Args:
            prop: a key of :data:`QM9_UNITS`.
            molecules: indices or a bool mask over the n molecules (default all).
        """
        from hybridpot.structures import Dataset, Structure

        if prop not in self.properties:
            raise ValueError(f"unknown QM9 property {prop!r}; one of {sorted(self.properties)}")
        idx = np.arange(self.n_molecules)
        if molecules is not None:
            idx = idx[np.asarray(molecules)]
        values = self.properties[prop]
        return Dataset([Structure(self.positions[i], self.numbers[i], float(values[i])) for i in idx])


def shared_qm9_path(shared_dir=None) -> Path:
    """Path of ``<shared>/data/qm9/qm9_subset20k.npz``: ``shared_dir`` (the ``qm9`` folder) wins, else
    ``$HYBRIDPOT_SHARED_DATA/qm9``, else ``shared/data/qm9`` beside the repository."""
    return shared_data_folder("qm9", shared_dir) / SHARED_QM9_FILE


def load_qm9(path=None, *, shared_dir=None) -> QM9Molecules:
    """Read a QM9 npz (default: the shared subset) into :class:`QM9Molecules`, units converted.

    Raises:
        FileNotFoundError: no such file.
        ValueError: not an npz archive, a missing key, shapes that disagree, an atom count that
            does not match the padding of ``Z``, or non-finite values — naming the file and the key.
    """
    path = Path(path) if path is not None else shared_qm9_path(shared_dir)
    data = _load_npz(path)
    missing = sorted({"idx", "N", "Z", "R", *QM9_UNITS} - set(data))
    if missing:
        raise ValueError(f"{path}: missing keys {missing} (expected the layout of hybridpot.io.qm9)")
    n = data["idx"].shape[0]
    z, r, counts = np.asarray(data["Z"]), np.asarray(data["R"], np.float64), np.asarray(data["N"])
    if z.ndim != 2 or z.shape[0] != n or r.shape != z.shape + (3,) or counts.shape != (n,):
        raise ValueError(f"{path}: shapes disagree: idx {data['idx'].shape}, N {counts.shape}, Z {z.shape}, R {r.shape}")
    real = z > 0
    bad = np.flatnonzero(np.any(real != (np.arange(z.shape[1])[None, :] < counts[:, None]), axis=1))
    if bad.size:
        raise ValueError(f"{path}: molecule {int(bad[0])} does not have its N = {int(counts[bad[0]])} atoms first "
                         f"and padding (Z = 0) after them")
    if not np.isfinite(r[real]).all():
        raise ValueError(f"{path}: R contains NaN or inf")
    properties = {}
    for key in QM9_UNITS:
        values = np.asarray(data[key], np.float64)
        if values.shape != (n,):
            raise ValueError(f"{path}: {key} has shape {values.shape}, expected ({n},)")
        if not np.isfinite(values).all():
            raise ValueError(f"{path}: {key} contains NaN or inf (first at molecule {int(np.flatnonzero(~np.isfinite(values))[0])})")
        properties[key] = values * HARTREE_TO_EV if key in _HARTREE_KEYS else values
    numbers = [z[i, : counts[i]].astype(np.int32) for i in range(n)]
    positions = [r[i, : counts[i]] for i in range(n)]
    return QM9Molecules(np.asarray(data["idx"]), numbers, positions, properties, str(path))
