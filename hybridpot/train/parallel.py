"""Data-parallel and seed-parallel placement over local devices with ``jax.sharding``.

Arrays of a training step carry leading axes ``[n_seeds, n_shards, ...]`` (batches) or
``[n_seeds, ...]`` (parameters, optimiser state). A 1-D :class:`jax.sharding.Mesh` over the local
devices, axis ``"data"``, places them:

=========  ==========================================  =============================
mode       batch                                        state
=========  ==========================================  =============================
``none``   default device                               default device
``data``   ``P(None, "data")``: shards over devices     ``P()``: replicated
``seeds``  ``P("data")``: members over devices          ``P("data")``: members over devices
=========  ==========================================  =============================

``jax.jit`` follows the input placement (computation follows data); the loss of a step is a sum
over shards divided by global counts, so data parallelism changes only the summation order.

Several processes (hosts): call ``jax.distributed.initialize(coordinator_address, num_processes,
process_id)`` in every process before anything else; the mesh then spans every process's devices
(:func:`device_mesh`). Every process builds the same global batch from the same seeds and
``jax.device_put`` keeps the shards of its own devices; the compiled step all-reduces the loss
sums and gradients. tests/train/test_train_distributed.py checks 2 processes on localhost
against one. See docs/training.md.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

#: Name of the device axis of the mesh.
AXIS = "data"


def device_mesh() -> Mesh:
    """A 1-D mesh over every device of every process (after ``jax.distributed.initialize``),
    axis ``"data"``; the local devices when there is one process."""
    return Mesh(np.array(jax.devices()), (AXIS,))


class Shardings(NamedTuple):
    """Placements of one mode (all None for ``"none"``).

    Attributes:
        batch: training batches ``[n_seeds, n_shards, ...]``.
        state: parameters and optimiser state ``[n_seeds, ...]``.
        replicated: values every device needs whole (normalisation).
        eval_batch: evaluation batches ``[n_shards, ...]`` (shared by all members).
    """

    batch: NamedSharding | None
    state: NamedSharding | None
    replicated: NamedSharding | None
    eval_batch: NamedSharding | None


def shardings(mesh: Mesh | None, mode: str) -> Shardings:
    """The :class:`Shardings` of ``mode`` on ``mesh``."""
    if mode == "none" or mesh is None:
        return Shardings(None, None, None, None)
    replicated = NamedSharding(mesh, P())
    if mode == "data":
        return Shardings(NamedSharding(mesh, P(None, AXIS)), replicated, replicated, NamedSharding(mesh, P(AXIS)))
    if mode == "seeds":
        return Shardings(NamedSharding(mesh, P(AXIS)), NamedSharding(mesh, P(AXIS)), replicated, replicated)
    raise ValueError(f"unknown parallel mode {mode!r}; use 'none', 'data' or 'seeds'")


def place(tree, sharding):
    """``jax.device_put(tree, sharding)``; to the default device when ``sharding`` is None."""
    return jax.device_put(tree) if sharding is None else jax.device_put(tree, sharding)
