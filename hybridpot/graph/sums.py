r"""Per-graph sums of per-atom values that stay exact in float32 at any system size.

``jax.ops.segment_sum`` adds the atoms of a graph one after another into one float32 accumulator:
once the running total is large, every addition is rounded to the accumulator's ulp, so the
energy per atom of a perfect crystal drifts with its size (about 9 meV/atom at 256,000 Al atoms,
docs/scale.md). :func:`contiguous_segment_sum` instead keeps every partial sum as an unevaluated
pair ``hi + lo`` of floats ("double-float": Knuth's error-free TwoSum) and reduces with it:

1. the values, padded to ``[n_block, B]`` with B ≈ √n, are reduced per block;
2. the prefix sum P(p) = Σ_{k<p} v_k at every run boundary p is the double-float sum of the
   blocks before p plus the start of p's own block (masked reductions, O(n_run · (n/B + B)));
3. run g's sum is P(end_g) − P(start_g), rounded once to the input dtype.

The result is the exact sum rounded once (to ~eps² of the batch total). Without
``jax_enable_x64`` there are no float64 arrays to accumulate in, hence compensation rather than a
wider accumulator; ``lax.reduce`` with a double-float reducer is one XLA op per step, so this
compiles in well under a second at any n (a log-depth ``associative_scan`` took ~7 s to compile).
The derivative is that of a plain sum (a custom JVP: ``segment_sum`` of the tangents), so forces,
stress and Hessians cost what they did.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp


def _two_sum(a, b):
    """Error-free sum: ``s + err == a + b`` exactly, ``s = fl(a + b)`` (Knuth's TwoSum, no branch)."""
    s = a + b
    b_virtual = s - a
    err = (a - (s - b_virtual)) + (b - b_virtual)
    return s, err


def _double_float_add(x, y):
    """``x + y`` for double-float pairs ``(hi, lo)`` (elementwise), renormalised so |lo| ≤ ulp(hi)/2."""
    s, err = _two_sum(x[0], y[0])
    err = err + (x[1] + y[1])
    hi = s + err
    return hi, err - (hi - s)


def _double_float_reduce(hi, lo, axis: int):
    zero = jnp.zeros((), hi.dtype)
    return jax.lax.reduce((hi, lo), (zero, zero), _double_float_add, (axis,))


@jax.jit
def _plain_segment_sum(values, counts):
    ids = jnp.repeat(jnp.arange(counts.shape[0]), counts, total_repeat_length=values.shape[0])
    return jax.ops.segment_sum(values, ids, num_segments=counts.shape[0])


@jax.custom_jvp
@jax.jit  # one compilation per shape also when called eagerly (op by op, lax.reduce is slow to dispatch)
def contiguous_segment_sum(values: jax.Array, counts: jax.Array) -> jax.Array:
    """Sums of consecutive runs of ``values``: run g is the next ``counts[g]`` entries.

    The per-graph sum of per-node values in the jraph layout (the nodes of a graph are
    contiguous, ``counts = graph.n_node``), computed with double-float arithmetic (module
    docstring): exact to one rounding of each result, at any length, in float32 as in float64.
    Jittable, vmappable and differentiable (the derivative is that of a plain sum).

    Args:
        values: ``[n]`` floats (e.g. per-atom energies, eV).
        counts: ``[n_run]`` int, summing to n (empty runs give 0).

    Returns:
        ``[n_run]``, dtype of ``values``.
    """
    values = jnp.asarray(values)
    counts = jnp.asarray(counts)
    n = values.shape[0]
    if n == 0:
        return jnp.zeros(counts.shape, values.dtype)
    block = max(8, 1 << math.ceil(0.5 * math.log2(max(n, 1))))
    n_block = -(-n // block)
    blocks = jnp.pad(values, (0, n_block * block - n)).reshape(n_block, block)
    block_hi, block_lo = _double_float_reduce(blocks, jnp.zeros_like(blocks), 1)
    ends = jnp.cumsum(counts)
    bounds = jnp.concatenate([jnp.zeros(1, ends.dtype), ends])
    first_block, offset = bounds // block, bounds % block
    before = jnp.arange(n_block)[None, :] < first_block[:, None]
    full = _double_float_reduce(jnp.where(before, block_hi, 0), jnp.where(before, block_lo, 0), 1)
    rows = blocks[jnp.minimum(first_block, n_block - 1)]
    rows = jnp.where(jnp.arange(block)[None, :] < offset[:, None], rows, 0)
    prefix = _double_float_add(full, _double_float_reduce(rows, jnp.zeros_like(rows), 1))
    hi, lo = _double_float_add((prefix[0][1:], prefix[1][1:]), (-prefix[0][:-1], -prefix[1][:-1]))
    return hi + lo


@contiguous_segment_sum.defjvp
def _contiguous_segment_sum_jvp(primals, tangents):
    values, counts = primals
    return contiguous_segment_sum(values, counts), _plain_segment_sum(tangents[0], counts)
