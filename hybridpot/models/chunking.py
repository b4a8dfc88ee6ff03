"""Sums and maps over many items (triplets, edges, nodes) a chunk at a time, and chunk sizes from a memory budget.

A model term that is a sum over items (the angular terms of Behler–Parrinello triplets, the
triplet term of a DimeNet interaction, the messages of the MACE-like model's edges) can hold the
intermediates of all items at once, the fastest, or of one chunk at a time: :func:`chunked_sum`
scans over chunks and rematerialises each in the backward pass (``jax.checkpoint``), so forward
and backward hold one chunk's intermediates. The sum does not depend on the chunk size; memory
and speed do. :func:`map_chunks` does the same for a function applied to every item separately
(the MACE-like model's node updates). :func:`auto_chunk` picks the size from the bytes one item holds and a budget
(``"auto"`` in the models: all at once whenever that fits, so training-size batches keep the
unchunked program).
"""

from __future__ import annotations

from typing import Callable, Sequence

import jax
import jax.numpy as jnp

#: Bytes the per-item intermediates of one chunked term may hold at once (forward and backward)
#: when a model picks its chunk with :func:`auto_chunk` (``"auto"``).
MEMORY_BUDGET = 1 << 30

#: Smallest chunk :func:`auto_chunk` picks (a scan over tiny chunks is slow; only absurd budgets reach it).
MIN_CHUNK = 64


def auto_chunk(n_items: int, bytes_per_item: int, budget: int | None = None) -> int | None:
    """Items per chunk that keep ``n_items`` items of ``bytes_per_item`` bytes within ``budget`` bytes.

    None (all at once, the fastest) when they fit; else the largest chunk that fits, at least
    :data:`MIN_CHUNK`. ``budget`` defaults to :data:`MEMORY_BUDGET`.
    """
    budget = MEMORY_BUDGET if budget is None else budget
    if int(n_items) * int(bytes_per_item) <= budget:
        return None
    return max(MIN_CHUNK, int(budget) // int(bytes_per_item))


def chunked_sum(term: Callable[..., jax.Array], xs: Sequence[jax.Array], chunk: int | None) -> jax.Array:
    """``term(*xs)`` for a term that is a sum over the items along axis 0 of every ``xs``, computed
    ``chunk`` items at a time.

    With ``chunk`` None or ≥ the number of items, ``term(*xs)`` itself. Otherwise ``term`` of each
    chunk is added up under ``lax.scan``, each chunk sliced from ``xs`` and rematerialised in the
    backward pass. The last chunk ends at the last item and so overlaps the one before it; its
    items that the earlier chunk already covered are replaced by zeros (``term`` must add exactly 0
    for zero items: pass a mask of ones among ``xs`` when zero inputs do not give that).

    Args:
        term: ``(*chunk_of_xs) -> array`` of a shape that does not depend on the number of items
            (e.g. a ``segment_sum`` onto nodes or edges); jittable and differentiable.
        xs: arrays of the same leading length (the items).
        chunk: items per chunk, or None.

    Returns:
        ``term(*xs)`` up to float rounding (the order of the additions changes).
    """
    xs = tuple(jnp.asarray(x) for x in xs)
    n = xs[0].shape[0]
    if chunk is None or n <= chunk:
        return term(*xs)

    def one(i):
        start, fresh = _chunk_start(i, n, chunk)
        return term(*(jnp.where(fresh.reshape((chunk,) + (1,) * (x.ndim - 1)), _slice(x, start, chunk), 0)
                      for x in xs))

    # the slices are taken inside the rematerialised step, so the backward pass keeps xs (loop
    # invariant) and the chunk index instead of a padded, chunked copy of every input
    step = jax.checkpoint(one)
    out = jax.eval_shape(one, 0)
    total, _ = jax.lax.scan(lambda acc, i: (acc + step(i), None), jnp.zeros(out.shape, out.dtype),
                            jnp.arange(-(-n // chunk)))
    return total


def map_chunks(fn, xs, chunk: int | None):
    """``fn(xs)`` for a function that acts on every item (row) separately, ``chunk`` items at a time.

    ``xs``: a pytree (arrays, ``IrrepsArray``) of leaves ``[n, ...]``; ``fn`` maps such a tree to
    another one of leaves ``[n, ...]``. With ``chunk`` None or ≥ n, ``fn(xs)``. Otherwise ``fn``
    runs on one slice of ``chunk`` items at a time under ``lax.scan``, each rematerialised in the
    backward pass (``jax.checkpoint``), and its rows are written into the result; the last slice
    ends at the last item, overlapping the one before it (those rows are computed twice, equal).
    Forward and backward hold one chunk's intermediates, the inputs and the result, no padded
    copies. The result does not depend on ``chunk``.
    """
    n = jax.tree.leaves(xs)[0].shape[0]
    if chunk is None or n <= chunk:
        return fn(xs)

    def one(i):
        return fn(jax.tree.map(lambda x: _slice(x, _chunk_start(i, n, chunk)[0], chunk), xs))

    step = jax.checkpoint(one)
    rows = jax.eval_shape(one, 0)

    def body(out, i):
        start = _chunk_start(i, n, chunk)[0]
        return jax.tree.map(lambda o, y: jax.lax.dynamic_update_slice_in_dim(o, y, start, 0), out, step(i)), None

    out = jax.tree.map(lambda y: jnp.zeros((n,) + y.shape[1:], y.dtype), rows)
    out, _ = jax.lax.scan(body, out, jnp.arange(-(-n // chunk)))
    return out


def _chunk_start(i, n: int, chunk: int):
    """First item of chunk ``i`` of ``n`` items (the last chunk ends at item n), and which of its
    ``chunk`` items no earlier chunk covered."""
    start = jnp.minimum(i * chunk, n - chunk)
    return start, start + jnp.arange(chunk) >= i * chunk


def _slice(x, start, chunk: int):
    """``x[start:start + chunk]`` along axis 0 (``x`` an array or an ``IrrepsArray``)."""
    return jax.tree.map(lambda a: jax.lax.dynamic_slice_in_dim(a, start, chunk, 0), x)
