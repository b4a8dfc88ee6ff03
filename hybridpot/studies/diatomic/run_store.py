"""Finished training units of the diatomic study on disk, so an interrupted study resumes.

A *unit* is one compiled training program: a whole model (every state × fraction × seed) or,
with per-fraction batching, one model × state × fraction (every seed). Each finished unit is
written atomically to ``<out>/runs/`` under a name that carries a fingerprint of everything that
determines its result (model, protocol, training points, seeds, physics term); rerunning the study
with the same settings loads it instead of training it again. Changing any setting changes the
fingerprint, so a stale unit is never reused; it is simply left on disk.
"""

from __future__ import annotations

import hashlib
import types
from pathlib import Path
from typing import Any, Callable

import jax
import numpy as np

from hybridpot import __version__
from hybridpot._store import (
    checkpoint_exists,
    load_checkpoint,
    save_checkpoint,
    unflatten_like,
)

#: 3: the network normalisation carries the pure network's energy offset (4 entries, was 3).
_FORMAT = "hybridpot-diatomic-unit-3"


def _code_digest(code: types.CodeType) -> bytes:
    """Digest of byte code and constants, nested functions included (their reprs hold addresses)."""
    h = hashlib.sha256(code.co_code)
    for const in code.co_consts:
        h.update(_code_digest(const) if isinstance(const, types.CodeType) else repr(const).encode())
    return h.digest()


def _callable_key(fn: Callable) -> str:
    """Name and byte code of a function, so two different lambdas never share a key."""
    code = getattr(fn, "__code__", None)
    body = b"" if code is None else _code_digest(code)
    name = f"{getattr(fn, '__module__', '')}.{getattr(fn, '__qualname__', type(fn).__name__)}"
    return name + ":" + body.hex()[:16]


def unit_fingerprint(model: str, protocols: list, physics, r: np.ndarray, y: np.ndarray, w: np.ndarray, seeds: list[int]) -> str:
    """A 16-hex-digit digest of everything that determines one unit's trained parameters
    (and the hybridpot version), stable across processes.

    Args:
        model: the model name.
        protocols: the protocol of each state in the unit (frozen dataclasses; their repr is stable).
        physics: the :class:`~hybridpot.studies.diatomic.training.PhysicsTerm`.
        r, y, w: the unit's training distances (Å), energies (hartree) and point weights.
        seeds: the seed values (network initialisations).
    """
    h = hashlib.sha256(_FORMAT.encode())
    h.update(__version__.encode())  # the code that trains is part of what a unit depends on
    h.update(model.encode())
    for p in protocols:
        h.update(repr(p).encode())
    for fn in physics:
        h.update(_callable_key(fn).encode())
    for a in (r, y, w):
        a = np.ascontiguousarray(a)
        h.update(str(a.dtype).encode() + str(a.shape).encode() + a.tobytes())
    h.update(repr(list(seeds)).encode())
    return h.hexdigest()[:16]


class RunStore:
    """The finished units of one study, in ``folder`` (created on first write).

    ``load(name, fingerprint, template)`` returns the stored pytree or None; ``save`` writes one
    atomically. Units are trainer checkpoints (:func:`hybridpot.train.save_checkpoint`:
    ``.npz`` arrays + ``.json`` metadata); ``template`` is the unit's output structure (e.g. from
    ``jax.eval_shape``), used to rebuild the pytree and to check every stored shape and dtype.
    """

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)

    def path(self, name: str, fingerprint: str) -> Path:
        """The checkpoint path (without extension) of unit ``name`` with this fingerprint."""
        return self.folder / f"{name}-{fingerprint}"

    def load(self, name: str, fingerprint: str, template: Any) -> Any | None:
        """The stored unit, or None if it was never finished with these settings.

        Raises:
            ValueError: the file exists but cannot be read or does not match ``template``
                (it was not written by this study: delete it to train the unit again).
        """
        path = str(self.path(name, fingerprint))
        if not checkpoint_exists(path):
            return None
        like = jax.tree.map(lambda leaf: np.zeros(leaf.shape, leaf.dtype), template)
        try:
            arrays, metadata = load_checkpoint(path)
            if metadata != {"format": _FORMAT, "fingerprint": fingerprint}:
                raise ValueError(f"metadata {metadata} is not this unit's")
            return unflatten_like(like, arrays)
        except Exception as error:  # noqa: BLE001 - any unreadable file gets the same clear message
            raise ValueError(f"{path}.npz: corrupt or foreign training unit ({error}); delete it to train again") from error

    def save(self, name: str, fingerprint: str, value: Any) -> Path:
        """Write the unit's pytree of arrays atomically; returns its ``.npz`` file."""
        path = self.path(name, fingerprint)
        save_checkpoint(str(path), value, {"format": _FORMAT, "fingerprint": fingerprint})
        return path.with_name(path.name + ".npz")
