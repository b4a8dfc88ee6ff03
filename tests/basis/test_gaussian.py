"""Gaussian radial basis against a NumPy formula; centres helper."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hybridpot.basis import gaussian_basis, gaussian_centers


def test_centers_evenly_spaced():
    c = gaussian_centers(0.0, 5.0, 51)
    assert c.shape == (51,)
    np.testing.assert_allclose(np.diff(c), 0.1, rtol=1e-12)
    assert c[0] == 0.0 and c[-1] == 5.0
    np.testing.assert_array_equal(gaussian_centers(1.0, 1.0, 1), [1.0])


def test_matches_numpy_formula_and_schnet_form():
    r = np.linspace(0.0, 6.0, 97)
    mu = gaussian_centers(0.0, 5.0, 20)
    w = 0.3
    got = gaussian_basis(jnp.asarray(r), mu, w)
    assert got.shape == (97, 20)
    expected = np.exp(-((r[:, None] - mu[None, :]) ** 2) / (2 * w**2))
    np.testing.assert_allclose(got, expected, rtol=1e-13, atol=1e-300)
    gamma = 1.0 / (2 * w**2)  # SchNet exp(-gamma (r - mu)^2)
    np.testing.assert_allclose(got, np.exp(-gamma * (r[:, None] - mu) ** 2), rtol=1e-13)
    np.testing.assert_allclose(gaussian_basis(mu, mu, w).diagonal(), 1.0)


def test_per_centre_widths():
    mu = np.array([1.0, 2.0, 3.0])
    w = np.array([0.1, 0.5, 1.0])
    got = gaussian_basis(2.2, mu, w)
    np.testing.assert_allclose(got, np.exp(-((2.2 - mu) ** 2) / (2 * w**2)), rtol=1e-13)


def test_gradient_and_jit_vmap():
    mu = gaussian_centers(0.0, 4.0, 9)
    f = lambda r: gaussian_basis(r, mu, 0.5)
    jac = jax.jacfwd(f)(1.3)
    np.testing.assert_allclose(jac, -(1.3 - mu) / 0.25 * np.exp(-((1.3 - mu) ** 2) / 0.5), rtol=1e-12)
    r = jnp.linspace(0.0, 5.0, 13)
    np.testing.assert_allclose(jax.jit(f)(r), f(r), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(jax.vmap(f)(r), jnp.stack([f(x) for x in r]), rtol=1e-12, atol=1e-15)
    # width traced under jit (e.g. a learnable width) is allowed
    np.testing.assert_allclose(jax.jit(lambda w: gaussian_basis(r, mu, w))(0.5), f(r), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: gaussian_basis(1.0, [0.0, 1.0], -0.1), "width"),
        (lambda: gaussian_basis(1.0, [0.0, 1.0], 0.0), "width"),
        (lambda: gaussian_basis(1.0, [[0.0, 1.0]], 0.5), "centers"),
        (lambda: gaussian_basis(1.0, [0.0, np.nan], 0.5), "centers"),
        (lambda: gaussian_basis(1.0, [0.0, 1.0], [0.5, 0.5, 0.5]), "width"),
        (lambda: gaussian_centers(0.0, 5.0, 0), "num"),
        (lambda: gaussian_centers(0.0, 5.0, 3.5), "num"),
        (lambda: gaussian_centers(-1.0, 5.0, 3), "r_min"),
        (lambda: gaussian_centers(5.0, 1.0, 3), "r_max"),
    ],
)
def test_bad_input_raises(call, message):
    with pytest.raises(ValueError, match=message):
        call()
