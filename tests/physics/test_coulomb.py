"""Coulomb kernels: bare vs k_e q q / r, damped shifted force (Fennell & Gezelter 2006)."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hybridpot.physics import coulomb_energy, damped_shifted_force_coulomb_energy
from hybridpot.units import COULOMB_CONSTANT


def test_constant():
    assert round(COULOMB_CONSTANT, 6) == 14.399645


def test_bare_matches_formula():
    r = np.linspace(0.5, 10.0, 11)
    np.testing.assert_allclose(coulomb_energy(r, 1.0, -1.0), -14.3996454784 / r, rtol=1e-14)
    np.testing.assert_allclose(coulomb_energy(r, 2, 0.5), 14.3996454784 / r, rtol=1e-14)


def _dsf_numpy(r, qi, qj, alpha, rc):
    erfc = np.vectorize(math.erfc)
    v = (erfc(alpha * r) / r - erfc(alpha * rc) / rc
         + (erfc(alpha * rc) / rc**2 + 2 * alpha / np.sqrt(np.pi) * np.exp(-(alpha * rc) ** 2) / rc) * (r - rc))
    return np.where(r < rc, 14.3996454784 * qi * qj * v, 0.0)


def test_dsf_matches_numpy():
    r = np.linspace(0.5, 14.0, 40)
    np.testing.assert_allclose(
        damped_shifted_force_coulomb_energy(r, 1.0, -0.8, 0.2, 12.0), _dsf_numpy(r, 1.0, -0.8, 0.2, 12.0),
        rtol=1e-12, atol=1e-14,
    )


@pytest.mark.parametrize("alpha", [0.0, 0.2, 0.35])
def test_dsf_energy_and_force_vanish_continuously_at_cutoff(alpha):
    rc = 9.0
    f = lambda r: damped_shifted_force_coulomb_energy(r, 1.0, 1.0, alpha, rc)
    for r in (rc - 1e-9, rc, rc + 1e-9):
        assert float(f(r)) == pytest.approx(0.0, abs=1e-9)
        assert float(jax.grad(f)(r)) == pytest.approx(0.0, abs=1e-9)


def test_dsf_tends_to_bare():
    r = np.linspace(1.0, 10.0, 10)
    np.testing.assert_allclose(
        damped_shifted_force_coulomb_energy(r, 1.0, -1.0, 1e-7, 1e7), coulomb_energy(r, 1.0, -1.0), rtol=1e-5
    )


def test_jit_vmap_grad():
    r = jnp.linspace(0.05, 10.0, 101)
    np.testing.assert_allclose(jax.jit(coulomb_energy)(r, 1.0, -1.0), coulomb_energy(r, 1.0, -1.0), rtol=1e-12)
    dsf = lambda r, a, c: damped_shifted_force_coulomb_energy(r, 1.0, -1.0, a, c)
    np.testing.assert_allclose(jax.jit(dsf)(r, 0.2, 8.0), dsf(r, 0.2, 8.0), rtol=1e-12, atol=1e-14)
    alphas, cutoffs = jnp.array([0.1, 0.2, 0.3]), jnp.array([6.0, 8.0, 12.0])
    got = jax.vmap(dsf, in_axes=(None, 0, 0))(r, alphas, cutoffs)
    want = np.stack([dsf(r, alphas[i], cutoffs[i]) for i in range(3)])
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)
    for fn in (lambda x: coulomb_energy(x, 1.0, -1.0), lambda x: dsf(x, 0.2, 8.0)):
        assert np.all(np.isfinite(jax.vmap(jax.grad(fn))(r)))
    assert np.all(np.isfinite(jax.grad(lambda a, c: dsf(r, a, c).sum(), argnums=(0, 1))(0.2, 8.0)))


@pytest.mark.parametrize(
    "alpha, cutoff, match",
    [(-0.1, 8.0, "dsf coulomb alpha must be non-negative"), (0.2, -8.0, "dsf coulomb cutoff must be positive")],
)
def test_bad_parameters_raise(alpha, cutoff, match):
    with pytest.raises(ValueError, match=match):
        damped_shifted_force_coulomb_energy(1.0, 1.0, 1.0, alpha, cutoff)
