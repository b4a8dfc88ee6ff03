"""Spherical Bessel functions, roots and DimeNet's SBF against scipy / mpmath references."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.integrate import quad
from scipy.special import eval_legendre, spherical_jn

from hybridpot.basis import (
    combine_spherical_basis,
    spherical_bessel_basis,
    spherical_bessel_jn,
    spherical_bessel_radial,
    spherical_bessel_roots,
    zonal_spherical_harmonics,
)

CUTOFF = 5.0
X_GRID = np.concatenate([[0.0], np.geomspace(1e-8, 1.0, 400), np.linspace(1e-3, 50.0, 20001)])


@pytest.mark.parametrize("l", range(11))
def test_jn_matches_scipy(l):
    got = np.asarray(spherical_bessel_jn(l, jnp.asarray(X_GRID)))
    ref = spherical_jn(l, X_GRID)
    # 1e-12 relative; the absolute floor only matters next to the zeros of j_l
    np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("l", [0, 1, 4, 10, 15])
def test_jn_tiny_x_against_mpmath(l):
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 40
    for x in [1e-30, 1e-12, 1e-4, 0.3, float(l) + 0.999, float(l) + 1.0, float(l) + 1.001, 37.7]:
        ref = float(mpmath.sqrt(mpmath.pi / (2 * x)) * mpmath.besselj(l + 0.5, x))
        got = float(spherical_bessel_jn(l, x))
        assert got == pytest.approx(ref, rel=1e-12, abs=1e-300), (l, x)


@pytest.mark.parametrize("l", range(6))
def test_jn_at_zero_and_gradient(l):
    assert float(spherical_bessel_jn(l, 0.0)) == (1.0 if l == 0 else 0.0)
    d1 = jax.grad(lambda x: spherical_bessel_jn(l, x))(0.0)
    d2 = jax.grad(jax.grad(lambda x: spherical_bessel_jn(l, x)))(0.0)
    # j_l(x) = x^l/(2l+1)!! (1 - x^2/(2(2l+3)) + ...)
    assert float(d1) == pytest.approx(1.0 / 3.0 if l == 1 else 0.0, abs=1e-15)
    expected_d2 = {0: -1.0 / 3.0, 2: 2.0 / 15.0}.get(l, 0.0)
    assert float(d2) == pytest.approx(expected_d2, abs=1e-14)


def test_jn_gradient_matches_scipy_derivative():
    x = np.linspace(0.0, 30.0, 301)
    for l in (0, 3, 7):
        g = jax.vmap(jax.grad(lambda t: spherical_bessel_jn(l, t)))(jnp.asarray(x))
        np.testing.assert_allclose(g, spherical_jn(l, x, derivative=True), rtol=1e-10, atol=1e-14)


def test_roots_known_values_and_properties():
    z = spherical_bessel_roots(7, 6)
    assert z.shape == (7, 6)
    np.testing.assert_allclose(z[0], np.pi * np.arange(1, 7), rtol=1e-14)
    np.testing.assert_allclose(z[1, :3], [4.493409457909064, 7.725251836937707, 10.904121659428899], rtol=1e-13)
    np.testing.assert_allclose(z[2, 0], 5.763459196894550, rtol=1e-13)
    for l in range(7):
        assert np.all(np.abs(spherical_jn(l, z[l])) < 1e-14)
        assert np.all(np.diff(z[l]) > 0)
        # j_l changes sign at each root
        assert np.all(spherical_jn(l, z[l] - 1e-6) * spherical_jn(l, z[l] + 1e-6) < 0)
    # interlacing z_{l-1,n} < z_{l,n} < z_{l-1,n+1}
    assert np.all(z[:-1, :] < z[1:, :])
    assert np.all(z[1:, :-1] < z[:-1, 1:])
    # no root skipped: the first root of j_l is the first positive sign change on a fine grid
    x = np.linspace(0.5, z[6, 0] + 1e-9, 200001)
    for l in range(7):
        s = np.sign(spherical_jn(l, x))
        first = x[np.argmax(s[1:] != s[:-1])]
        assert abs(first - z[l, 0]) < 1e-3


def _radial_numpy(r, l, n, cutoff):
    z = spherical_bessel_roots(l + 1, n + 1)[l, n]
    norm = np.sqrt(2.0 / (cutoff**3 * spherical_jn(l + 1, z) ** 2))
    return norm * spherical_jn(l, z * r / cutoff)


def test_radial_part_matches_scipy_and_is_orthonormal():
    L, N = 4, 5
    r = np.linspace(0.0, CUTOFF, 53)
    got = np.asarray(spherical_bessel_radial(jnp.asarray(r), CUTOFF, L, N))
    assert got.shape == (53, L, N)
    for l in range(L):
        for n in range(N):
            np.testing.assert_allclose(got[:, l, n], _radial_numpy(r, l, n, CUTOFF), rtol=1e-12, atol=1e-14)
    for l in range(L):
        for n in range(N):
            for m in range(n, N):
                val, _ = quad(lambda t: _radial_numpy(t, l, n, CUTOFF) * _radial_numpy(t, l, m, CUTOFF) * t * t,
                              0.0, CUTOFF, limit=200, epsabs=1e-12)
                assert val == pytest.approx(1.0 if m == n else 0.0, abs=1e-9), (l, n, m)


def test_zonal_harmonics_match_legendre():
    a = np.concatenate([[0.0, np.pi], np.linspace(0.0, np.pi, 101)])
    L = 8
    got = np.asarray(zonal_spherical_harmonics(jnp.asarray(a), L))
    ref = np.stack([np.sqrt((2 * l + 1) / (4 * np.pi)) * eval_legendre(l, np.cos(a)) for l in range(L)], -1)
    np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-13)


def test_zonal_harmonics_gradient_finite_at_poles():
    L = 6
    jac = jax.jacfwd(lambda t: zonal_spherical_harmonics(t, L))
    for a in (0.0, np.pi):
        g = np.asarray(jac(a))
        assert np.all(np.isfinite(g))
        np.testing.assert_allclose(g, 0.0, atol=1e-12)  # dY/dα = -sin α · ... = 0 at the poles
    a = 1.1
    ref = np.stack([np.sqrt((2 * l + 1) / (4 * np.pi)) * -np.sin(a) * _dlegendre(l, np.cos(a)) for l in range(L)])
    np.testing.assert_allclose(jac(a), ref, rtol=1e-10, atol=1e-13)


def _dlegendre(l, x):
    if l == 0:
        return 0.0
    return l * (x * eval_legendre(l, x) - eval_legendre(l - 1, x)) / (x * x - 1)


def test_full_basis_ordering_and_values():
    L, N = 3, 4
    r = np.array([0.0, 1.2, 3.3, 4.9])
    a = np.array([0.0, 0.7, 2.0, np.pi])
    got = np.asarray(spherical_bessel_basis(jnp.asarray(r), jnp.asarray(a), CUTOFF, L, N))
    assert got.shape == (4, L * N)
    for l in range(L):
        y = np.sqrt((2 * l + 1) / (4 * np.pi)) * eval_legendre(l, np.cos(a))
        for n in range(N):
            np.testing.assert_allclose(got[:, l * N + n], _radial_numpy(r, l, n, CUTOFF) * y, rtol=1e-12, atol=1e-14)
    # the pieces compose to the same thing (per-edge radial gathered onto triplets)
    pieces = combine_spherical_basis(spherical_bessel_radial(r, CUTOFF, L, N), zonal_spherical_harmonics(a, L))
    np.testing.assert_allclose(pieces, got, rtol=1e-14)
    # broadcasting: one distance, many angles
    assert spherical_bessel_basis(1.0, jnp.ones((5,)), CUTOFF, L, N).shape == (5, L * N)


def test_basis_gradients_finite_at_padding():
    f = lambda r, a: spherical_bessel_basis(r, a, CUTOFF, 4, 3).sum()
    for r, a in [(0.0, 0.0), (0.0, np.pi), (2.0, 0.0), (2.0, np.pi)]:
        gr, ga = jax.grad(f, argnums=(0, 1))(r, a)
        assert np.isfinite(gr) and np.isfinite(ga)


def test_jit_and_vmap():
    r = jnp.linspace(0.0, 5.0, 9)
    a = jnp.linspace(0.0, np.pi, 9)
    fns = [
        lambda x, t: spherical_bessel_jn(7, 10 * x),
        lambda x, t: spherical_bessel_radial(x, CUTOFF, 3, 4),
        lambda x, t: zonal_spherical_harmonics(t, 5),
        lambda x, t: spherical_bessel_basis(x, t, CUTOFF, 3, 4),
    ]
    for f in fns:
        eager = f(r, a)
        np.testing.assert_allclose(jax.jit(f)(r, a), eager, rtol=1e-12, atol=1e-15)
        looped = jnp.stack([f(x, t) for x, t in zip(r, a)])
        np.testing.assert_allclose(jax.vmap(f)(r, a), looped, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: spherical_bessel_jn(-1, 1.0), "l must be"),
        (lambda: spherical_bessel_jn(1.5, 1.0), "l must be"),
        (lambda: spherical_bessel_roots(0, 3), "num_spherical"),
        (lambda: spherical_bessel_roots(3, 0), "num_radial"),
        (lambda: spherical_bessel_roots(3, 2.0), "num_radial"),
        (lambda: spherical_bessel_radial(1.0, -5.0, 3, 3), "cutoff"),
        (lambda: spherical_bessel_basis(1.0, 0.5, 0.0, 3, 3), "cutoff"),
        (lambda: spherical_bessel_basis(1.0, 0.5, 5.0, -3, 3), "num_spherical"),
        (lambda: zonal_spherical_harmonics(0.5, 0), "num_spherical"),
        (lambda: combine_spherical_basis(jnp.ones((2, 3, 4)), jnp.ones((2, 2))), "same L"),
    ],
)
def test_bad_input_raises(call, message):
    with pytest.raises(ValueError, match=message):
        call()
