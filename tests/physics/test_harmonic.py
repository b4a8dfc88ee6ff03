"""Harmonic kernel: V = k/2 (r - r0)^2 (the 1/2 is part of the convention), jit/vmap/grad, checks."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hybridpot.physics import HarmonicParams, harmonic_energy

PARAMS = HarmonicParams(k=36.0, r_0=0.96)


def test_half_convention_and_curvature():
    f = lambda r: harmonic_energy(r, PARAMS)
    assert float(f(PARAMS.r_0)) == 0.0
    assert float(f(PARAMS.r_0 + 0.1)) == pytest.approx(0.5 * 36.0 * 0.01, rel=1e-13)
    assert float(jax.grad(f)(PARAMS.r_0)) == 0.0
    assert float(jax.grad(jax.grad(f))(1.7)) == pytest.approx(PARAMS.k, rel=1e-14)


def test_jit_vmap_grad():
    r = jnp.linspace(0.05, 10.0, 101)
    np.testing.assert_allclose(jax.jit(harmonic_energy)(r, PARAMS), harmonic_energy(r, PARAMS), rtol=1e-12, atol=1e-14)
    batch = HarmonicParams(jnp.array([1.0, 10.0, 50.0]), jnp.array([0.9, 1.1, 1.5]))
    got = jax.vmap(harmonic_energy, in_axes=(None, 0))(r, batch)
    want = np.stack([0.5 * batch.k[i] * (r - batch.r_0[i]) ** 2 for i in range(3)])
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)
    assert np.all(np.isfinite(jax.vmap(jax.grad(harmonic_energy), in_axes=(0, None))(r, PARAMS)))
    assert np.isfinite(jax.grad(harmonic_energy)(0.0, PARAMS))


@pytest.mark.parametrize(
    "params, match",
    [(HarmonicParams(-1.0, 1.0), "harmonic k must be non-negative"), (HarmonicParams(1.0, -1.0), "harmonic r_0")],
)
def test_bad_parameters_raise(params, match):
    with pytest.raises(ValueError, match=match):
        harmonic_energy(1.0, params)
