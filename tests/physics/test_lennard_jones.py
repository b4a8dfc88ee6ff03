"""Lennard-Jones kernel: minimum at 2^(1/6) sigma with depth -epsilon, jit/vmap/grad, checks."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hybridpot.physics import LennardJonesParams, lennard_jones_energy

PARAMS = LennardJonesParams(epsilon=0.0104, sigma=3.40)  # argon, eV / Å
R_MIN = 2 ** (1 / 6) * PARAMS.sigma


def test_minimum_depth_zero_crossing():
    f = lambda r: lennard_jones_energy(r, PARAMS)
    assert float(f(R_MIN)) == pytest.approx(-PARAMS.epsilon, rel=1e-14)
    assert float(f(PARAMS.sigma)) == pytest.approx(0.0, abs=1e-16)
    assert float(jax.grad(f)(R_MIN)) == pytest.approx(0.0, abs=1e-15)
    # curvature at the minimum: 72 eps / (2^(1/3) sigma^2)
    assert float(jax.grad(jax.grad(f))(R_MIN)) == pytest.approx(
        72 * PARAMS.epsilon / (2 ** (1 / 3) * PARAMS.sigma**2), rel=1e-12
    )
    r = np.linspace(3.0, 8.0, 5001)
    assert r[np.argmin(np.asarray(f(r)))] == pytest.approx(R_MIN, abs=r[1] - r[0])


def test_matches_numpy_formula_and_inf_at_zero():
    r = np.linspace(2.5, 12.0, 13)
    s = PARAMS.sigma / r
    np.testing.assert_allclose(lennard_jones_energy(r, PARAMS), 4 * PARAMS.epsilon * (s**12 - s**6), rtol=1e-12)
    assert float(lennard_jones_energy(0.0, PARAMS)) == np.inf


def test_jit_vmap_grad():
    r = jnp.linspace(0.05, 10.0, 101)
    np.testing.assert_allclose(
        jax.jit(lennard_jones_energy)(r, PARAMS), lennard_jones_energy(r, PARAMS), rtol=1e-12, atol=1e-14
    )
    batch = LennardJonesParams(jnp.array([0.01, 0.02, 0.005]), jnp.array([3.4, 2.5, 3.0]))
    got = jax.vmap(lennard_jones_energy, in_axes=(None, 0))(r, batch)
    want = np.stack([lennard_jones_energy(r, LennardJonesParams(batch.epsilon[i], batch.sigma[i])) for i in range(3)])
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)
    g = jax.vmap(jax.grad(lennard_jones_energy), in_axes=(0, None))(r, PARAMS)
    assert np.all(np.isfinite(g))
    gp = jax.grad(lambda p: lennard_jones_energy(r, p).sum())(PARAMS)
    assert all(np.isfinite(x) for x in gp)


def test_double_where_masks_padding():
    r = jnp.array([0.0, 3.8, 0.0])
    mask = r > 0

    def total(r):
        r_safe = jnp.where(mask, r, 1.0)
        return jnp.where(mask, lennard_jones_energy(r_safe, PARAMS), 0.0).sum()

    assert np.isfinite(total(r))
    assert np.all(np.isfinite(jax.grad(total)(r)))


@pytest.mark.parametrize(
    "params, match",
    [
        (LennardJonesParams(0.01, -3.4), "lennard-jones sigma must be positive"),
        (LennardJonesParams(-0.01, 3.4), "lennard-jones epsilon must be non-negative"),
    ],
)
def test_bad_parameters_raise(params, match):
    with pytest.raises(ValueError, match=match):
        lennard_jones_energy(1.0, params)
