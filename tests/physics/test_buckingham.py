"""Buckingham kernel: formula above r_max, finite repulsive guard below, r_max vs scipy."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.optimize import brentq

from hybridpot.physics import BuckinghamParams, buckingham_energy, buckingham_r_max

# BKS silica (van Beest, Kramer & van Santen 1990): O–O and Si–O, eV / Å / eV Å^6.
O_O = BuckinghamParams(a=1388.7730, rho=0.36232, c=175.0000)
SI_O = BuckinghamParams(a=18003.7572, rho=0.205205, c=133.5381)


def _bare(r, p):
    return p.a * np.exp(-r / p.rho) - p.c / r**6


def _scipy_r_max(p):
    dv = lambda r: -p.a / p.rho * np.exp(-r / p.rho) + 6 * p.c / r**7
    return brentq(dv, 1e-3, 7 * p.rho, xtol=1e-14)


@pytest.mark.parametrize("p", [O_O, SI_O], ids=["O-O", "Si-O"])
def test_r_max_vs_scipy(p):
    assert float(buckingham_r_max(p)) == pytest.approx(_scipy_r_max(p), rel=1e-12)


def test_r_max_gradient_vs_finite_difference():
    f = lambda c: buckingham_r_max(O_O._replace(c=c))
    h = 1e-4
    fd = (f(175.0 + h) - f(175.0 - h)) / (2 * h)
    assert float(jax.grad(f)(175.0)) == pytest.approx(float(fd), rel=1e-7)


@pytest.mark.parametrize("p", [O_O, SI_O], ids=["O-O", "Si-O"])
def test_matches_formula_above_r_max(p):
    r_max = _scipy_r_max(p)
    r = np.linspace(r_max + 1e-6, 10.0, 50)
    np.testing.assert_allclose(buckingham_energy(r, p), _bare(r, p), rtol=1e-12)


@pytest.mark.parametrize("p", [O_O, SI_O], ids=["O-O", "Si-O"])
def test_guard_is_finite_repulsive_and_c1(p):
    r_max = float(buckingham_r_max(p))
    r = np.linspace(0.0, r_max, 400)
    e = np.asarray(buckingham_energy(r, p))
    assert np.all(np.isfinite(e))
    assert np.all(np.diff(e) < 0)  # energy rises strictly as r decreases
    f = jax.vmap(jax.grad(buckingham_energy), in_axes=(0, None))(jnp.asarray(r), p)
    assert np.all(np.isfinite(f)) and np.all(np.asarray(f)[:-1] < 0)
    # continuity of value and force (zero) at r_max
    assert float(buckingham_energy(r_max - 1e-9, p)) == pytest.approx(_bare(r_max, p), rel=1e-9)
    assert float(jax.grad(buckingham_energy)(r_max - 1e-10, p)) == pytest.approx(0.0, abs=1e-6)
    assert float(jax.grad(buckingham_energy)(r_max + 1e-10, p)) == pytest.approx(0.0, abs=1e-6)
    # independent form of the continuation at r = 0
    x = r_max / p.rho
    assert e[0] == pytest.approx(_bare(r_max, p) + p.a * (1 - np.exp(-x) * (1 + x)), rel=1e-12)


def test_zero_dispersion_is_born_mayer():
    p = BuckinghamParams(1000.0, 0.3, 0.0)
    r = np.linspace(0.0, 5.0, 11)
    np.testing.assert_allclose(buckingham_energy(r, p), 1000.0 * np.exp(-r / 0.3), rtol=1e-14)
    assert float(buckingham_r_max(p)) == 0.0


def test_jit_vmap_grad():
    r = jnp.linspace(0.05, 10.0, 101)
    np.testing.assert_allclose(jax.jit(buckingham_energy)(r, O_O), buckingham_energy(r, O_O), rtol=1e-12, atol=1e-14)
    batch = BuckinghamParams(jnp.array([1388.773, 18003.7572, 1000.0]), jnp.array([0.36232, 0.205205, 0.3]),
                             jnp.array([175.0, 133.5381, 0.0]))
    got = jax.vmap(buckingham_energy, in_axes=(None, 0))(r, batch)
    want = np.stack([buckingham_energy(r, BuckinghamParams(*(x[i] for x in batch))) for i in range(3)])
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)
    assert np.all(np.isfinite(jax.vmap(jax.grad(buckingham_energy), in_axes=(0, None))(r, O_O)))
    gp = jax.grad(lambda p: buckingham_energy(r, p).sum())(O_O)
    assert all(np.isfinite(x) for x in gp)
    gb = jax.vmap(jax.grad(lambda p: buckingham_energy(r, p).sum()))(batch)
    assert all(np.all(np.isfinite(x)) for x in gb)


@pytest.mark.parametrize(
    "params, match",
    [
        (BuckinghamParams(-1.0, 0.3, 10.0), "buckingham a must be positive"),
        (BuckinghamParams(1000.0, 0.0, 10.0), "buckingham rho must be positive"),
        (BuckinghamParams(1000.0, 0.3, -1.0), "buckingham c must be non-negative"),
        (BuckinghamParams(1.0, 0.3, 1e4), "no maximum"),
    ],
)
def test_bad_parameters_raise(params, match):
    with pytest.raises(ValueError, match=match):
        buckingham_energy(1.0, params)
