"""Franck–Condon factors: Simpson vs SciPy, identity overlaps, sum rule, Huang–Rhys Poisson law
for displaced harmonic oscillators, gradients, jit/vmap, the paper's grid, input checks."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.integrate import simpson
from scipy.special import factorial

from hybridpot.spectroscopy import (
    H2_REDUCED_MASS_AMU,
    franck_condon_factors,
    franck_condon_grid,
    franck_condon_vector,
    morse_num_bound_levels,
    simpson_integrate,
    simpson_weights,
    vibrational_states,
)
from hybridpot.units import AMU_TO_ELECTRON_MASS, BOHR_TO_ANGSTROM

D_E, ALPHA, R_E = 0.1745, 1.94, 0.741  # hartree, 1/Å, Å
MU = H2_REDUCED_MASS_AMU
GRID = 0.2 + 0.03 * np.arange(161)  # 0.2–5 Å, Δr = 0.03 Å


def morse(r, d_e=D_E, alpha=ALPHA, r_e=R_E):
    return d_e * (1.0 - np.exp(-alpha * (r - r_e))) ** 2


def harmonic(r, omega, centre, mu=MU):
    x = (r - centre) / BOHR_TO_ANGSTROM
    return 0.5 * mu * AMU_TO_ELECTRON_MASS * omega**2 * x**2


@pytest.mark.parametrize("n", [2, 3, 4, 5, 10, 11, 850, 851])
def test_simpson_matches_scipy(n):
    x = 0.5 + 0.01 * np.arange(n)
    rng = np.random.default_rng(n)
    ys = [np.sin(3 * x) * np.exp(-x), x**3, rng.normal(size=n)]
    for y in ys:
        assert float(simpson_integrate(y, x)) == pytest.approx(simpson(y, x=x), rel=1e-12, abs=1e-15)
    batched = np.stack(ys)
    np.testing.assert_allclose(simpson_integrate(batched, x), [simpson(y, x=x) for y in ys], rtol=1e-12, atol=1e-15)


def test_simpson_exactness_and_weights_sum_to_length():
    # Odd n: exact for cubics. Even n: the end correction is a quadratic fit, exact for quadratics.
    x = np.linspace(-1.0, 2.0, 7)
    assert float(simpson_integrate(x**3 - 2 * x**2 + 1, x)) == pytest.approx(15 / 4 - 6 + 3, rel=1e-13)
    x = np.linspace(-1.0, 2.0, 8)
    assert float(simpson_integrate(-2 * x**2 + x + 1, x)) == pytest.approx(-6 + 1.5 + 3, rel=1e-13)
    for n in (2, 3, 7, 8, 850):
        assert simpson_weights(n).sum() == pytest.approx(n - 1, rel=1e-14)


def test_franck_condon_grid_is_the_papers():
    r = franck_condon_grid()
    assert r.shape == (850,) and r.dtype == np.float64
    assert r[0] == 0.5 and r[-1] == 8.99
    assert all(r[i] == float(f"{0.5 + 0.01 * i:.2f}") for i in range(850))
    # usable as a DVR grid as is (passes the uniformity check)
    vibrational_states(r, morse(r), MU, 2)


def test_overlaps_of_one_potential_are_identity():
    states = vibrational_states(GRID, morse(GRID), MU, 12)
    psi = states.wavefunctions
    matrix = jax.vmap(lambda p: franck_condon_factors(p, psi, GRID))(psi)
    np.testing.assert_allclose(matrix, np.eye(12), atol=1e-10)  # measured 6e-17


def test_fc_is_scale_and_sign_invariant():
    psi = vibrational_states(GRID, morse(GRID), MU, 5).wavefunctions
    psi2 = vibrational_states(GRID, morse(GRID, r_e=0.8), MU, 5).wavefunctions
    ref = franck_condon_factors(psi[0], psi2, GRID)
    scaled = franck_condon_factors(-3.0 * psi[0], psi2 * jnp.array([1.0, -2.0, 0.5, 7.0, -1.0])[:, None], GRID)
    np.testing.assert_allclose(scaled, ref, rtol=1e-12)


@pytest.mark.parametrize("differentiable", [True, False])
def test_displaced_harmonic_fc_is_poisson(differentiable):
    # Equal frequencies, displacement d: |<0|v'>|² = e^{-S} S^v' / v'!, S = μ ω d² / (2ħ).
    omega, d = 0.02, 0.25  # hartree, Å
    r = np.arange(0, 241) * 0.01  # 0–2.4 Å
    v_initial = harmonic(r, omega, 1.1)
    v_final = harmonic(r, omega, 1.1 + d)
    s = MU * AMU_TO_ELECTRON_MASS * omega * (d / BOHR_TO_ANGSTROM) ** 2 / 2
    assert 1.5 < s < 2.5
    k = np.arange(20)
    expect = np.exp(-s) * s**k / factorial(k)
    fc = franck_condon_vector(r, v_initial, v_final, MU, 20, differentiable=differentiable)
    np.testing.assert_allclose(fc, expect, atol=1e-11)  # measured 1.4e-14
    assert float(fc.sum()) == pytest.approx(1.0, abs=1e-10)  # measured 1 − 1e-13


def test_fc_to_all_bound_levels_of_displaced_morse_sums_to_one():
    n_bound = morse_num_bound_levels(D_E, ALPHA, MU)
    fc = franck_condon_vector(GRID, morse(GRID), morse(GRID, r_e=R_E + 0.05), MU, n_bound)
    assert np.all(fc >= 0) and np.all(fc <= 1)
    assert float(fc.sum()) == pytest.approx(1.0, abs=1e-5)  # measured 1 − 7e-7
    assert float(fc[0]) > 0.9


def test_fc_vector_gradient_matches_finite_differences():
    v_initial = jnp.asarray(morse(GRID))
    v_final = jnp.asarray(morse(GRID, r_e=0.85, d_e=0.15))

    def fc1(vf):
        return franck_condon_vector(GRID, v_initial, vf, MU, 4)[1]

    g = jax.grad(fc1)(v_final)
    assert np.all(np.isfinite(g))
    for i in (15, 20, 25):
        e = np.zeros(GRID.size)
        e[i] = 1e-6
        fd = (fc1(v_final + e) - fc1(v_final - e)) / 2e-6
        assert fd == pytest.approx(float(g[i]), rel=1e-5, abs=1e-9)


def test_fc_vector_jit_and_vmap():
    v_initial = morse(GRID)
    finals = jnp.stack([morse(GRID, r_e=re) for re in (0.78, 0.82, 0.9)])
    fcv = functools.partial(franck_condon_vector, GRID, v_initial, reduced_mass_amu=MU, num_final=6)
    eager = [fcv(vf) for vf in finals]
    jitted = jax.jit(fcv)
    batched = jax.vmap(fcv)(finals)
    for b, vf in enumerate(finals):
        np.testing.assert_allclose(jitted(vf), eager[b], rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(batched[b], eager[b], rtol=1e-10, atol=1e-14)


def test_rejects_bad_shapes_and_grid():
    psi = vibrational_states(GRID, morse(GRID), MU, 3).wavefunctions
    with pytest.raises(ValueError, match="psi_final must have shape"):
        franck_condon_factors(psi[0], psi[0], GRID)
    with pytest.raises(ValueError, match="psi_initial must have shape"):
        franck_condon_factors(psi[0, :-1], psi, GRID)
    r = np.geomspace(0.2, 5.0, GRID.size)
    with pytest.raises(ValueError, match="uniform"):
        franck_condon_factors(psi[0], psi, r)
    with pytest.raises(ValueError, match="potential_hartree contains NaN"):
        franck_condon_vector(GRID, morse(GRID), np.full(GRID.size, np.nan), MU, 3)
    with pytest.raises(ValueError, match="at least 2 points"):
        simpson_weights(1)
