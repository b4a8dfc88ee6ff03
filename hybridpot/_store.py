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

Written files get the permissions of a file the user creates (``0o666`` less the umask), not the
``0o600`` of a temporary file; a kill leaves at most a ``.<name>.*.tmp`` file beside the target,
which :func:`remove_orphan_temporaries` deletes when the run starts again.
"""

from __future__ import annotations

import glob
import json
import os
import tempfile
import zipfile
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


class CheckpointError(ValueError):
    """A checkpoint file that exists but cannot be read: ``unreadable`` (truncated or corrupt: not a
    readable ``.npz``) or not a hybridpot checkpoint."""

    def __init__(self, message: str, unreadable: bool):
        super().__init__(message)
        self.unreadable = unreadable


_TMP_SUFFIX = ".tmp"


def _umask() -> int:
    """The process's umask (read without changing it where /proc tells it, else set and restored)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def temporary_file(path: str, suffix: str = _TMP_SUFFIX) -> tuple[int, str]:
    """``(fd, name)`` of a new temporary file ``.<name>.<random><suffix>`` beside ``path`` with the
    permissions a plain ``open(path, "w")`` would give (``0o666`` less the umask; ``mkstemp`` alone
    makes them ``0o600``)."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix="." + os.path.basename(path) + ".", suffix=suffix)
    try:
        os.fchmod(fd, 0o666 & ~_umask())
    except (AttributeError, OSError):  # no fchmod (Windows) or a file system without modes
        pass
    return fd, tmp


def remove_orphan_temporaries(folder: str) -> list[str]:
    """Delete the temporary files (``.<name>.*.tmp``) a killed :func:`atomic_write` left in ``folder``.

    Call it only where no other process is writing (a run folder when its run starts or resumes).

    Returns:
        The paths removed.
    """
    removed = []
    for tmp in glob.glob(os.path.join(glob.escape(folder), ".*" + _TMP_SUFFIX)):
        try:
            os.unlink(tmp)
            removed.append(tmp)
        except OSError:
            pass
    return removed


def atomic_write(path: str, write) -> None:
    """Call ``write(file)`` on a temporary file beside ``path``, fsync it, then ``os.replace`` it onto ``path``.

    The file gets the user's umask; an existing ``path`` is untouched until the new file is complete.
    """
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = temporary_file(path)
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
    :class:`CheckpointError` (a ``ValueError``) naming the file when it is truncated, corrupt or not
    a hybridpot checkpoint.
    """
    file = path + ".npz"
    if not os.path.exists(file):
        raise FileNotFoundError(f"checkpoint {file} does not exist")
    try:
        with np.load(file, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as err:
        raise CheckpointError(f"{file}: truncated or corrupt checkpoint ({type(err).__name__}: {err})", True) from None
    if _METADATA not in arrays:
        raise CheckpointError(f"{file} is not a hybridpot checkpoint (no {_METADATA})", False)
    try:
        metadata = json.loads(arrays.pop(_METADATA).tobytes().decode())
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CheckpointError(f"{file}: unreadable checkpoint metadata ({err})", False) from None
    return arrays, metadata


def keep_previous(path: str, previous: str) -> None:
    """Make ``<previous>.{npz,json}`` the current ``<path>.{npz,json}`` before ``path`` is overwritten.

    A hard link moved into place with ``os.replace``, so ``<path>.npz`` exists throughout; where the
    file system has no hard links, a rename (a kill before the next write then leaves only
    ``previous``, which is what a reader falls back to).
    """
    for ext in (".npz", ".json"):
        src, dst = path + ext, previous + ext
        if not os.path.exists(src):
            continue
        if os.path.exists(dst) and os.path.samefile(src, dst):
            # already kept (a kill came before the new write); renaming a link onto the same file
            # is a no-op that would leave the temporary link behind
            continue
        fd, tmp = temporary_file(dst)
        os.close(fd)
        os.unlink(tmp)
        try:
            os.link(src, tmp)
        except OSError:
            os.replace(src, dst)
            continue
        os.replace(tmp, dst)
    _fsync_dir(os.path.dirname(os.path.abspath(path)))


def checkpoint_exists(path: str) -> bool:
    """Whether ``<path>.npz`` exists."""
    return os.path.exists(path + ".npz")
