"""MD17 / revised-MD17 molecular-dynamics frames (npz) → arrays and training data sets.

File layout (``shared/data/md17/<molecule>.npz``, see its PROVENANCE.md; n frames, A atoms):

=====================  ============  ==========================================================
key                    shape         meaning / unit
=====================  ============  ==========================================================
``z``                  [A]           atomic numbers (same order in every frame)
``R``                  [n, A, 3]     positions, Å
``E`` / ``F``          [n] / [n,A,3] revised-MD17 energy (kcal/mol) / forces (kcal/mol/Å)
``E_md17``/``F_md17``  [n] / [n,A,3] original MD17 labels of the same geometries (same units)
``idx``                [n]           frame index in the original MD17 trajectory (optional)
``rmd17_train_split``  [5, n] bool   membership in official rMD17 ``index_train_0{k+1}`` (optional)
``rmd17_test_split``   [5, n] bool   membership in official rMD17 ``index_test_0{k+1}`` (optional)
=====================  ============  ==========================================================

Energies and forces are converted to eV and eV/Å unless ``units="kcal/mol"``. The shared
files are in a random frame order (a fixed permutation), so the first k frames are a random
subset; :func:`protocol_split` implements the 1000 train / 1000 validation / rest test protocol.

A 200-frame ethanol subset with revised-MD17 labels only (CC0) ships with hybridpot for tests and
the default run: :func:`bundled_md17` (provenance in ``hybridpot/data/md17_ethanol_rmd17_200.md``).
The full shared files are read where they are (never copied): :func:`shared_md17_path`.
"""

from __future__ import annotations

import zipfile
from importlib import resources
from pathlib import Path
from typing import Literal, NamedTuple, Sequence

import numpy as np

from hybridpot.io.shared import shared_data_folder
from hybridpot.units import KCAL_PER_MOL_TO_EV

#: The eight MD17 molecules of the shared folder.
MD17_MOLECULES = ("aspirin", "benzene", "ethanol", "malonaldehyde", "naphthalene", "salicylic_acid", "toluene", "uracil")
#: The bundled subset (ethanol, 200 frames, revised-MD17 labels only).
BUNDLED_MD17_FILE = "md17_ethanol_rmd17_200.npz"

Labels = Literal["rmd17", "md17"]
EnergyUnits = Literal["eV", "kcal/mol"]
_LABEL_KEYS = {"rmd17": ("E", "F"), "md17": ("E_md17", "F_md17")}


class MD17Frames(NamedTuple):
    """Frames of one MD17 molecule.

    Attributes:
        numbers: ``[A]`` int32 atomic numbers.
        positions: ``[n, A, 3]`` Å.
        energy: ``[n]`` total energies in ``energy_unit``.
        forces: ``[n, A, 3]`` in ``energy_unit`` per Å.
        energy_unit: ``"eV"`` or ``"kcal/mol"``.
        labels: ``"rmd17"`` (revised, PBE/def2-SVP) or ``"md17"`` (original).
        index: ``[n]`` frame index in the original MD17 trajectory (or ``arange(n)`` if absent).
        rmd17_train_split, rmd17_test_split: ``[5, n]`` bool official-split membership, or None.
        source: the file read.
    """

    numbers: np.ndarray
    positions: np.ndarray
    energy: np.ndarray
    forces: np.ndarray
    energy_unit: str
    labels: str
    index: np.ndarray
    rmd17_train_split: np.ndarray | None
    rmd17_test_split: np.ndarray | None
    source: str

    @property
    def n_frames(self) -> int:
        """Number of frames n."""
        return int(self.positions.shape[0])

    def select(self, frames) -> "MD17Frames":
        """The frames ``frames`` (indices or a bool mask over n) as a new :class:`MD17Frames`."""
        frames = np.asarray(frames)
        cut = lambda a: None if a is None else a[:, frames]  # noqa: E731
        return self._replace(positions=self.positions[frames], energy=self.energy[frames],
                             forces=self.forces[frames], index=self.index[frames],
                             rmd17_train_split=cut(self.rmd17_train_split), rmd17_test_split=cut(self.rmd17_test_split))

    def official_split(self, k: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Frame indices ``(train, test)`` of official rMD17 split ``k`` (0..4) present in the file.

        For aspirin and ethanol the shared files hold only about half of each official split
        (PROVENANCE.md); ``ValueError`` when the file has no split flags.
        """
        if self.rmd17_train_split is None or self.rmd17_test_split is None:
            raise ValueError(f"{self.source}: no rmd17_train_split / rmd17_test_split flags in this file")
        if not 0 <= k < self.rmd17_train_split.shape[0]:
            raise ValueError(f"split k must be in 0..{self.rmd17_train_split.shape[0] - 1}, got {k}")
        return np.flatnonzero(self.rmd17_train_split[k]), np.flatnonzero(self.rmd17_test_split[k])

    def to_dataset(self, frames=None):
        """A :class:`hybridpot.structures.Dataset` (energies in eV, forces in eV/Å) of ``frames`` (default all).

        Raises ``ValueError`` unless the frames are in eV (load with ``units="eV"``).
        """
        from hybridpot.structures import Dataset, Structure

        if self.energy_unit != "eV":
            raise ValueError(f"to_dataset needs eV labels, these are in {self.energy_unit}; load with units='eV'")
        idx = np.arange(self.n_frames) if frames is None else np.asarray(frames)
        return Dataset([Structure(self.positions[i], self.numbers, float(self.energy[i]), self.forces[i]) for i in idx])


def shared_md17_path(molecule: str, shared_dir=None) -> Path:
    """Path of ``<shared>/data/md17/<molecule>.npz``: ``shared_dir`` (the ``md17`` folder) wins, else
    ``$HYBRIDPOT_SHARED_DATA/md17``, else ``shared/data/md17`` beside the repository."""
    if molecule not in MD17_MOLECULES:
        raise ValueError(f"unknown MD17 molecule {molecule!r}; one of {list(MD17_MOLECULES)}")
    return shared_data_folder("md17", shared_dir) / f"{molecule}.npz"


def _load_npz(path: Path) -> dict:
    if not path.is_file():
        raise FileNotFoundError(f"MD17 file not found: {path}")
    try:
        with np.load(path, allow_pickle=False) as f:
            return {k: f[k] for k in f.files}
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as err:
        raise ValueError(f"{path}: not a readable npz archive ({type(err).__name__}: {err})") from err


def load_md17(
    path_or_molecule,
    *,
    labels: Labels = "rmd17",
    units: EnergyUnits = "eV",
    shared_dir=None,
) -> MD17Frames:
    """Read an MD17 npz (a path, or a molecule name looked up with :func:`shared_md17_path`).

    Args:
        path_or_molecule: ``.npz`` path or one of :data:`MD17_MOLECULES`.
        labels: ``"rmd17"`` reads ``E``/``F``, ``"md17"`` reads ``E_md17``/``F_md17``.
        units: ``"eV"`` (default: energies eV, forces eV/Å) or ``"kcal/mol"`` (as stored).
        shared_dir: the ``md17`` folder for a molecule name.

    Returns:
        :class:`MD17Frames`.

    Raises:
        FileNotFoundError: no such file.
        ValueError: unreadable archive, missing key, wrong shape or dtype, non-finite values,
            naming the file and key.
    """
    if labels not in _LABEL_KEYS:
        raise ValueError(f"labels must be 'rmd17' or 'md17', got {labels!r}")
    if units not in ("eV", "kcal/mol"):
        raise ValueError(f"units must be 'eV' or 'kcal/mol', got {units!r}")
    name = str(path_or_molecule)
    path = shared_md17_path(name, shared_dir) if name in MD17_MOLECULES else Path(name)
    data = _load_npz(path)
    e_key, f_key = _LABEL_KEYS[labels]
    for key in ("z", "R", e_key, f_key):
        if key not in data:
            hint = " (the bundled subset holds revised-MD17 labels only)" if labels == "md17" else ""
            raise ValueError(f"{path}: missing key {key!r}{hint}; keys present: {sorted(data)}")

    def fail(key, what):
        raise ValueError(f"{path}: key {key!r} {what}")

    z, r, e, f = data["z"], data["R"], data[e_key], data[f_key]
    if z.ndim != 1 or z.dtype.kind not in "iu":
        fail("z", f"must be a [A] integer array, got {z.dtype} {list(z.shape)}")
    if np.any((z < 1) | (z > 118)):
        fail("z", f"holds atomic numbers outside 1..118: {sorted(set(z.tolist()))}")
    a = z.shape[0]
    if r.ndim != 3 or r.shape[1:] != (a, 3):
        fail("R", f"must have shape [n, {a}, 3], got {list(r.shape)}")
    n = r.shape[0]
    if e.shape != (n,):
        fail(e_key, f"must have shape [{n}], got {list(e.shape)}")
    if f.shape != (n, a, 3):
        fail(f_key, f"must have shape [{n}, {a}, 3], got {list(f.shape)}")
    for key, arr in (("R", r), (e_key, e), (f_key, f)):
        if arr.dtype.kind != "f":
            fail(key, f"must be floating point, got {arr.dtype}")
        if not np.all(np.isfinite(arr)):
            fail(key, f"holds NaN or inf (first at frame {int(np.argwhere(~np.isfinite(arr))[0][0])})")
    index = data.get("idx", np.arange(n))
    if index.shape != (n,):
        fail("idx", f"must have shape [{n}], got {list(index.shape)}")
    splits = []
    for key in ("rmd17_train_split", "rmd17_test_split"):
        s = data.get(key)
        if s is not None and (s.ndim != 2 or s.shape[1] != n or s.dtype != bool):
            fail(key, f"must be a [k, {n}] bool array, got {s.dtype} {list(s.shape)}")
        splits.append(s)
    factor = KCAL_PER_MOL_TO_EV if units == "eV" else 1.0
    return MD17Frames(
        numbers=z.astype(np.int32), positions=r.astype(np.float64), energy=e.astype(np.float64) * factor,
        forces=f.astype(np.float64) * factor, energy_unit=units, labels=labels, index=index.astype(np.int64),
        rmd17_train_split=splits[0], rmd17_test_split=splits[1], source=str(path),
    )


def bundled_md17(*, units: EnergyUnits = "eV") -> MD17Frames:
    """The bundled 200 ethanol frames (revised-MD17 labels, CC0; provenance in ``hybridpot/data``)."""
    path = resources.files("hybridpot") / "data" / BUNDLED_MD17_FILE
    with resources.as_file(path) as p:
        return load_md17(p, labels="rmd17", units=units)


def protocol_split(
    n_frames: int, n_train: int = 1000, n_valid: int = 1000, *, seed: int | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Frame indices ``(train, valid, test)``: ``n_train``, ``n_valid`` and all remaining frames.

    ``seed=None`` takes them in file order (the shared files are already randomly permuted);
    otherwise from ``numpy.random.default_rng(seed).permutation(n_frames)``.
    """
    if n_train < 1 or n_valid < 0 or n_train + n_valid > n_frames:
        raise ValueError(f"cannot take {n_train} train + {n_valid} valid frames from {n_frames}")
    order = np.arange(n_frames) if seed is None else np.random.default_rng(seed).permutation(n_frames)
    return order[:n_train], order[n_train : n_train + n_valid], order[n_train + n_valid :]


def write_md17_subset(frames: MD17Frames, path, selection: Sequence[int]) -> None:
    """Write ``selection`` of ``frames`` (kcal/mol units, revised labels) as an MD17-layout npz with
    keys ``z, R, E, F, idx`` (used to make the bundled subset)."""
    if frames.energy_unit != "kcal/mol" or frames.labels != "rmd17":
        raise ValueError("write_md17_subset needs frames loaded with labels='rmd17', units='kcal/mol'")
    s = frames.select(np.asarray(selection))
    np.savez_compressed(path, z=s.numbers.astype(np.int64), R=s.positions, E=s.energy, F=s.forces, idx=s.index)
