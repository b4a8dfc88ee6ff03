"""chunked_sum, map_chunks and map_and_sum: equal to the whole computation (values and gradients,
under jit), for every way the chunks can fall, and without a padded copy of their inputs."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hybridpot.models.chunking import chunked_sum, map_and_sum, map_chunks


def _segment_term(weights, x, segments):
    """A sum over items: Σ_i tanh(x_i · w) onto 7 segments."""
    return jax.ops.segment_sum(jnp.tanh(x @ weights), segments, num_segments=7)


@pytest.mark.parametrize("chunk", [None, 1, 9, 10, 13, 29, 30, 100])
def test_chunked_sum_equals_the_whole_sum_and_its_gradients(chunk):
    """30 items in chunks that divide them, do not (the last chunk overlaps), or exceed them."""
    rng = np.random.default_rng(0)
    x, weights = rng.normal(size=(30, 4)), rng.normal(size=(4, 3))
    segments = rng.integers(0, 7, 30)

    def loss(w, x, term_chunk):
        out = chunked_sum(lambda xc, sc: _segment_term(w, xc, sc), (x, segments), term_chunk)
        return jnp.sum(out * jnp.arange(21.0).reshape(7, 3)), out

    (_, want), want_grad = jax.value_and_grad(loss, argnums=(0, 1), has_aux=True)(weights, x, None)
    (_, got), got_grad = jax.jit(jax.value_and_grad(loss, argnums=(0, 1), has_aux=True),
                                 static_argnums=2)(weights, x, chunk)
    np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-13)
    for g, w in zip(got_grad, want_grad):
        np.testing.assert_allclose(g, w, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("chunk", [None, 1, 9, 10, 13, 29, 30, 100])
def test_map_chunks_equals_the_whole_map_and_its_gradients(chunk):
    """A row-wise function of a pytree (two outputs of different widths), values and gradients."""
    rng = np.random.default_rng(1)
    xs = {"a": rng.normal(size=(30, 4)), "b": rng.normal(size=(30,))}
    weights = rng.normal(size=(4, 5))

    def fn(w, tree):
        h = jnp.sin(tree["a"] @ w) * tree["b"][:, None]
        return h, jnp.sum(h**2, axis=1)

    def loss(w, tree, map_chunk):
        h, s = map_chunks(lambda t: fn(w, t), tree, map_chunk)
        return jnp.sum(h * jnp.arange(5.0)) + jnp.sum(s * jnp.arange(30.0)), (h, s)

    (_, want), want_grad = jax.value_and_grad(loss, argnums=(0, 1), has_aux=True)(weights, xs, None)
    (_, got), got_grad = jax.jit(jax.value_and_grad(loss, argnums=(0, 1), has_aux=True),
                                 static_argnums=2)(weights, xs, chunk)
    for g, w in zip(jax.tree.leaves((got, got_grad)), jax.tree.leaves((want, want_grad))):
        np.testing.assert_allclose(g, w, rtol=1e-13, atol=1e-13)


def test_chunks_are_sliced_not_copied():
    """The gradient of a chunked sum over 200,500 items × 16 (25.7 MB in float64; the last chunk overlaps) holds about one
    chunk beyond its input and the input's gradient: no padded, chunked copy of the input and no
    stacked per-chunk residuals (XLA's own buffer assignment, compiled and not run)."""
    n, width, chunk = 200_500, 16, 1000
    x = jax.ShapeDtypeStruct((n, width), jnp.float64)
    segments = jax.ShapeDtypeStruct((n,), jnp.int32)
    weights = jax.ShapeDtypeStruct((width, 3), jnp.float64)

    def loss(w, x, s):
        return jnp.sum(chunked_sum(lambda xc, sc: _segment_term(w, xc, sc), (x, s), chunk))

    memory = jax.jit(jax.grad(loss, argnums=(0, 1))).lower(weights, x, segments).compile().memory_analysis()
    input_bytes = n * width * 8
    assert memory.temp_size_in_bytes < 0.5 * input_bytes, memory.temp_size_in_bytes


@pytest.mark.parametrize("chunk", [None, 7, 10, 29])
def test_map_and_sum_gives_the_rows_and_the_sum_of_one_pass(chunk):
    """Rows and a sum over the items from one scan equal the whole computation, values and
    gradients; the repeated items of an overlapping last chunk add nothing and keep their rows."""
    rng = np.random.default_rng(2)
    x, weights = rng.normal(size=(30, 4)), rng.normal(size=(4, 3))
    segments = rng.integers(0, 7, 30)

    def loss(w, x, map_chunk):
        def fn(xs):
            xc, sc = xs
            rows = jnp.tanh(xc @ w)
            return rows, jax.ops.segment_sum(rows**2, sc, num_segments=7)

        rows, total = map_and_sum(fn, (x, segments), map_chunk)
        return jnp.sum(rows * jnp.arange(3.0)) + jnp.sum(total * jnp.arange(21.0).reshape(7, 3)), (rows, total)

    (_, want), want_grad = jax.value_and_grad(loss, argnums=(0, 1), has_aux=True)(weights, x, None)
    (_, got), got_grad = jax.jit(jax.value_and_grad(loss, argnums=(0, 1), has_aux=True),
                                 static_argnums=2)(weights, x, chunk)
    for g, w in zip(jax.tree.leaves((got, got_grad)), jax.tree.leaves((want, want_grad))):
        np.testing.assert_allclose(g, w, rtol=1e-13, atol=1e-13)
