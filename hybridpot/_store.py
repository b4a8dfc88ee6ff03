"""Checkpoints that survive: atomic writes, no pickle, metadata inside and beside.

A checkpoint ``<folder>/<name>`` is two files:

* ``<name>.npz``: every leaf of a pytree as a named array (names are the leaf's path, e.g.
  ``state/params/params/Dense_0/kernel``), plus ``__metadata__``: the JSON metadata as uint8
  bytes. Loaded with ``allow_pickle=False``. This file alone is authoritative.
* ``<name>.json``: the same metadata, for people and tools.

Each file is written to a temporary file in the same folder, flushed and ``fsync``-ed, then moved
over the old one with ``os.replace`` (atomic on POSIX and Windows), and the folder is ``fsync``-ed.
A process killed at any moment (SIGKILL included) leaves either the old or the new ``.npz``,
never a torn one. If it dies between the two renames, the ``.json`` may describe the previous
checkpoint; :func:`load_checkpoint` reads the metadata embedded in the ``.npz``.
"""

from __future__ import annotations

import json
import os
import tempfile
from typing import Any

import jax
import numpy as np

_METADATA = "__metadata__"


def key_name(entry) -> str:
    """The name of one pytree path entry (dict key, attribute or index) as it appears in array names."""
    for attr in ("key", "name", "idx"):
        if hasattr(entry, attr):
            return str(getattr(entry, attr))
    return str(entry)


def flatten_with_names(tree: Any) -> dict[str, np.ndarray]:
    """Leaves of ``tree`` as numpy arrays keyed by their path (``"a/b/0"``). PRNG key arrays become key data."""
    out = {}
    for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
        name = "/".join(key_name(p) for p in path)
        if isinstance(leaf, jax.Array) and jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key):
            leaf = jax.random.key_data(leaf)
        if name in out:
            raise ValueError(f"two leaves share the checkpoint name {name!r}")
        out[name] = np.asarray(jax.device_get(leaf))
    return out


def unflatten_like(template: Any, arrays: dict[str, np.ndarray], prefix: str = "") -> Any:
    """Rebuild a pytree shaped like ``template`` from ``arrays`` (names as in :func:`flatten_with_names`).

    ``prefix`` selects the arrays saved under a sub-tree (``"state/"``). Raises ``ValueError``
    naming missing arrays or shape/dtype mismatches.
    """
    named, treedef = jax.tree_util.tree_flatten_with_path(template)
    leaves = []
    for path, leaf in named:
        name = prefix + "/".join(key_name(p) for p in path)
        if name not in arrays:
            raise ValueError(f"checkpoint has no array {name!r}")
        a = arrays[name]
        want = np.shape(leaf)
        if a.shape != want or a.dtype != np.asarray(leaf).dtype:
            raise ValueError(
                f"checkpoint array {name!r} has shape {a.shape} dtype {a.dtype}, "
                f"expected {want} {np.asarray(leaf).dtype}"
            )
        leaves.append(a)
    return jax.tree_util.tree_unflatten(treedef, leaves)


def _fsync_dir(folder: str) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(path: str, write) -> None:
    """Call ``write(file)`` on a temporary file beside ``path``, fsync it, then ``os.replace`` it onto ``path``."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix="." + os.path.basename(path) + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_dir(folder)


def _json_default(x):
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    raise TypeError(f"cannot write {type(x).__name__} to checkpoint metadata")


def save_checkpoint(path: str, tree: Any, metadata: dict) -> None:
    """Atomically write ``<path>.npz`` (leaves of ``tree`` + metadata) and ``<path>.json`` (metadata).

    Args:
        path: checkpoint path without extension, e.g. ``run/checkpoints/last``.
        tree: pytree of arrays (params, optimiser state, ...).
        metadata: JSON-serialisable dict (config, versions, step, RNG state, ...).
    """
    arrays = flatten_with_names(tree)
    if _METADATA in arrays:
        raise ValueError(f"{_METADATA!r} is reserved")
    text = json.dumps(metadata, indent=1, default=_json_default, allow_nan=True)
    arrays[_METADATA] = np.frombuffer(text.encode(), dtype=np.uint8)
    atomic_write(path + ".npz", lambda f: np.savez(f, **arrays))
    atomic_write(path + ".json", lambda f: f.write(text.encode()))


def load_checkpoint(path: str) -> tuple[dict[str, np.ndarray], dict]:
    """Read ``<path>.npz`` without pickle: ``(arrays by name, metadata)``.

    Use :func:`unflatten_like` to rebuild pytrees. Raises ``FileNotFoundError`` when absent and
    ``ValueError`` when the file is not a hybridpot checkpoint.
    """
    with np.load(path + ".npz", allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    if _METADATA not in arrays:
        raise ValueError(f"{path}.npz is not a hybridpot checkpoint (no {_METADATA})")
    metadata = json.loads(arrays.pop(_METADATA).tobytes().decode())
    return arrays, metadata


def checkpoint_exists(path: str) -> bool:
    """Whether ``<path>.npz`` exists."""
    return os.path.exists(path + ".npz")
