"""Envelopes: polynomial u_p (DimeNet eq. 6) and the Behler cosine cutoff."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hybridpot.basis import cosine_cutoff, polynomial_envelope

CUTOFF = 4.0


def numpy_envelope(r, cutoff, p):
    x = r / cutoff
    u = 1 - (p + 1) * (p + 2) / 2 * x**p + p * (p + 2) * x ** (p + 1) - p * (p + 1) / 2 * x ** (p + 2)
    return np.where(x < 1, u, 0.0)


@pytest.mark.parametrize("p", [1, 3, 5, 6, 9])
def test_polynomial_envelope_formula(p):
    r = np.linspace(0.0, 5.0, 251)
    np.testing.assert_allclose(polynomial_envelope(jnp.asarray(r), CUTOFF, p), numpy_envelope(r, CUTOFF, p), atol=1e-14)


@pytest.mark.parametrize("p", [3, 6])
def test_polynomial_envelope_boundary_values(p):
    f = lambda r: polynomial_envelope(r, CUTOFF, p)
    assert f(0.0) == 1.0
    assert f(CUTOFF) == 0.0 and f(CUTOFF + 1.0) == 0.0
    d1, d2 = jax.grad(f), jax.grad(jax.grad(f))
    np.testing.assert_allclose(d1(0.0), 0.0, atol=1e-14)
    # approaching r_c from below: u = O(h^3), u' = O(h^2), u'' = O(h)
    for h in (1e-3, 1e-4):
        r = CUTOFF * (1 - h)
        assert abs(f(r)) < 50 * p**3 * h**3
        assert abs(d1(r)) < 50 * p**3 * h**2
        assert abs(d2(r)) < 50 * p**3 * h
    for r in (CUTOFF, CUTOFF + 0.5):
        assert d1(r) == 0.0 and d2(r) == 0.0


def test_polynomial_envelope_second_derivative_continuous_at_cutoff():
    # central finite difference of u' across r_c, in float64
    f = jax.grad(lambda r: polynomial_envelope(r, CUTOFF, 6))
    h = 1e-5
    assert abs(f(CUTOFF + h) - f(CUTOFF - h)) / (2 * h) < 1e-3


def test_cosine_cutoff_formula_and_boundary():
    r = np.linspace(0.0, 5.0, 201)
    expected = np.where(r < CUTOFF, 0.5 * (np.cos(np.pi * r / CUTOFF) + 1), 0.0)
    np.testing.assert_allclose(cosine_cutoff(jnp.asarray(r), CUTOFF), expected, atol=1e-15)
    assert cosine_cutoff(0.0, CUTOFF) == 1.0
    assert cosine_cutoff(CUTOFF, CUTOFF) == 0.0
    d1 = jax.grad(lambda r: cosine_cutoff(r, CUTOFF))
    assert d1(CUTOFF) == 0.0
    assert abs(d1(CUTOFF * (1 - 1e-6))) < 1e-5  # f_c' -> 0 from below
    np.testing.assert_allclose(d1(1.0), -0.5 * np.pi / CUTOFF * np.sin(np.pi / CUTOFF), rtol=1e-12)


def test_jit_and_vmap():
    r = jnp.linspace(0.0, 5.0, 11)
    for f in (lambda x: polynomial_envelope(x, CUTOFF, 6), lambda x: cosine_cutoff(x, CUTOFF)):
        np.testing.assert_allclose(jax.jit(f)(r), f(r), rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(jax.vmap(f)(r), jnp.stack([f(x) for x in r]), rtol=1e-12, atol=1e-15)


def test_bad_input_raises():
    with pytest.raises(ValueError, match="cutoff"):
        polynomial_envelope(1.0, -2.0)
    with pytest.raises(ValueError, match="cutoff"):
        cosine_cutoff(1.0, 0.0)
    with pytest.raises(ValueError, match="order p"):
        polynomial_envelope(1.0, 5.0, p=0)
    with pytest.raises(ValueError, match="order p"):
        polynomial_envelope(1.0, 5.0, p=2.5)
