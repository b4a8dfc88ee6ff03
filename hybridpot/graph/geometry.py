"""Edge vectors and distances with padding-safe gradients.

Every ``sqrt``/``arccos`` here uses the double-``where`` trick: the unsafe input is replaced before
the function is evaluated *and* the output is replaced after, so a zero-length (padded) edge gives
an exact 0 and a zero, finite gradient rather than NaN.
"""

from __future__ import annotations

import jax.numpy as jnp
import jraph


def edge_vectors(graph: jraph.GraphsTuple) -> jnp.ndarray:
    """``[n_edge, 3]`` Å: R[senders] − R[receivers] + shifts (R_j − R_i for edge j → i)."""
    positions = graph.nodes["positions"]
    return positions[graph.senders] - positions[graph.receivers] + graph.edges["shifts"]


def safe_norm(x: jnp.ndarray, axis: int = -1) -> jnp.ndarray:
    """Euclidean norm over ``axis``; 0 with zero gradient for an all-zero vector."""
    sq = jnp.sum(x * x, axis=axis)
    pos = sq > 0
    return jnp.where(pos, jnp.sqrt(jnp.where(pos, sq, 1.0)), 0.0)


def edge_distances(graph: jraph.GraphsTuple) -> jnp.ndarray:
    """``[n_edge]`` Å: |edge vector|; padded (zero-length) edges give 0 and a zero gradient."""
    return safe_norm(edge_vectors(graph))


def safe_arccos(x: jnp.ndarray, eps: float | None = None) -> jnp.ndarray:
    """arccos with finite gradient: its argument is clipped to [−1 + eps, 1 − eps].

    At and beyond ±(1 − eps) the value is arccos(±1) = 0 or π with zero gradient (NaN-free at ±1).
    ``eps`` defaults to 1e-6 for float32 and 1e-12 for float64 inputs.
    """
    x = jnp.asarray(x)
    if eps is None:
        eps = 1e-12 if x.dtype == jnp.float64 else 1e-6
    inside = jnp.abs(x) < 1.0 - eps
    xs = jnp.where(inside, x, 0.0)
    return jnp.where(inside, jnp.arccos(xs), jnp.where(x > 0, 0.0, jnp.pi))
