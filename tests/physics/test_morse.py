"""Morse kernel: physics identities, jit/vmap/grad behaviour and input checks."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hybridpot.physics import MorseParams, morse_energy

PARAMS = MorseParams(d_e=0.1745, a=1.0282, r_e=0.7414, shift=-0.1745)  # H2-like, hartree / Å


def test_minimum_position_depth_and_asymptote():
    assert float(morse_energy(PARAMS.r_e, PARAMS)) == pytest.approx(PARAMS.shift, abs=1e-15)
    assert float(morse_energy(1e3, PARAMS)) == pytest.approx(PARAMS.shift + PARAMS.d_e, abs=1e-12)
    r = np.linspace(0.3, 5.0, 2001)
    e = np.asarray(morse_energy(r, PARAMS))
    assert r[np.argmin(e)] == pytest.approx(PARAMS.r_e, abs=r[1] - r[0])
    assert e.min() >= PARAMS.shift


def test_zero_gradient_and_curvature_at_minimum():
    f = lambda r: morse_energy(r, PARAMS)
    assert float(jax.grad(f)(PARAMS.r_e)) == pytest.approx(0.0, abs=1e-14)
    assert float(jax.grad(jax.grad(f))(PARAMS.r_e)) == pytest.approx(2 * PARAMS.d_e * PARAMS.a**2, rel=1e-12)


def test_matches_numpy_formula():
    r = np.linspace(0.2, 4.0, 17)
    ref = PARAMS.d_e * (1 - np.exp(-PARAMS.a * (r - PARAMS.r_e))) ** 2 + PARAMS.shift
    np.testing.assert_allclose(morse_energy(r, PARAMS), ref, rtol=1e-13, atol=1e-15)


def test_jit_vmap_grad():
    r = jnp.linspace(0.05, 10.0, 101)
    np.testing.assert_allclose(jax.jit(morse_energy)(r, PARAMS), morse_energy(r, PARAMS), rtol=1e-12, atol=1e-14)
    batch = MorseParams(jnp.array([0.1, 0.2, 0.3]), jnp.array([1.0, 1.5, 2.0]), jnp.array([0.7, 1.0, 1.5]),
                        jnp.array([0.0, -0.2, 0.1]))
    got = jax.vmap(morse_energy, in_axes=(None, 0))(r, batch)
    want = np.stack([morse_energy(r, MorseParams(*(x[i] for x in batch))) for i in range(3)])
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)
    g = jax.vmap(jax.grad(morse_energy))(r, jax.tree.map(lambda x: jnp.full(r.shape, x), PARAMS))
    assert np.all(np.isfinite(g))
    gp = jax.grad(lambda p: morse_energy(r, p).sum())(PARAMS)
    assert all(np.isfinite(x) for x in gp)


@pytest.mark.parametrize(
    "params, match",
    [
        (MorseParams(-1.0, 1.0, 1.0), "morse d_e must be positive"),
        (MorseParams(1.0, 0.0, 1.0), "morse a must be positive"),
        (MorseParams(1.0, 1.0, -0.5), "morse r_e must be positive"),
    ],
)
def test_bad_parameters_raise(params, match):
    with pytest.raises(ValueError, match=match):
        morse_energy(1.0, params)
