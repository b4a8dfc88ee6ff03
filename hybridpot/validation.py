"""The input checks every entry point applies: structures, model files and configs.

One module so that training, evaluation, the ASE calculator, jax-md, the studies, the property
calculations and the engine clients reject the same bad input with the same message. Each check
raises ``ValueError`` naming what is wrong (and where), or warns (:class:`InputWarning`) for input
that is legal but almost surely a mistake. The checks are host-side numpy (inputs, not traced
values) and import nothing above :mod:`hybridpot.elements`.

* **Structures** (:func:`check_atomic_numbers`, :func:`check_close_pairs`,
  :func:`check_cell_for_cutoff`): atomic numbers in 1..118 and known to the model, no two atoms
  (or an atom and a periodic image) closer than :data:`MIN_DISTANCE`, and a warning for a periodic
  cell so much smaller than the cutoff that each atom meets more than :data:`MAX_PERIODIC_IMAGES`
  cells. Finite positions and cells are checked by :mod:`hybridpot._checks` where they are read.
* **Model files** (:func:`content_hash`, :func:`array_layout`, :func:`check_model_arrays`): a
  sha256 of every array and the metadata, stored in the metadata on save and compared on load, the
  dtype and shape of every array as the metadata lists them, and finite parameters.
* **Configs** (:func:`check_model_args`, :func:`load_yaml`): every model argument hybridpot's
  model kinds take is typed and range-checked, and a YAML mapping with a repeated key is rejected.
"""

from __future__ import annotations

import hashlib
import json
import math
import numbers
import warnings
from typing import Sequence

import numpy as np
import yaml

from hybridpot.elements import N_ELEMENTS, check_species, check_species_list

#: Å; two atoms (or an atom and its periodic image) closer than this are rejected as coincident.
MIN_DISTANCE = 0.1
#: Periodic cells searched per atom above which a cell is reported as much smaller than the cutoff.
MAX_PERIODIC_IMAGES = 1000


class InputWarning(UserWarning):
    """Input that is legal but almost surely a mistake (a cell far smaller than the cutoff, a loss
    weight on labels the data does not have, a model file without a content hash)."""


# ------------------------------------------------------------------------------------ structures
def check_atomic_numbers(numbers, species: Sequence[int] | None = None, where: str = "structure") -> np.ndarray:
    """``numbers`` as ``[n] int32`` after checking they are real elements the model knows.

    Args:
        numbers: ``[n]`` integer atomic numbers.
        species: the model's atomic numbers, or None for a model that takes any element.
        where: what the numbers belong to, for the message.

    Raises:
        ValueError: a non-integer, an atomic number outside 1..118 (0 is padding, not an atom;
            a model has no row for 119 and above), or an element not in ``species``.
    """
    a = np.asarray(numbers)
    if a.ndim != 1:
        raise ValueError(f"{where}: atomic numbers must have shape [n_atoms], got {list(a.shape)}")
    if a.dtype.kind == "f":
        if not np.all(np.isfinite(a)) or np.any(a != np.round(a)):
            raise ValueError(f"{where}: atomic numbers must be integers, got {a.tolist()}")
    elif a.dtype.kind not in "iu":
        raise ValueError(f"{where}: atomic numbers must be integers, got dtype {a.dtype}")
    bad = (a < 1) | (a >= N_ELEMENTS)
    if bad.any():
        k = int(np.argmax(bad))
        raise ValueError(f"{where}: unknown element: atomic number {int(a[k])} at atom {k} is outside "
                         f"1..{N_ELEMENTS - 1}")
    check_species(a, species, where)
    return a.astype(np.int32)


def check_close_pairs(distances, receivers, senders, where: str | None = None,
                      min_distance: float = MIN_DISTANCE) -> None:
    """Raise ``ValueError`` when an edge of a neighbour list is shorter than ``min_distance``.

    Args:
        distances: ``[n_edge]`` Å, lengths of the edges (periodic images included).
        receivers, senders: ``[n_edge]`` atom indices of each edge.
        where: what the atoms belong to, for the message (None: left to the caller).
        min_distance: Å.
    """
    distances = np.asarray(distances)
    close = distances < min_distance
    if close.any():
        k = int(np.argmin(np.where(close, distances, np.inf)))
        i, j = int(receivers[k]), int(senders[k])
        what = f"atoms {i} and {j}" if i != j else f"atom {i} and its own periodic image"
        prefix = f"{where}: " if where else ""
        raise ValueError(f"{prefix}{what} are {distances[k]:.4g} Å apart, closer than min_distance={min_distance} Å "
                         "(coincident or overlapping atoms)")


def periodic_images(cell, pbc, cutoff: float) -> int:
    """Number of cells a neighbour search within ``cutoff`` (Å) visits per atom: ∏ (2⌈r_c/h_k⌉ + 1)
    over the periodic directions k, with h_k the cell height (Å) across lattice vector k."""
    cell = np.asarray(cell, np.float64)
    pbc = np.broadcast_to(np.asarray(pbc, bool), (3,))
    if not pbc.any():
        return 1
    volume = abs(float(np.linalg.det(cell)))
    count = 1
    for k in np.flatnonzero(pbc):
        area = np.linalg.norm(np.cross(cell[(k + 1) % 3], cell[(k + 2) % 3]))
        height = volume / area if area > 0 else 0.0
        count *= 2 * math.ceil(cutoff / height) + 1 if height > 0 else 1
    return int(count)


def check_cell_for_cutoff(cell, pbc, cutoff: float, where: str = "structure") -> None:
    """Warn (:class:`InputWarning`) when a periodic cell is so small against ``cutoff`` (Å) that each
    atom meets more than :data:`MAX_PERIODIC_IMAGES` periodic images of the cell: legal, but slow and
    usually a cell given in the wrong unit or a primitive cell meant to be a supercell."""
    count = periodic_images(cell, pbc, cutoff)
    if count > MAX_PERIODIC_IMAGES:
        heights = _heights(cell, pbc)
        warnings.warn(
            f"{where}: the periodic cell (heights {heights} Å) is far smaller than the cutoff {cutoff:g} Å: "
            f"each atom meets {count} periodic images of the cell (more than {MAX_PERIODIC_IMAGES}); check the "
            "cell's unit, or use a supercell", InputWarning, stacklevel=3)


def _heights(cell, pbc) -> list[float]:
    cell = np.asarray(cell, np.float64)
    volume = abs(float(np.linalg.det(cell)))
    return [round(volume / float(np.linalg.norm(np.cross(cell[(k + 1) % 3], cell[(k + 2) % 3]))), 4)
            for k in np.flatnonzero(np.broadcast_to(np.asarray(pbc, bool), (3,)))]


def check_loss_labels(structures: Sequence, forces_weight: float, stress_weight: float,
                      where: str = "training structure") -> None:
    """Check that the labels a loss weights exist in the data it trains on.

    Args:
        structures: objects with ``forces`` and ``stress`` (None when absent), e.g.
            :class:`hybridpot.structures.Structure`.
        forces_weight, stress_weight: the loss weights of forces and stress.
        where: what the structures are, for the messages.

    Raises:
        ValueError: ``forces_weight > 0`` and no structure has forces (energy-only data trains
            with ``loss.forces_weight=0``).

    Warns:
        InputWarning: ``stress_weight > 0`` and no structure has a stress (molecules and other
            non-periodic data have none): the stress term would be empty.
    """
    if forces_weight > 0 and not any(s.forces is not None for s in structures):
        raise ValueError(f"loss.forces_weight > 0 but no {where} has forces; set loss.forces_weight=0 to train "
                         "on energies only")
    if stress_weight > 0 and not any(s.stress is not None for s in structures):
        warnings.warn(f"loss.stress_weight={stress_weight:g} but no {where} has a stress label (non-periodic data "
                      "has none): the stress term is empty; set loss.stress_weight=0", InputWarning, stacklevel=3)


# ------------------------------------------------------------------------------------ model files
def _canonical_json(value) -> bytes:
    return json.dumps(value, sort_keys=True, allow_nan=True, separators=(",", ":")).encode()


def content_hash(arrays: dict[str, np.ndarray], metadata: dict) -> str:
    """sha256 (hex) of every named array (name, dtype, shape, bytes) and of ``metadata`` (canonical
    JSON, without its ``content_sha256`` key): what a model file stores and checks on load."""
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(_canonical_json([name, a.dtype.str, list(a.shape)]))
        h.update(a.tobytes())
    h.update(_canonical_json({k: v for k, v in metadata.items() if k != "content_sha256"}))
    return h.hexdigest()


def array_layout(arrays: dict[str, np.ndarray]) -> dict[str, dict]:
    """``{name: {"dtype": "float32", "shape": [...]}}`` of named arrays, as model-file metadata lists them."""
    return {name: {"dtype": np.asarray(a).dtype.name, "shape": list(np.shape(a))} for name, a in sorted(arrays.items())}


def check_model_arrays(arrays: dict[str, np.ndarray], metadata: dict, where: str) -> None:
    """Check the arrays of a model file against its metadata: layout, content hash, finite values.

    Args:
        arrays: name → array as read from the file.
        metadata: the file's metadata (``arrays`` layout and ``content_sha256`` when it has them).
        where: the file, for the messages.

    Raises:
        ValueError: an array missing, added, or of another dtype or shape than the metadata says;
            a content hash that does not match (the file was edited after it was written); a
            parameter or normalisation value that is NaN or inf.

    A file without a layout or hash (written before hybridpot stored them) gets an
    :class:`InputWarning` instead: its integrity cannot be checked.
    """
    layout = metadata.get("arrays")
    if layout is not None:
        missing, extra = sorted(set(layout) - set(arrays)), sorted(set(arrays) - set(layout))
        if missing or extra:
            raise ValueError(f"{where}: the arrays do not match the file's metadata: missing {missing}, "
                             f"not listed {extra} (file damaged or edited)")
        for name, want in layout.items():
            a = np.asarray(arrays[name])
            if a.dtype.name != want["dtype"] or list(a.shape) != list(want["shape"]):
                raise ValueError(f"{where}: array {name!r} is stored as {a.dtype.name} {list(a.shape)} but the "
                                 f"metadata says {want['dtype']} {list(want['shape'])} (file edited)")
    stored = metadata.get("content_sha256")
    if stored is None or layout is None:
        warnings.warn(f"{where} has no content hash (written before hybridpot stored one): an edited or "
                      "damaged file cannot be told from the original; save it again to add one",
                      InputWarning, stacklevel=3)
    elif content_hash(arrays, metadata) != stored:
        raise ValueError(f"{where}: content hash mismatch: the arrays or metadata were changed after the file "
                         "was written (edited or damaged); retrain or restore the original file")
    check_finite_arrays(arrays, where)


def check_finite_arrays(arrays: dict[str, np.ndarray], where: str) -> None:
    """Raise ``ValueError`` naming the first of the named ``arrays`` that holds NaN or inf, and where."""
    for name in sorted(arrays):
        a = np.asarray(arrays[name])
        if a.dtype.kind in "fc" and not np.all(np.isfinite(a)):
            first = tuple(int(i) for i in np.argwhere(~np.isfinite(a))[0])
            raise ValueError(f"{where}: array {name!r} holds NaN or inf (first at index {first}); the potential "
                             "would return NaN")


# ------------------------------------------------------------------------------------ configs
def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def _is_number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def _positive_number(name, value):
    if not _is_number(value) or not math.isfinite(value) or value <= 0:
        return "must be a finite number > 0"
    return None


def _int_at_least(minimum: int):
    def check(name, value):
        if not _is_int(value) or value < minimum:
            return f"must be an integer >= {minimum}"
        return None
    return check


def _optional(check):
    return lambda name, value: None if value is None else check(name, value)


def _widths(name, value):
    value = value.tolist() if isinstance(value, np.ndarray) else value
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or not value:
        return "must be a non-empty list of layer widths (integers >= 1)"
    if any(not _is_int(v) or v < 1 for v in value):
        return "must be a list of layer widths, each an integer >= 1"
    return None


def _boolean(name, value):
    return None if isinstance(value, (bool, np.bool_)) else "must be true or false"


def _float_dtype(name, value):
    text = value if isinstance(value, str) else getattr(value, "__name__", None) or getattr(value, "name", None)
    return None if text in ("float32", "float64") else "must be 'float32' or 'float64'"


def _species(name, value):
    if value is None:
        return None
    value = value.tolist() if isinstance(value, np.ndarray) else value
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or not all(_is_int(z) for z in value):
        return "must be a list of atomic numbers"
    try:
        check_species_list(value, name)
    except ValueError as err:
        return str(err)
    return None


_ge1, _ge0 = _int_at_least(1), _int_at_least(0)


def _chunk(name, value):
    return None if value is None or value == "auto" else (
        None if _ge1(name, value) is None else "must be null, 'auto' or an integer >= 1")

#: Checks of the model arguments hybridpot's model kinds share, by name: (name, value) → problem or None.
#: Arguments of user-registered kinds that are not listed here are left to their constructors.
MODEL_ARG_CHECKS = {
    "cutoff": _positive_number,
    "avg_num_neighbors": _positive_number,
    "species": _species,
    "hidden": _widths,
    "radial_hidden": _widths,
    "readout_hidden": _ge1,
    "n_basis": _int_at_least(2),
    "embedding_dim": _ge1,
    "three_body": _boolean,
    "dtype": _float_dtype,
    "param_dtype": _float_dtype,
    "triplet_chunk": _chunk,
    "edge_chunk": _chunk,
    "node_chunk": _chunk,
    "correlation": _ge1,
    "channels": _ge1,
    "lmax": _ge0,
    "sh_lmax": _optional(_ge0),
    "num_interactions": _ge1,
    "num_radial": _ge1,
    "envelope_p": _ge1,
    "emb_size": _ge1,
    "out_emb_size": _ge1,
    "int_emb_size": _ge1,
    "basis_emb_size": _ge1,
    "num_blocks": _ge1,
    "num_bilinear": _ge1,
    "num_spherical": _ge1,
    "num_before_skip": _ge0,
    "num_after_skip": _ge0,
}


def check_model_args(kind: str, args: dict) -> None:
    """Type- and range-check the constructor arguments of a model kind before it is built.

    Raises:
        ValueError: ``model.<name>=<value>: <what it must be>`` for every bad argument at once
            (e.g. ``model.hidden=[-4]``, ``model.cutoff='four'``, ``model.cutoff=inf``).
    """
    problems = []
    for name, value in args.items():
        check = MODEL_ARG_CHECKS.get(name)
        why = check(name, value) if check is not None else None
        if why is not None:
            problems.append(f"model.{name}={value!r}: {why}")
    if problems:
        raise ValueError(f"model kind {kind!r}: " + "; ".join(problems))


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that rejects a mapping with a repeated key (YAML would keep the last silently)."""

    def construct_mapping(self, node, deep=False):
        seen = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r} (first at line {seen[key] + 1}); the second would "
                                "silently replace the first", key_node.start_mark)
            seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep=deep)


def load_yaml(stream, path=None, loader: type = yaml.SafeLoader):
    """Parse YAML like ``yaml.load(stream, loader)``, rejecting repeated keys in any mapping.

    Args:
        stream: text or an open file.
        path: the file name, for the message.
        loader: a ``yaml.SafeLoader`` subclass with extra resolvers (e.g. YAML 1.2 floats).

    Raises:
        ValueError: invalid YAML or a duplicate key, naming the file, the key and its lines.
    """
    unique = type("UniqueKeys" + loader.__name__, (_UniqueKeyLoader, loader), {})
    try:
        return yaml.load(stream, Loader=unique)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as err:
        raise ValueError(f"{path or 'YAML'}: not a valid config: {err}") from None



def check_minimum_image(cell, pbc, reach: float, where: str = "box") -> None:
    """Raise ``ValueError`` when a periodic cell is narrower than twice ``reach`` (Å, the cutoff plus
    any skin) across a periodic direction: a minimum-image displacement (jax-md's ``space.periodic``)
    then misses pairs within the cutoff and the energy is silently wrong."""
    heights = _heights(cell, pbc)
    if heights and min(heights) < 2 * reach:
        raise ValueError(f"{where}: the periodic cell's heights {heights} Å must be at least twice the cutoff plus "
                         f"skin ({reach:g} Å) for minimum-image displacements; use a larger (super)cell")
