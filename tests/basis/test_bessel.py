"""Radial Bessel basis (DimeNet eq. 4) against a NumPy formula, its r -> 0 limit and gradients."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hybridpot.basis import polynomial_envelope, radial_bessel_basis

CUTOFF = 5.0


def numpy_rbf(r, cutoff, num):
    n = np.arange(1, num + 1)
    return np.sqrt(2.0 / cutoff) * np.sin(n * np.pi * r[..., None] / cutoff) / r[..., None]


def test_matches_numpy_formula():
    r = np.linspace(0.05, 7.0, 301)
    got = radial_bessel_basis(jnp.asarray(r), CUTOFF, 8)
    assert got.shape == (301, 8)
    np.testing.assert_allclose(got, numpy_rbf(r, CUTOFF, 8), rtol=1e-12, atol=1e-14)


def test_limit_at_zero_is_finite_and_correct():
    n = np.arange(1, 7)
    expected = np.sqrt(2.0 / CUTOFF) * n * np.pi / CUTOFF
    np.testing.assert_allclose(radial_bessel_basis(0.0, CUTOFF, 6), expected, rtol=1e-14)
    # continuity: tiny r agrees with the limit
    np.testing.assert_allclose(radial_bessel_basis(1e-9, CUTOFF, 6), expected, rtol=1e-12)


def test_gradient_finite_at_zero():
    jac = jax.jacfwd(lambda r: radial_bessel_basis(r, CUTOFF, 6))(0.0)
    np.testing.assert_allclose(jac, 0.0, atol=1e-14)  # even function of r
    hess = jax.jacfwd(jax.jacfwd(lambda r: radial_bessel_basis(r, CUTOFF, 6)))(0.0)
    assert np.all(np.isfinite(hess))
    # reverse mode through a padded edge inside a sum
    g = jax.grad(lambda r: (radial_bessel_basis(r, CUTOFF, 6) * polynomial_envelope(r, CUTOFF)[..., None]).sum())(
        jnp.array([0.0, 1.0, 6.0])
    )
    assert np.all(np.isfinite(g))


def test_gradient_matches_finite_difference():
    r, h = 1.7, 1e-6
    jac = jax.jacfwd(lambda x: radial_bessel_basis(x, CUTOFF, 5))(r)
    fd = (numpy_rbf(np.array(r + h), CUTOFF, 5) - numpy_rbf(np.array(r - h), CUTOFF, 5)) / (2 * h)
    np.testing.assert_allclose(jac, fd, rtol=1e-7, atol=1e-9)


def test_jit_equals_eager_and_vmap_equals_loop():
    r = jnp.linspace(0.0, 6.0, 17)
    f = lambda x: radial_bessel_basis(x, CUTOFF, 7)
    np.testing.assert_allclose(jax.jit(f)(r), f(r), rtol=1e-12, atol=1e-15)
    looped = jnp.stack([f(x) for x in r])
    np.testing.assert_allclose(jax.vmap(f)(r), looped, rtol=1e-12, atol=1e-15)


def test_shapes_broadcast():
    assert radial_bessel_basis(jnp.ones((2, 3)), CUTOFF, 4).shape == (2, 3, 4)
    assert radial_bessel_basis(1.0, CUTOFF, 4).shape == (4,)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(cutoff=-1.0, num_basis=4), "cutoff"),
        (dict(cutoff=0.0, num_basis=4), "cutoff"),
        (dict(cutoff=5.0, num_basis=0), "num_basis"),
        (dict(cutoff=5.0, num_basis=-2), "num_basis"),
        (dict(cutoff=5.0, num_basis=2.5), "num_basis"),
        (dict(cutoff=5.0, num_basis=True), "num_basis"),
    ],
)
def test_bad_input_raises(kwargs, message):
    with pytest.raises(ValueError, match=message):
        radial_bessel_basis(jnp.ones(3), **kwargs)
