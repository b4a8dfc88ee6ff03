"""Sums and maps over many items (triplets, edges, nodes) a chunk at a time, and chunk sizes from a memory budget.

A model term that is a sum over items (the angular terms of Behler–Parrinello triplets, the
triplet term of a DimeNet interaction, the messages of the MACE-like model's edges) can hold the
intermediates of all items at once, the fastest, or of one chunk at a time: :func:`chunked_sum`
scans over chunks and rematerialises each in the backward pass (``jax.checkpoint``), so forward
and backward hold one chunk's intermediates. The sum does not depend on the chunk size; memory
and speed do. :func:`map_chunks` does the same for a function applied to every item separately
(the MACE-like model's node updates, DimeNet's per-edge layers), and :func:`map_and_sum` for both
in one pass (DimeNet's message update and its output block's sum onto the atoms); the other two are
special cases of it. Chunks are slices of the inputs taken inside the rematerialised step, so no
padded copy of an input is made. :func:`auto_chunk` picks the size from the bytes one item holds
and a budget (``"auto"`` in the models: all at once whenever that fits, so training-size batches
keep the unchunked program).
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
    ``chunk`` items at a time (:func:`map_and_sum` without rows).

    Args:
        term: ``(*chunk_of_xs) -> array`` of a shape that does not depend on the number of items
            (e.g. a ``segment_sum`` onto nodes or edges); jittable and differentiable; it must add
            exactly 0 for zero items (pass a mask of ones among ``xs`` when zero inputs do not
            give that).
        xs: arrays of the same leading length (the items).
        chunk: items per chunk, or None (all at once: ``term(*xs)``).

    Returns:
        ``term(*xs)`` up to float rounding (the order of the additions changes).
    """
    return map_and_sum(lambda c: ((), term(*c)), tuple(jnp.asarray(x) for x in xs), chunk)[1]


def map_chunks(fn, xs, chunk: int | None):
    """``fn(xs)`` for a function that acts on every item (row) separately, ``chunk`` items at a time
    (:func:`map_and_sum` without a sum).

    ``xs``: a pytree (arrays, ``IrrepsArray``) of leaves ``[n, ...]``; ``fn`` maps such a tree to
    another one of leaves ``[n, ...]`` and must stay finite on zero rows. The result does not
    depend on ``chunk`` (None: ``fn(xs)``).
    """
    return map_and_sum(lambda c: (fn(c), ()), xs, chunk)[0]


def map_and_sum(fn, xs, chunk: int | None):
    """``fn(xs)`` for ``fn(xs) -> (rows, total)`` whose ``rows`` (leaves ``[n, ...]``) act on every
    item of ``xs`` separately and whose ``total`` is a sum over the items, ``chunk`` items at a time.

    With ``chunk`` None or ≥ n, ``fn(xs)`` itself. Otherwise one ``lax.scan`` over the chunks: each
    is sliced from ``xs`` inside a rematerialised step (``jax.checkpoint``), so forward and
    backward hold one chunk's intermediates besides the inputs and results, and no padded copy of
    anything. The last chunk ends at the last item, overlapping the one before it; its items that
    the earlier chunk covered are replaced by zeros (``fn`` must add exactly 0 to ``total`` and stay
    finite for zero items) and their rows are kept from the earlier chunk. Computing the rows and
    the sum in one pass means the rows need not be kept for the sum's backward pass.

    Args:
        fn: ``(chunk_of_xs) -> (rows, total)``; ``rows`` a pytree of ``[chunk, ...]`` leaves (may be
            empty), ``total`` a pytree of arrays whose shapes do not depend on the number of items.
        xs: pytree (arrays, ``IrrepsArray``) of ``[n, ...]`` leaves.
        chunk: items per chunk, or None.

    Returns:
        ``(rows [n, ...], total)``, equal to ``fn(xs)`` up to the order of the additions.
    """
    n = jax.tree.leaves(xs)[0].shape[0]
    if chunk is None or n <= chunk:
        return fn(xs)

    def one(i):
        start, fresh = _chunk_start(i, n, chunk)
        return fn(_where_rows(fresh, _slice(xs, start, chunk)))

    step = jax.checkpoint(one)
    rows, total = jax.eval_shape(one, 0)

    def body(carry, i):
        out, acc = carry
        start, fresh = _chunk_start(i, n, chunk)
        new_rows, part = step(i)
        out = jax.tree.map(lambda o, r: jax.lax.dynamic_update_slice_in_dim(
            o, _where_rows(fresh, r, _slice(o, start, chunk)), start, 0), out, new_rows)
        return (out, jax.tree.map(jnp.add, acc, part)), None

    zeros = (jax.tree.map(lambda y: jnp.zeros((n,) + y.shape[1:], y.dtype), rows),
             jax.tree.map(lambda y: jnp.zeros(y.shape, y.dtype), total))
    (out, total), _ = jax.lax.scan(body, zeros, jnp.arange(-(-n // chunk)))
    return out, total


def _chunk_start(i, n: int, chunk: int):
    """First item of chunk ``i`` of ``n`` items (the last chunk ends at item n), and which of its
    ``chunk`` items no earlier chunk covered."""
    start = jnp.minimum(i * chunk, n - chunk)
    return start, start + jnp.arange(chunk) >= i * chunk


def _slice(x, start, chunk: int):
    """``x[start:start + chunk]`` along axis 0 (``x`` an array or an ``IrrepsArray``)."""
    return jax.tree.map(lambda a: jax.lax.dynamic_slice_in_dim(a, start, chunk, 0), x)


def _where_rows(keep, x, other=None):
    """Rows of the pytree ``x`` (leaves ``[chunk, ...]``) where ``keep [chunk]``, else the rows of
    ``other`` (a pytree like ``x``), or zeros when ``other`` is None."""

    def pick(a, b):
        return jnp.where(keep.reshape((-1,) + (1,) * (a.ndim - 1)), a, b)

    if other is None:
        return jax.tree.map(lambda a: pick(a, 0), x)
    return jax.tree.map(pick, x, other)
