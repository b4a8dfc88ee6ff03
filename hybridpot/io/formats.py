"""Labelled structures from files: extxyz and any ASE-readable format, ASE databases, MD17 npz.

:func:`read_structures` returns a :class:`~hybridpot.structures.Dataset` in hybridpot's units (Å, eV,
eV/Å, eV/Å³), whatever the file's units: declare them with ``energy_unit`` and ``length_unit``
(forces are converted as energy/length, stress as energy/length³). The reader is chosen by
``format`` or by the file name:

* ``*.npz``: MD17 / revised-MD17 layout, read by :func:`hybridpot.io.md17.load_md17` (kcal/mol
  in the file, converted to eV);
* ``*.db``: an ASE database (every row, with its stored energy, forces and stress);
* anything else: ``ase.io.read`` (``extxyz``, ``xyz``, ``traj``, ``cif``, VASP ``OUTCAR`` ...),
  with labels from the calculator ASE attaches, or from ``energy_key``/``forces_key``/
  ``stress_key`` in ``atoms.info``/``atoms.arrays`` (e.g. ``REF_energy``).

Frames are picked with ``index`` or, as ``ase`` does, with ``file@selection`` in the name
(:func:`split_frame_selection`): ``data.xyz@0:100`` (a slice), ``data.xyz@-1`` (one frame) or
``data.xyz@0,5,9`` (a list). Every command of the CLI that reads structures takes that form.
Each frame's ``config_type`` (``atoms.info["config_type"]`` in extxyz, the convention of GAP,
MACE and NequIP data sets) is kept on the structure, for errors broken down by it.

Every problem — a missing, empty, corrupt or truncated file, a frame without labels, labels of
the wrong shape, NaN or inf, an unknown unit — raises ``ValueError`` (``FileNotFoundError`` for a
missing file) naming the file, the frame when it applies, and the problem.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from hybridpot.structures import Dataset, Structure
from hybridpot.units import BOHR_TO_ANGSTROM, HARTREE_TO_EV, KCAL_PER_MOL_TO_EV

#: Multiply an energy in the named unit by this factor to get eV.
ENERGY_UNITS_TO_EV = {
    "eV": 1.0,
    "meV": 1e-3,
    "hartree": HARTREE_TO_EV,
    "Ry": 0.5 * HARTREE_TO_EV,
    "kcal/mol": KCAL_PER_MOL_TO_EV,
    "kJ/mol": KCAL_PER_MOL_TO_EV / 4.184,
}
#: Multiply a length in the named unit by this factor to get Å.
LENGTH_UNITS_TO_ANGSTROM = {"Å": 1.0, "angstrom": 1.0, "bohr": BOHR_TO_ANGSTROM, "nm": 10.0}


def _factor(kind: str, unit: str, table: dict) -> float:
    lowered = {k.lower(): v for k, v in table.items()}
    if str(unit).lower() not in lowered:
        raise ValueError(f"unknown {kind} unit {unit!r}; known: {list(table)}")
    return lowered[str(unit).lower()]


def _check_file(path) -> Path:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    if path.is_dir():
        raise ValueError(f"{path}: is a folder, not a structure file")
    if path.stat().st_size == 0:
        raise ValueError(f"{path}: empty file (no structures)")
    return path


def _guess_format(path: Path, format: str | None) -> str:
    if format is not None:
        return format
    if path.suffix == ".npz":
        return "md17"
    if path.suffix == ".db":
        return "db"
    return "ase"


def parse_frame_selection(text: str):
    """A frame selection as text → an ``int``, a ``slice`` or a ``list`` of ints.

    ``"5"``, ``"-1"``: one frame; ``"0:100"``, ``"::10"``: a slice (Python semantics);
    ``"0,5,9"``: a list of frames (negative counts from the end).

    Raises:
        ValueError: text that is none of these.
    """
    text = str(text).strip()
    try:
        if ":" in text:
            parts = text.split(":")
            if len(parts) > 3:
                raise ValueError
            return slice(*(int(p) if p.strip() else None for p in parts))
        if "," in text:
            return [int(p) for p in text.split(",")]
        return int(text)
    except ValueError:
        raise ValueError(f"bad frame selection {text!r}: use START:STOP[:STEP], an index (-1: the last) "
                         "or a comma-separated list of indices") from None


def split_frame_selection(path) -> tuple[Path, object]:
    """``"file@selection"`` → ``(Path(file), selection)``; a plain path → ``(Path(path), None)``.

    A name that exists as a file is never split (a file may have ``@`` in its name); otherwise the
    part after the last ``@`` is parsed by :func:`parse_frame_selection`.
    """
    text = os.fspath(path)
    if "@" not in text or os.path.exists(text):
        return Path(text), None
    base, selection = text.rsplit("@", 1)
    return Path(base), parse_frame_selection(selection)


def _selection(path, index) -> tuple[Path, object]:
    """The file and the frames to read: ``index`` (default all) or the ``@`` selection of the name."""
    path, selection = split_frame_selection(path)
    if selection is not None and index is not None:
        raise ValueError(f"{path}: frames selected twice (in the name with '@' and with index={index!r}); give one")
    selection = selection if selection is not None else (":" if index is None else index)
    return path, parse_frame_selection(selection) if isinstance(selection, str) else selection


def _pick(n_frames: int, selection, path) -> list[int]:
    """Frame numbers of ``selection`` among ``n_frames``; an index beyond the file is an error."""
    if isinstance(selection, slice):
        return list(range(n_frames))[selection]
    wanted = [selection] if isinstance(selection, (int, np.integer)) else list(selection)
    bad = [i for i in wanted if not -n_frames <= i < n_frames]
    if bad:
        raise ValueError(f"{path}: no frame {bad[0]}; the file has {n_frames} frames")
    return [i % n_frames for i in wanted]


def read_atoms(path, *, format: str | None = None, index=None) -> list:
    """Structures of a file as ASE ``Atoms`` (labels attached where the file has them), in the file's units.

    Args:
        path: the file, or ``file@selection`` (:func:`split_frame_selection`).
        format: an ``ase.io`` format name (``"extxyz"``, ``"db"``, ...); default: from the name.
        index: which frames (default all; ``-1`` the last, ``"0:10"``, ``[0, 5]`` ...), unless the
            name selects them.

    Raises:
        FileNotFoundError: no such file.
        ValueError: an unreadable, corrupt or truncated file, one without frames, or a selection
            beyond its frames, naming the file and what ASE reported.
    """
    import ase.io

    path, selection = _selection(path, index)
    path = _check_file(path)
    fmt = None if format in (None, "ase") else format
    ase_index = selection if isinstance(selection, (int, np.integer, slice)) else ":"
    try:
        images = ase.io.read(str(path), index=ase_index, format=fmt)
    except (IndexError, StopIteration):  # what ase.io.read raises for a frame beyond the file
        raise ValueError(f"{path}: no frame {selection} in the file") from None
    except Exception as err:  # noqa: BLE001 - ASE raises many types; the user needs file + reason
        reason = f"{type(err).__name__}: {err}" if str(err) else type(err).__name__
        raise ValueError(f"{path}: cannot read as {fmt or 'a structure file'} (corrupt, truncated or "
                         f"not this format?): {reason}") from None
    if not isinstance(images, list):
        images = [images]
    if isinstance(selection, list):
        images = [images[i] for i in _pick(len(images), selection, path)]
    if not images:
        raise ValueError(f"{path}: no structures in the file (frames {selection!r})")
    return images


def _frame_labels(atoms, path: Path, k: int, energy_key, forces_key, stress_key):
    """Energy, forces, stress (or None) of one ``Atoms``, in the file's units."""
    n = len(atoms)
    results = dict(atoms.calc.results) if atoms.calc is not None and hasattr(atoms.calc, "results") else {}

    def pick(key, default_key, where):
        if key is not None:
            if key in where:
                return where[key]
            if key in results:
                return results[key]
            raise ValueError(f"{path}: frame {k}: no {key!r} (keys: {sorted(set(where) | set(results))})")
        if default_key in results:
            return results[default_key]
        return where.get(default_key)

    energy = pick(energy_key, "energy", atoms.info)
    if energy is None:
        energy = results.get("free_energy")
    forces = pick(forces_key, "forces", atoms.arrays)
    stress = pick(stress_key, "stress", atoms.info) if stress_key is not None or "stress" in results or "stress" in atoms.info else None
    if energy is None:
        raise ValueError(f"{path}: frame {k}: no energy label (give energy_key=... if it is stored under "
                         f"another name; info keys: {sorted(atoms.info)})")
    try:
        energy = float(np.asarray(energy, dtype=np.float64).reshape(()))
    except (TypeError, ValueError):
        raise ValueError(f"{path}: frame {k}: energy must be one number, got {energy!r}") from None
    if forces is not None:
        forces = np.asarray(forces, dtype=np.float64)
    if forces is not None and forces.shape != (n, 3):
        raise ValueError(f"{path}: frame {k}: forces have shape {list(forces.shape)}, expected [{n}, 3] "
                         f"for its {n} atoms (inconsistent file)")
    if stress is not None:
        stress = np.asarray(stress, dtype=np.float64)
        if stress.shape not in ((6,), (3, 3), (9,)):
            raise ValueError(f"{path}: frame {k}: stress has shape {list(stress.shape)}, expected [6] (Voigt) or [3, 3]")
        stress = stress.reshape(3, 3) if stress.shape == (9,) else stress
    for name, value in (("energy", energy), ("forces", forces), ("stress", stress)):
        if value is not None and not np.all(np.isfinite(value)):
            raise ValueError(f"{path}: frame {k}: {name} holds NaN or inf")
    return energy, forces, stress


def _voigt_to_3x3(stress: np.ndarray) -> np.ndarray:
    if stress.shape == (6,):
        xx, yy, zz, yz, xz, xy = stress
        return np.array([[xx, xy, xz], [xy, yy, yz], [xz, yz, zz]])
    return stress


def read_structures(
    path,
    *,
    format: str | None = None,
    index=None,
    energy_unit: str = "eV",
    length_unit: str = "Å",
    energy_key: str | None = None,
    forces_key: str | None = None,
    stress_key: str | None = None,
    config_type_key: str = "config_type",
) -> Dataset:
    """Labelled structures of a file as a :class:`~hybridpot.structures.Dataset` in Å, eV, eV/Å, eV/Å³.

    Args:
        path: ``.npz`` (MD17 layout), ``.db`` (ASE database) or any file ``ase.io.read`` reads;
            ``file@selection`` picks frames (:func:`split_frame_selection`).
        format: force a reader: ``"md17"``, ``"db"``, or any ``ase.io`` format name.
        index: frames to read (default all; ``"0:100"``, ``-1``, ``[0, 5]``), unless the name selects them.
        config_type_key: the ``atoms.info`` key of each frame's configuration type.
        energy_unit: energy unit of the file, one of :data:`ENERGY_UNITS_TO_EV` (MD17 files:
            leave ``"eV"``; their kcal/mol is known and converted).
        length_unit: length unit of the file, one of :data:`LENGTH_UNITS_TO_ANGSTROM`.
        energy_key, forces_key, stress_key: names of the labels in ``atoms.info`` /
            ``atoms.arrays`` when they are not the standard ``energy``/``forces``/``stress``.

    Returns:
        ``Dataset`` of :class:`~hybridpot.structures.Structure` (positions ``[n, 3]`` Å, energy eV,
        forces ``[n, 3]`` eV/Å or None for a frame without forces (an energy-only label: train it
        with ``loss.forces_weight=0``), stress ``[3, 3]`` eV/Å³ or None, cell ``[3, 3]`` Å or None,
        config_type or None).

    Raises:
        FileNotFoundError: no such file.
        ValueError: naming the file (and frame) for an unreadable, corrupt, truncated or empty
            file, missing labels, labels of the wrong shape, NaN/inf values or an unknown unit.
    """
    e_factor = _factor("energy", energy_unit, ENERGY_UNITS_TO_EV)
    l_factor = _factor("length", length_unit, LENGTH_UNITS_TO_ANGSTROM)
    path, selection = _selection(path, index)
    path = _check_file(path)
    fmt = _guess_format(path, format)
    if fmt == "md17":
        if e_factor != 1.0 or l_factor != 1.0:
            raise ValueError(f"{path}: MD17 files declare their own units (Å, kcal/mol); leave energy_unit and "
                             "length_unit at their defaults")
        from hybridpot.io.md17 import load_md17

        frames = load_md17(path, units="eV")
        picked = _pick(len(frames.energy), selection, path)
        if not picked:
            raise ValueError(f"{path}: no structures in the file (frames {selection!r})")
        return Dataset([Structure(frames.positions[i], frames.numbers, frames.energy[i], frames.forces[i])
                        for i in picked])
    images = read_atoms(path, format=fmt, index=selection)
    structures = []
    for k, atoms in enumerate(images):
        energy, forces, stress = _frame_labels(atoms, path, k, energy_key, forces_key, stress_key)
        pbc = np.asarray(atoms.get_pbc())
        cell = np.asarray(atoms.get_cell()) * l_factor if pbc.any() else None
        if stress is not None:
            stress = _voigt_to_3x3(stress) * e_factor / l_factor**3
        try:
            structures.append(Structure(atoms.get_positions() * l_factor, atoms.get_atomic_numbers(),
                                        energy * e_factor, None if forces is None else forces * e_factor / l_factor,
                                        cell, pbc, stress,
                                        atoms.info.get(config_type_key), atoms.info.get("charge", 0.0)))
        except ValueError as err:
            raise ValueError(f"{path}: frame {k}: {err}") from None
    return Dataset(structures)


def structures_to_atoms(structures: Sequence[Structure] | Dataset) -> list:
    """ASE ``Atoms`` with the labels attached (a ``SinglePointCalculator``), one per structure."""
    from ase import Atoms
    from ase.calculators.singlepoint import SinglePointCalculator

    out = []
    for s in structures:
        pbc = np.zeros(3, bool) if s.pbc is None else np.asarray(s.pbc, bool)
        atoms = Atoms(numbers=s.numbers, positions=s.positions, cell=s.cell, pbc=pbc)
        if s.config_type is not None:
            atoms.info["config_type"] = s.config_type
        if s.charge:
            atoms.info["charge"] = s.charge
        results = {"energy": s.energy}
        if s.forces is not None:
            results["forces"] = s.forces
        if s.stress is not None:
            results["stress"] = s.stress
        atoms.calc = SinglePointCalculator(atoms, **results)
        out.append(atoms)
    return out


def label_atoms(images, calculator) -> Dataset:
    """Label structures with ``calculator``: a reference method (DFT, xTB, EMT …) as a data set
    (the two label sets of a Δ-model, the oracle of active learning).

    The calculator is attached to *copies*; ``images`` are left as they are.

    Args:
        images: ASE ``Atoms`` (an iterable) or a ``hybridpot.structures.Dataset`` whose geometries
            are relabelled (``n`` structures).
        calculator: an ASE calculator, reused for every structure (e.g. ``TBLite(method="GFN2-xTB")``,
            ``EMT()``).
    Returns:
        ``hybridpot.structures.Dataset`` of ``n`` structures in input order: energy eV, forces
            ``[n_i, 3]`` eV/Å, stress ``[3, 3]`` eV/Å³ for fully periodic cells (when the
            calculator gives one).
    Raises:
        ValueError: a structure the calculator could not label, naming its index.
    """
    if isinstance(images, Dataset):
        images = structures_to_atoms(images)

    def copies(images: Iterable):
        for atoms in images:
            atoms = atoms.copy()
            atoms.calc = calculator
            yield atoms

    return Dataset.from_atoms(copies(images))


def write_structures(path, structures: Sequence[Structure] | Dataset, *, format: str | None = None) -> None:
    """Write labelled structures (Å, eV, eV/Å, eV/Å³) to ``path`` (extxyz by default, or any
    ``ase.io`` format, ``"db"`` for an ASE database)."""
    import ase.io

    path = os.fspath(path)
    fmt = format or ("db" if path.endswith(".db") else "extxyz")
    ase.io.write(path, structures_to_atoms(structures), format=fmt)
