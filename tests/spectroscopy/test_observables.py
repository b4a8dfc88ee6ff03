"""Spectroscopic observables and their loss: analytic Morse term values, B_v by Hellmann–Feynman,
the loss's gradient by finite differences, jit/vmap, a Morse fit to Morse levels, input checks
(float64, see tests/conftest.py)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.optimize

from hybridpot.spectroscopy import (
    H2_REDUCED_MASS_AMU,
    franck_condon_factors,
    franck_condon_targets,
    morse_from_observables,
    morse_vibrational_energies,
    observables_loss,
    spectroscopic_loss,
    spectroscopic_observables,
    spectroscopic_targets,
    vibrational_states,
)
from hybridpot.units import AMU_TO_ELECTRON_MASS, BOHR_TO_ANGSTROM, HARTREE_TO_INV_CM

D_E, ALPHA, R_E = 0.1745, 1.94, 0.741  # H2-like Morse: hartree, 1/Å, Å
MU = H2_REDUCED_MASS_AMU
R = 0.3 + 0.04 * np.arange(61)  # 0.3 … 2.7 Å
K = 6


def morse(r, d_e=D_E, alpha=ALPHA, r_e=R_E):
    return d_e * (1.0 - jnp.exp(-alpha * (jnp.asarray(r) - r_e))) ** 2


def reference_targets(term_sigma=1.0, rot_sigma=0.01, **morse_kw):
    obs = spectroscopic_observables(R, morse(R, **morse_kw), MU, K)
    return spectroscopic_targets(obs.term_values_inv_cm, term_sigma, obs.rotational_constants_inv_cm, rot_sigma)


def test_term_values_match_analytic_morse_levels():
    obs = spectroscopic_observables(R, morse(R), MU, K)
    exact = morse_vibrational_energies(D_E, ALPHA, MU, K)
    np.testing.assert_allclose(obs.term_values_inv_cm, (exact - exact[0]) * HARTREE_TO_INV_CM, atol=0.5)
    assert obs.term_values_inv_cm[0] == 0.0


def test_rotational_constants_are_hellmann_feynman_derivatives():
    # B_v = dE_v/dλ of V + λ ħ²/(2 μ r²) at λ = 0, by central differences of the DVR eigenvalues:
    # an independent route through the eigenvalues instead of the wavefunctions
    centrifugal = 1.0 / (2.0 * MU * AMU_TO_ELECTRON_MASS * (R / BOHR_TO_ANGSTROM) ** 2)
    lam = 1e-3
    up, down = (vibrational_states(R, morse(R) + s * lam * centrifugal, MU, K).energies_hartree for s in (1, -1))
    derivative = (up - down) / (2 * lam) * HARTREE_TO_INV_CM
    obs = spectroscopic_observables(R, morse(R), MU, K)
    np.testing.assert_allclose(obs.rotational_constants_inv_cm, derivative, rtol=1e-8)
    # and B_0 is close to B_e = ħ²/(2 μ r_e²), a little below it (r_0 > r_e)
    b_e = 1.0 / (2.0 * MU * AMU_TO_ELECTRON_MASS * (R_E / BOHR_TO_ANGSTROM) ** 2) * HARTREE_TO_INV_CM
    assert 0.95 * b_e < obs.rotational_constants_inv_cm[0] < b_e


def test_loss_is_zero_at_the_generating_potential_and_positive_elsewhere():
    targets = reference_targets()
    assert float(spectroscopic_loss(R, morse(R), MU, targets)) < 1e-16
    assert float(spectroscopic_loss(R, morse(R) + 0.3, MU, targets)) < 1e-16  # energy zero is free
    assert float(spectroscopic_loss(R, morse(R, alpha=1.9), MU, targets)) > 1.0


def test_loss_gradient_matches_finite_differences():
    targets = reference_targets()

    def loss(alpha):
        return spectroscopic_loss(R, morse(R, alpha=alpha, r_e=0.75), MU, targets)

    a, h = 1.9, 1e-6
    numeric = (loss(a + h) - loss(a - h)) / (2 * h)
    np.testing.assert_allclose(jax.grad(loss)(a), numeric, rtol=1e-6)
    assert abs(float(numeric)) > 1.0


def test_jit_and_vmap_equal_eager():
    targets = reference_targets()
    alphas = jnp.asarray([1.8, 1.94, 2.1])
    potentials = jax.vmap(lambda a: morse(R, alpha=a))(alphas)
    eager = [float(spectroscopic_loss(R, v, MU, targets)) for v in potentials]
    batched = jax.jit(jax.vmap(lambda v: spectroscopic_loss(R, v, MU, targets)))(potentials)
    np.testing.assert_allclose(batched, eager, rtol=1e-10, atol=1e-12)
    # stacked targets map too (one set per potential)
    stacked = jax.tree.map(lambda x: jnp.stack([jnp.asarray(x)] * 3), targets)
    per_pair = jax.vmap(lambda v, t: spectroscopic_loss(R, v, MU, t))(potentials, stacked)
    np.testing.assert_allclose(per_pair, eager, rtol=1e-10, atol=1e-12)


def test_morse_start_from_observables():
    d_e, a, r_e = morse_from_observables(reference_targets(), MU)
    np.testing.assert_allclose([d_e, a], [D_E, ALPHA], rtol=1e-3)
    assert R_E < float(r_e) < 1.015 * R_E  # r_0 from B_0 lies just outside r_e
    # without B_0 the position is the default
    obs = spectroscopic_observables(R, morse(R), MU, K)
    assert float(morse_from_observables(spectroscopic_targets(obs.term_values_inv_cm, 1.0), MU, 0.9)[2]) == 0.9


def test_fit_morse_to_morse_levels_recovers_parameters():
    targets = reference_targets(term_sigma=0.1, rot_sigma=0.001)

    def loss(p):
        return spectroscopic_loss(R, morse(R, *p), MU, targets)

    value_and_grad = jax.jit(jax.value_and_grad(loss))
    start = np.array([0.21, 1.7, 0.80])  # 20 %, 12 %, 8 % off
    fit = scipy.optimize.minimize(
        lambda p: tuple(np.asarray(x, float) for x in value_and_grad(jnp.asarray(p))), start, jac=True, method="BFGS",
        options={"gtol": 1e-10, "maxiter": 500},
    )
    np.testing.assert_allclose(fit.x, [D_E, ALPHA, R_E], rtol=2e-4)


def test_levels_alone_do_not_fix_the_position():
    # term values are invariant under a shift of the well in r (up to the grid's ends, here
    # < 0.1 cm⁻¹): only B_v places it
    terms_only = spectroscopic_targets(spectroscopic_observables(R, morse(R), MU, K).term_values_inv_cm, 1.0)
    assert float(spectroscopic_loss(R, morse(R, r_e=R_E + 0.1), MU, terms_only)) < 1e-2
    assert float(spectroscopic_loss(R, morse(R, r_e=R_E + 0.1), MU, reference_targets())) > 100.0


def test_unmeasured_values_are_left_out():
    obs = spectroscopic_observables(R, morse(R), MU, K)
    values = np.asarray(obs.term_values_inv_cm).copy()
    values[3] = np.nan
    sigma = np.ones(K)
    sigma[3] = np.inf
    targets = spectroscopic_targets(values, sigma)
    assert targets.term_weights[3] == 0.0 and targets.term_weights[0] == 0.0
    assert float(spectroscopic_loss(R, morse(R), MU, targets)) < 1e-16
    moved = observables_loss(obs._replace(term_values_inv_cm=obs.term_values_inv_cm.at[3].add(100.0)), targets)
    assert float(moved) < 1e-16


# A fixed "other state": a shallower Morse displaced outwards, its lowest K_FIXED levels inside R.
FIXED = dict(d_e=0.12, alpha=1.5, r_e=1.05)
K_FIXED = 3


def fc_targets(sigma=0.001, **morse_kw):
    """Term values (σ = 1 cm⁻¹) and FC(v ≤ 5, v′ ≤ 2) against FIXED of the Morse ``morse_kw``; no B_v."""
    fixed = morse(R, **FIXED) - 0.3
    states = vibrational_states(R, fixed, MU, K_FIXED)
    obs = spectroscopic_observables(R, morse(R, **morse_kw), MU, K, fixed_wavefunctions=states.wavefunctions)
    fc = franck_condon_targets(R, fixed, MU, obs.franck_condon_factors, sigma)
    return spectroscopic_targets(obs.term_values_inv_cm, 1.0, franck_condon=fc), obs


def test_franck_condon_observables_are_the_library_factors():
    _, obs = fc_targets()
    assert obs.franck_condon_factors.shape == (K, K_FIXED)
    fixed = vibrational_states(R, morse(R, **FIXED), MU, K_FIXED).wavefunctions
    mine = vibrational_states(R, morse(R), MU, K).wavefunctions
    for v in range(K):
        np.testing.assert_allclose(obs.franck_condon_factors[v], franck_condon_factors(mine[v], fixed, R), rtol=1e-10, atol=1e-14)
    assert 0.05 < float(obs.franck_condon_factors[0, 0]) < 0.95  # displaced: a spread progression


def test_franck_condon_loss_is_zero_at_the_generating_curves_and_sees_the_position():
    targets, _ = fc_targets()
    assert float(spectroscopic_loss(R, morse(R), MU, targets)) < 1e-16
    assert float(spectroscopic_loss(R, morse(R) + 0.3, MU, targets)) < 1e-16  # energy zero is free
    # term values alone barely see a shift of the well by 0.05 Å; the FC factors do
    assert float(spectroscopic_loss(R, morse(R, r_e=R_E + 0.05), MU, targets._replace(franck_condon=None))) < 1e-2
    assert float(spectroscopic_loss(R, morse(R, r_e=R_E + 0.05), MU, targets)) > 100.0


def test_franck_condon_loss_gradient_matches_finite_differences():
    targets, _ = fc_targets()

    def loss(r_e):
        return spectroscopic_loss(R, morse(R, alpha=1.9, r_e=r_e), MU, targets)

    x, h = 0.76, 1e-6
    numeric = (loss(x + h) - loss(x - h)) / (2 * h)
    np.testing.assert_allclose(jax.grad(loss)(x), numeric, rtol=1e-6)
    assert abs(float(numeric)) > 1.0
    batched = jax.jit(jax.vmap(loss))(jnp.asarray([0.75, 0.76]))
    np.testing.assert_allclose(batched, [loss(0.75), loss(0.76)], rtol=1e-10)


def test_fit_to_term_values_and_franck_condon_factors_recovers_a_displaced_morse():
    displaced = dict(r_e=0.80)  # the well moved 0.06 Å out: no B_v, only FC places it
    targets, _ = fc_targets(**displaced)
    value_and_grad = jax.jit(jax.value_and_grad(lambda p: spectroscopic_loss(R, morse(R, *p), MU, targets)))
    start = np.array([0.21, 1.7, R_E])
    fit = scipy.optimize.minimize(
        lambda p: tuple(np.asarray(x, float) for x in value_and_grad(jnp.asarray(p))), start, jac=True, method="BFGS",
        options={"gtol": 1e-10, "maxiter": 500},
    )
    np.testing.assert_allclose(fit.x, [D_E, ALPHA, 0.80], rtol=1e-3)


def test_franck_condon_targets_are_checked():
    fixed = morse(R, **FIXED)
    with pytest.raises(ValueError, match="uncertainty must be positive"):
        franck_condon_targets(R, fixed, MU, np.full((K, 2), 0.1), 0.0)
    sigma = np.full((K, 2), np.inf)
    sigma[0] = 0.01  # only FC(0 → v′) measured
    partial = franck_condon_targets(R, fixed, MU, np.where(np.isfinite(sigma), 0.1, np.nan), sigma)
    assert partial.weights[0].tolist() == [1e4, 1e4] and not partial.weights[1:].any() and not np.isnan(partial.factors).any()
    with pytest.raises(ValueError, match="not finite where it has a finite uncertainty"):
        franck_condon_targets(R, fixed, MU, np.full((K, 2), np.nan), sigma)
    fc = franck_condon_targets(R, fixed, MU, np.full((K - 1, 2), 0.1), 0.01)
    with pytest.raises(ValueError, match="one row per level"):
        spectroscopic_targets(np.arange(K) * 4000.0, 1.0, franck_condon=fc)
    obs = spectroscopic_observables(R, morse(R), MU, K)
    targets = spectroscopic_targets(obs.term_values_inv_cm, 1.0, franck_condon=franck_condon_targets(R, fixed, MU, np.full((K, 2), 0.1), 0.01))
    with pytest.raises(ValueError, match="pass fixed_wavefunctions"):
        observables_loss(obs, targets)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"term_uncertainty_inv_cm": 0.0}, "term_uncertainty_inv_cm must be positive"),
        ({"term_values_inv_cm": [0.0, np.nan, 1.0]}, "not finite at index 1"),
        ({"term_values_inv_cm": [0.0]}, "at least v = 0 and 1"),
        ({"rotational_constants_inv_cm": [60.0, 57.0]}, "shape"),
        ({"rotational_constants_inv_cm": [60.0, 57.0, 54.0]}, "needs rotational_uncertainty_inv_cm"),
    ],
)
def test_bad_targets_are_rejected(kwargs, match):
    args = {"term_values_inv_cm": [0.0, 4000.0, 7800.0], "term_uncertainty_inv_cm": 1.0, **kwargs}
    with pytest.raises(ValueError, match=match):
        spectroscopic_targets(**args)


def test_nonpositive_grid_is_rejected():
    r = 0.02 * np.arange(-5, 100)
    with pytest.raises(ValueError, match="r_angstrom must be positive"):
        spectroscopic_observables(r, morse(r), MU, 3)
