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

    With ``chunk`` None or ≥ the number of items, ``term(*xs)`` itself. Otherwise the items are
    padded with zeros to a multiple of ``chunk`` and ``term`` of each chunk is added up under
    ``lax.scan``, each chunk rematerialised in the backward pass. ``term`` must add exactly 0 for
    the zero-padded items (pass a mask of ones among ``xs`` when zero inputs do not give that).

    Args:
        term: ``(*chunk_of_xs) -> array`` of a shape that does not depend on the number of items
            (e.g. a ``segment_sum`` onto nodes or edges); jittable and differentiable.
        xs: arrays of the same leading length (the items).
        chunk: items per chunk, or None.

    Returns:
        ``term(*xs)`` up to float rounding (the order of the additions changes).
    """
    n = xs[0].shape[0]
    if chunk is None or n <= chunk:
        return term(*xs)
    chunks = tuple(_split(jnp.asarray(x), chunk) for x in xs)
    out = jax.eval_shape(term, *(c[0] for c in chunks))
    step = jax.checkpoint(term)
    total, _ = jax.lax.scan(lambda acc, c: (acc + step(*c), None), jnp.zeros(out.shape, out.dtype), chunks)
    return total


def map_chunks(fn, xs, chunk: int | None):
    """``fn(xs)`` for a function that acts on every item (row) separately, ``chunk`` items at a time.

    ``xs``: a pytree (arrays, ``IrrepsArray``) of leaves ``[n, ...]``; ``fn`` maps such a tree to
    another one of leaves ``[n, ...]``. With ``chunk`` None or ≥ n, ``fn(xs)``. Otherwise the
    items are padded with zeros to a multiple of ``chunk`` (``fn`` must stay finite on zero rows;
    their results are dropped) and ``fn`` runs on one chunk at a time under ``lax.map``, each chunk
    rematerialised in the backward pass (``jax.checkpoint``), so forward and backward hold one
    chunk's intermediates. The result does not depend on ``chunk``.
    """
    n = jax.tree.leaves(xs)[0].shape[0]
    if chunk is None or n <= chunk:
        return fn(xs)
    out = jax.lax.map(jax.checkpoint(fn), jax.tree.map(lambda x: _split(x, chunk), xs))
    return jax.tree.map(lambda y: y.reshape((-1,) + y.shape[2:])[:n], out)


def _split(x, chunk: int):
    """``[n, ...]`` → ``[ceil(n / chunk), chunk, ...]``, the last chunk padded with zeros."""
    n_chunks = -(-x.shape[0] // chunk)
    x = jnp.pad(x, [(0, n_chunks * chunk - x.shape[0])] + [(0, 0)] * (x.ndim - 1))
    return x.reshape((n_chunks, chunk) + x.shape[1:])
