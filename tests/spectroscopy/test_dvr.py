"""Sinc-DVR vibrational levels: analytic Morse and harmonic levels, orthonormality, sign
convention, Hellmann–Feynman gradients, jit/vmap, input checks (float64, see conftest)."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hybridpot.spectroscopy import (
    H2_REDUCED_MASS_AMU,
    morse_harmonic_energy_hartree,
    morse_num_bound_levels,
    morse_vibrational_energies,
    sinc_dvr_kinetic,
    vibrational_states,
)
from hybridpot.units import AMU_TO_ELECTRON_MASS, BOHR_TO_ANGSTROM

# H2-like Morse parameters.
D_E, ALPHA, R_E = 0.1745, 1.94, 0.741  # hartree, 1/Å, Å
MU = H2_REDUCED_MASS_AMU


def morse(r, d_e=D_E, alpha=ALPHA, r_e=R_E):
    return d_e * (1.0 - np.exp(-alpha * (r - r_e))) ** 2


def harmonic(r, omega, centre, mu=MU):
    """½ μ ω² x² in hartree for r in Å, ω in hartree (ħ = 1)."""
    x = (r - centre) / BOHR_TO_ANGSTROM
    return 0.5 * mu * AMU_TO_ELECTRON_MASS * omega**2 * x**2


def uniform_grid(lo, hi, h):
    n = int(round((hi - lo) / h)) + 1
    return lo + h * np.arange(n)


# 0.2–5 Å with Δr = 0.02 Å (241 points): measured max relative error 1.4e-9 over v = 0…9, set by
# the truncation of the Morse wall at 0.2 Å (extending the grid to 0 Å gives ~1e-14); the sinc DVR
# has converged already at Δr = 0.04 Å. Kept small: eigh of an n×n matrix costs n³.
MORSE_GRID = uniform_grid(0.2, 5.0, 0.02)


def test_h2_reduced_mass_is_half_the_atomic_mass():
    assert H2_REDUCED_MASS_AMU == pytest.approx(1.00782503223 / 2, rel=1e-15)


def test_kinetic_matrix_matches_colbert_miller():
    n, dx, m = 7, 0.3, 1836.0
    t = np.asarray(sinc_dvr_kinetic(n, dx, m))
    pre = 1.0 / (2 * m * dx**2)
    for i in range(n):
        for j in range(n):
            expect = pre * np.pi**2 / 3 if i == j else pre * (-1) ** (i - j) * 2.0 / (i - j) ** 2
            assert t[i, j] == pytest.approx(expect, rel=1e-14)
    np.testing.assert_array_equal(t, t.T)


@pytest.mark.parametrize("num_states", [1, 6, 10])
def test_morse_levels_match_analytic(num_states):
    states = vibrational_states(MORSE_GRID, morse(MORSE_GRID), MU, num_states)
    exact = morse_vibrational_energies(D_E, ALPHA, MU, num_states)
    rel = np.abs(np.asarray(states.energies_hartree) - np.asarray(exact)) / np.asarray(exact)
    assert states.energies_hartree.shape == (num_states,)
    assert states.wavefunctions.shape == (num_states, MORSE_GRID.size)
    assert rel.max() < 1e-6
    assert rel.max() < 1e-8  # measured 1.4e-9: keep the margin visible


def test_morse_bound_level_count():
    hw = float(morse_harmonic_energy_hartree(D_E, ALPHA, MU))
    lam = 2 * D_E / hw
    n_bound = morse_num_bound_levels(D_E, ALPHA, MU)
    assert n_bound == 17  # H2-like: λ ≈ 17.4
    assert n_bound - 1 + 0.5 < lam <= n_bound + 0.5
    levels = np.asarray(morse_vibrational_energies(D_E, ALPHA, MU, n_bound))
    assert np.all(np.diff(levels) > 0) and levels[-1] < D_E
    # ħω in cm⁻¹ of this H2-like well (textbook H2: ~4400 cm⁻¹).
    assert 4300 < hw * 219474.6313632 < 4500


def test_harmonic_levels_exact():
    omega = 0.02
    r = uniform_grid(0.0, 2.4, 0.02)
    states = vibrational_states(r, harmonic(r, omega, 1.2), MU, 12)
    np.testing.assert_allclose(states.energies_hartree, omega * (np.arange(12) + 0.5), rtol=1e-12)


def test_wavefunctions_orthonormal_and_signed():
    states = vibrational_states(MORSE_GRID, morse(MORSE_GRID), MU, 10)
    psi = np.asarray(states.wavefunctions)
    np.testing.assert_allclose(psi @ psi.T, np.eye(10), atol=1e-12)
    for v, row in enumerate(psi):
        big = row[np.abs(row) > 1e-3 * np.abs(row).max()]
        assert big[0] > 0, f"innermost lobe of v={v} should be positive"
        assert np.count_nonzero(np.diff(np.sign(big)) != 0) == v, f"v={v} should have {v} nodes"
    np.testing.assert_array_equal(states.r_angstrom, MORSE_GRID)


def test_sign_convention_stable_under_small_potential_change():
    v0 = morse(MORSE_GRID)
    bump = 1e-4 * np.exp(-(((MORSE_GRID - 1.0) / 0.2) ** 2))
    a = vibrational_states(MORSE_GRID, v0, MU, 10).wavefunctions
    b = vibrational_states(MORSE_GRID, v0 + bump, MU, 10).wavefunctions
    assert np.abs(np.asarray(a) - np.asarray(b)).max() < 1e-2


def test_symmetric_well_sign_is_innermost_lobe():
    # Odd harmonic states have two equally large lobes; the innermost one is still positive.
    r = uniform_grid(0.0, 2.4, 0.02)
    psi = np.asarray(vibrational_states(r, harmonic(r, 0.02, 1.2), MU, 6).wavefunctions)
    first = np.argmax(np.abs(psi) > 1e-3 * np.abs(psi).max(axis=1, keepdims=True), axis=1)
    assert np.all(psi[np.arange(6), first] > 0)


def test_hellmann_feynman_gradient():
    # dE_v/dV_i = ψ_v(r_i)² for grid-normalised ψ (Σ_i ψ_v(r_i)² = 1).
    v0 = jnp.asarray(morse(MORSE_GRID))

    @jax.jit
    def levels(v):
        return vibrational_states(MORSE_GRID, v, MU, 3).energies_hartree

    jac = jax.jacrev(levels)(v0)  # [3, n]
    psi = vibrational_states(MORSE_GRID, v0, MU, 3).wavefunctions
    assert np.all(np.isfinite(jac))
    np.testing.assert_allclose(jac, psi**2, atol=1e-12)
    # Finite differences of E_0 on a few grid points around the well.
    step = 1e-6
    for i in (20, 27, 40):
        e = np.zeros(MORSE_GRID.size)
        e[i] = step
        fd = (levels(v0 + e)[0] - levels(v0 - e)[0]) / (2 * step)
        assert fd == pytest.approx(float(jac[0, i]), rel=1e-6, abs=1e-12)


def test_wavefunction_gradient_finite():
    v0 = jnp.asarray(morse(MORSE_GRID))

    def f(v):
        psi = vibrational_states(MORSE_GRID, v, MU, 4).wavefunctions
        return jnp.sum(psi[3] * MORSE_GRID)  # ⟨r⟩-like linear functional of ψ_3

    g = jax.grad(f)(v0)
    assert np.all(np.isfinite(g))
    e = np.zeros(MORSE_GRID.size)
    e[28] = 1e-6
    fd = (f(v0 + e) - f(v0 - e)) / 2e-6
    assert fd == pytest.approx(float(g[28]), rel=1e-5)


def test_lapack_solver_matches_the_differentiable_one():
    v0 = morse(MORSE_GRID)
    exact = vibrational_states(MORSE_GRID, v0, MU, 6)
    fast = vibrational_states(MORSE_GRID, v0, MU, 6, differentiable=False)
    np.testing.assert_allclose(fast.energies_hartree, exact.energies_hartree, rtol=1e-12)
    np.testing.assert_allclose(fast.wavefunctions, exact.wavefunctions, atol=1e-10)  # same sign convention


def test_jit_matches_eager():
    v0 = morse(MORSE_GRID)
    eager = vibrational_states(MORSE_GRID, v0, MU, 5)
    jitted = jax.jit(vibrational_states, static_argnames="num_states")(MORSE_GRID, v0, MU, num_states=5)
    np.testing.assert_allclose(jitted.energies_hartree, eager.energies_hartree, rtol=1e-13)
    np.testing.assert_allclose(jitted.wavefunctions, eager.wavefunctions, atol=1e-12)


def test_vmap_matches_loop():
    potentials = jnp.stack([morse(MORSE_GRID, d_e=d, r_e=re) for d, re in [(0.17, 0.74), (0.18, 0.75), (0.16, 0.73)]])
    solve = functools.partial(vibrational_states, MORSE_GRID, reduced_mass_amu=MU, num_states=4)
    batched = jax.vmap(solve)(potentials)
    for b, v in enumerate(potentials):
        single = solve(v)
        np.testing.assert_allclose(batched.energies_hartree[b], single.energies_hartree, rtol=1e-13)
        np.testing.assert_allclose(batched.wavefunctions[b], single.wavefunctions, atol=1e-12)


def test_rejects_non_uniform_grid():
    r = np.geomspace(0.2, 5.0, 200)
    with pytest.raises(ValueError, match="uniform"):
        vibrational_states(r, morse(r), MU, 3)
    r = MORSE_GRID.copy()
    r[100] += 1e-4
    with pytest.raises(ValueError, match="uniform.*index 99"):
        vibrational_states(r, morse(r), MU, 3)


def test_rejects_decreasing_grid():
    r = MORSE_GRID[::-1]
    with pytest.raises(ValueError, match="increasing"):
        vibrational_states(r, morse(r), MU, 3)


def test_rejects_nan_potential():
    v = morse(MORSE_GRID)
    v[17] = np.nan
    with pytest.raises(ValueError, match=r"potential_hartree contains NaN or inf \(first at index \(17,\)"):
        vibrational_states(MORSE_GRID, v, MU, 3)


def test_rejects_bad_num_states():
    v = morse(MORSE_GRID)
    with pytest.raises(ValueError, match=f"num_states.*{MORSE_GRID.size}.*got {MORSE_GRID.size + 1}"):
        vibrational_states(MORSE_GRID, v, MU, MORSE_GRID.size + 1)
    with pytest.raises(ValueError, match="num_states"):
        vibrational_states(MORSE_GRID, v, MU, 0)


def test_rejects_shape_mismatch_and_bad_mass():
    with pytest.raises(ValueError, match="potential_hartree must have shape"):
        vibrational_states(MORSE_GRID, morse(MORSE_GRID)[:-1], MU, 3)
    with pytest.raises(ValueError, match="reduced_mass_amu must be positive"):
        vibrational_states(MORSE_GRID, morse(MORSE_GRID), -1.0, 3)
