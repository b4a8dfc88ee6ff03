"""Spectroscopic observables of a diatomic curve and a loss that fits a curve to them.

What a spectroscopist measures for a diatomic ground state, computed from V(r) by the sinc DVR
(:func:`~hybridpot.spectroscopy.vibrational_states`) and differentiable with respect to V:

    term values         G(v) − G(0) = E_v − E_0                                  (cm⁻¹)
    rotational constant B_v = ⟨v| ħ² / (2 μ r²) |v⟩ = Σ_i ψ_v(r_i)² ħ² / (2 μ r_i²)  (cm⁻¹)
    Franck–Condon factor FC(v, v′) = (∫ ψ_v ψ′_v′ dr)², ψ′ a level of another, fixed curve (optional)

(the grid wavefunctions are normalised as Σ_i ψ_v(r_i)² = 1). The loss is a reduced χ²: the mean,
over the observables given, of ((computed − measured) / uncertainty)². Term values are differences,
so they do not see the energy zero of V; shifting V in r leaves them unchanged too (as long as the
grid covers the well), which is why B_v (or FC factors with a fixed curve) are needed to place the
well (r_e).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from hybridpot._checks import check_shape, is_concrete
from hybridpot.spectroscopy.dvr import VibrationalStates, vibrational_states
from hybridpot.spectroscopy.franck_condon import franck_condon_factors
from hybridpot.units import AMU_TO_ELECTRON_MASS, BOHR_TO_ANGSTROM, HARTREE_TO_INV_CM


class SpectroscopicObservables(NamedTuple):
    """Observables of the lowest k vibrational levels (a pytree).

    term_values_inv_cm:          [k] cm⁻¹, G(v) − G(0) for v = 0 … k − 1 (the first is 0).
    rotational_constants_inv_cm: [k] cm⁻¹, B_v = ⟨v| ħ²/(2 μ r²) |v⟩.
    franck_condon_factors:       [k, k′] FC(v, v′) with the k′ levels of a fixed curve, or None.
    """

    term_values_inv_cm: jax.Array
    rotational_constants_inv_cm: jax.Array
    franck_condon_factors: jax.Array | None = None


class FranckCondonTargets(NamedTuple):
    """FC factors between the fitted curve's levels and fixed levels of another curve (a pytree).

    fixed_wavefunctions: [k′, n] the other curve's levels v′ = 0 … k′ − 1 on the DVR grid (fixed,
                         not fitted; from :func:`franck_condon_targets`).
    factors:             [k, k′] FC(v, v′), v = 0 … k − 1 the fitted curve's levels.
    weights:             [k, k′] 1/σ² per factor; 0 where not measured.
    """

    fixed_wavefunctions: jax.Array
    factors: jax.Array
    weights: jax.Array


class SpectroscopicTargets(NamedTuple):
    """Measured (or reference) observables with their weights 1/σ² (a pytree; may be stacked).

    term_values_inv_cm:          [k] cm⁻¹, G(v) − G(0) for v = 0 … k − 1.
    term_weights:                [k] cm², 1/σ² per term value; 0 where not measured (always at v = 0).
    rotational_constants_inv_cm: [k] cm⁻¹, B_v.
    rotational_weights:          [k] cm², 1/σ² per B_v; 0 where not measured.
    franck_condon:               :class:`FranckCondonTargets` with [k, k′] factors, or None.
    """

    term_values_inv_cm: jax.Array
    term_weights: jax.Array
    rotational_constants_inv_cm: jax.Array
    rotational_weights: jax.Array
    franck_condon: FranckCondonTargets | None = None

    @property
    def num_levels(self) -> int:
        """k, the number of levels v = 0 … k − 1 the targets refer to."""
        return int(np.shape(self.term_values_inv_cm)[-1])


def rotational_constants(states: VibrationalStates, reduced_mass_amu) -> jax.Array:
    """B_v = ⟨v| ħ²/(2 μ r²) |v⟩ of each state, from its grid wavefunction.

    Args:
      states: from :func:`vibrational_states`; wavefunctions [k, n] with Σ_i ψ² = 1, grid [n] Å.
      reduced_mass_amu: μ, scalar u.

    Returns:
      [k] cm⁻¹.
    """
    r_bohr = jnp.asarray(states.r_angstrom) / BOHR_TO_ANGSTROM
    mass_au = jnp.asarray(reduced_mass_amu) * AMU_TO_ELECTRON_MASS
    inverse_inertia = 1.0 / (2.0 * mass_au * r_bohr**2)  # hartree, [n]; the grid is r > 0
    return (states.wavefunctions**2 @ inverse_inertia) * HARTREE_TO_INV_CM


def spectroscopic_observables(
    r_angstrom, potential_hartree, reduced_mass_amu, num_levels: int, *, differentiable: bool = True,
    fixed_wavefunctions=None,
) -> SpectroscopicObservables:
    """Term values G(v) − G(0) and rotational constants B_v of the lowest ``num_levels`` levels.

    Levels and wavefunctions by the sinc DVR on the grid itself (:func:`vibrational_states`,
    whose grid requirements apply: uniform, and reaching into the forbidden region on both sides
    of every level asked for); jit-able, vmap-able and differentiable with respect to V.

    Args:
      r_angstrom: [n] Å, uniform increasing grid with r > 0.
      potential_hartree: [n] hartree, V(r_i).
      reduced_mass_amu: μ, scalar u (e.g. ``H2_REDUCED_MASS_AMU``).
      num_levels: k, Python int, 1 ≤ k ≤ n.
      differentiable: False for the faster eager eigensolver (evaluation only).
      fixed_wavefunctions: optional [k′, n] levels of another curve on the same grid (any
        normalisation): the result then carries FC(v, v′) [k, k′] (Simpson overlaps, as
        :func:`~hybridpot.spectroscopy.franck_condon_factors`).

    Returns:
      :class:`SpectroscopicObservables` with [k] cm⁻¹ arrays (and [k, k′] FC factors).
    """
    if is_concrete(r_angstrom) and np.size(r_angstrom) and float(np.min(r_angstrom)) <= 0.0:
        raise ValueError(f"r_angstrom must be positive (B_v needs 1/r²), got min {float(np.min(r_angstrom))}")
    states = vibrational_states(r_angstrom, potential_hartree, reduced_mass_amu, num_levels, differentiable=differentiable)
    energies = states.energies_hartree
    fc = None
    if fixed_wavefunctions is not None:
        check_shape("fixed_wavefunctions", fixed_wavefunctions, (None, np.shape(r_angstrom)[0]))
        fc = jax.vmap(lambda psi: franck_condon_factors(psi, fixed_wavefunctions, r_angstrom))(states.wavefunctions)
    return SpectroscopicObservables(
        term_values_inv_cm=(energies - energies[0]) * HARTREE_TO_INV_CM,
        rotational_constants_inv_cm=rotational_constants(states, reduced_mass_amu),
        franck_condon_factors=fc,
    )


def franck_condon_targets(r_angstrom, fixed_potential_hartree, reduced_mass_amu, factors, uncertainty) -> FranckCondonTargets:
    """Targets FC(v, v′) between the fitted curve's levels v and the levels v′ of a fixed curve.

    The fixed curve (e.g. the other electronic state, known) is solved once here by the sinc DVR
    on the fitting grid; only the fitted curve's levels change during a fit.

    Args:
      r_angstrom: [n] Å, the DVR grid of the fit (uniform, r > 0), covering the fixed levels too.
      fixed_potential_hartree: [n] hartree, the fixed curve on that grid.
      reduced_mass_amu: μ, scalar u.
      factors: [k, k′] measured FC(v, v′), v = 0 … k − 1 (k = the targets' number of levels),
        v′ = 0 … k′ − 1; NaN where unknown (needs an infinite or NaN σ).
      uncertainty: [k, k′] or scalar σ > 0 (dimensionless); inf or NaN: not fitted.

    Returns:
      :class:`FranckCondonTargets` (float64 NumPy arrays).
    """
    factors = np.asarray(factors, float)
    check_shape("factors", factors, (None, None))
    fixed = vibrational_states(
        np.asarray(r_angstrom, float), np.asarray(fixed_potential_hartree, float), reduced_mass_amu, factors.shape[1],
        differentiable=False,
    )
    sigma = np.broadcast_to(np.asarray(uncertainty, float), factors.shape).ravel()
    weights = _weights("franck_condon uncertainty", sigma, factors.size).reshape(factors.shape)
    if (~np.isfinite(factors) & (weights > 0)).any():
        raise ValueError("factors is not finite where it has a finite uncertainty")
    return FranckCondonTargets(np.asarray(fixed.wavefunctions), np.where(weights > 0, factors, 0.0), weights)


def spectroscopic_targets(
    term_values_inv_cm, term_uncertainty_inv_cm, rotational_constants_inv_cm=None, rotational_uncertainty_inv_cm=None,
    franck_condon: FranckCondonTargets | None = None,
) -> SpectroscopicTargets:
    """Targets from measured values and their uncertainties σ (cm⁻¹); NaN or inf σ: not fitted.

    Args:
      term_values_inv_cm: [k] G(v) − G(0), v = 0 … k − 1 (v = 0 is never fitted: it is 0 by
        definition). NaN entries (unknown) need an infinite or NaN σ.
      term_uncertainty_inv_cm: [k] or scalar σ > 0.
      rotational_constants_inv_cm: [k] B_v, or None (no B_v fitted).
      rotational_uncertainty_inv_cm: [k] or scalar σ > 0 (needed with B_v).
      franck_condon: optional :class:`FranckCondonTargets` (from :func:`franck_condon_targets`)
        whose factors have k rows.

    Returns:
      :class:`SpectroscopicTargets` (float64 NumPy arrays; unknown values stored as 0 with weight 0).
    """
    terms = np.asarray(term_values_inv_cm, float)
    check_shape("term_values_inv_cm", terms, (None,))
    k = terms.shape[0]
    if k < 2:
        raise ValueError(f"need term values for at least v = 0 and 1, got {k}")
    term_w = _weights("term_uncertainty_inv_cm", term_uncertainty_inv_cm, k)
    term_w[0] = 0.0
    if rotational_constants_inv_cm is None:
        if rotational_uncertainty_inv_cm is not None:
            raise ValueError("rotational_uncertainty_inv_cm given without rotational_constants_inv_cm")
        rot, rot_w = np.zeros(k), np.zeros(k)
    else:
        rot = np.asarray(rotational_constants_inv_cm, float)
        check_shape("rotational_constants_inv_cm", rot, (k,))
        if rotational_uncertainty_inv_cm is None:
            raise ValueError("rotational_constants_inv_cm needs rotational_uncertainty_inv_cm")
        rot_w = _weights("rotational_uncertainty_inv_cm", rotational_uncertainty_inv_cm, k)
    for name, values, w in (("term_values_inv_cm", terms, term_w), ("rotational_constants_inv_cm", rot, rot_w)):
        bad = np.nonzero(~np.isfinite(values) & (w > 0))[0]
        if bad.size:
            raise ValueError(f"{name} is not finite at index {int(bad[0])} but has a finite uncertainty")
    if franck_condon is not None and np.shape(franck_condon.factors)[0] != k:
        raise ValueError(f"franck_condon factors need one row per level (k = {k}), got shape {list(np.shape(franck_condon.factors))}")
    return SpectroscopicTargets(
        np.where(term_w > 0, terms, 0.0), term_w, np.where(rot_w > 0, rot, 0.0), rot_w, franck_condon
    )


def _weights(name: str, sigma, k: int) -> np.ndarray:
    """1/σ² of a scalar or [k] σ, 0 where σ is inf or NaN; σ ≤ 0 is an error."""
    sigma = np.broadcast_to(np.asarray(sigma, float), (k,)).copy()
    given = np.isfinite(sigma)
    if (sigma[given] <= 0).any():
        raise ValueError(f"{name} must be positive (inf or NaN: not fitted), got {sigma.tolist()}")
    w = np.zeros(k)
    w[given] = 1.0 / sigma[given] ** 2
    return w


def observables_loss(observables: SpectroscopicObservables, targets: SpectroscopicTargets) -> jax.Array:
    """Reduced χ²: mean over the fitted observables of ((computed − target) / σ)².

    Args:
      observables: [k] arrays from :func:`spectroscopic_observables` (with FC factors when the
        targets have them).
      targets: [k] arrays with the same k (weights 1/σ²).

    Returns:
      scalar, dimensionless; 0 when nothing is fitted.
    """
    terms = targets.term_weights * (observables.term_values_inv_cm - targets.term_values_inv_cm) ** 2
    rot = targets.rotational_weights * (observables.rotational_constants_inv_cm - targets.rotational_constants_inv_cm) ** 2
    total = jnp.sum(terms) + jnp.sum(rot)
    count = jnp.sum(targets.term_weights > 0) + jnp.sum(targets.rotational_weights > 0)
    if targets.franck_condon is not None:
        if observables.franck_condon_factors is None:
            raise ValueError("the targets have Franck–Condon factors but the observables do not (pass fixed_wavefunctions)")
        fc = targets.franck_condon
        total = total + jnp.sum(fc.weights * (observables.franck_condon_factors - fc.factors) ** 2)
        count = count + jnp.sum(fc.weights > 0)
    return total / jnp.maximum(count, 1)


def spectroscopic_loss(r_angstrom, potential_hartree, reduced_mass_amu, targets: SpectroscopicTargets) -> jax.Array:
    """Reduced χ² of the curve V(r) against measured term values, B_v and FC factors (:func:`observables_loss`).

    Args:
      r_angstrom: [n] Å, uniform DVR grid with r > 0, covering every level of ``targets``.
      potential_hartree: [n] hartree.
      reduced_mass_amu: μ, scalar u.
      targets: :class:`SpectroscopicTargets` for v = 0 … k − 1 (k ≤ n), optionally with
        Franck–Condon factors against a fixed curve (on the same grid).

    Returns:
      scalar, dimensionless; differentiable with respect to ``potential_hartree``.
    """
    fixed = None if targets.franck_condon is None else targets.franck_condon.fixed_wavefunctions
    observed = spectroscopic_observables(r_angstrom, potential_hartree, reduced_mass_amu, targets.num_levels, fixed_wavefunctions=fixed)
    return observables_loss(observed, targets)


def morse_from_observables(targets: SpectroscopicTargets, reduced_mass_amu, default_r_e_angstrom=1.0):
    """Morse (D_e, a, r_e) whose levels match the targets to second order: a starting point for fits.

    Weighted least squares of the fitted term values on the Morse form
    G(v) − G(0) = ω v − ωx v (v + 1) gives ħω and ħωx, then D_e = ω² / (4 ωx) and
    a = ω / sqrt(2 D_e / μ) (atomic units); r_e = ħ / sqrt(2 μ B_0) when B_0 is fitted (r_0 ≥ r_e,
    within about 1 % for H₂), else ``default_r_e_angstrom``. Needs at least two fitted term values;
    jit- and vmap-safe (a 2 × 2 solve).

    Args:
      targets: [k] :class:`SpectroscopicTargets`.
      reduced_mass_amu: μ, scalar u.
      default_r_e_angstrom: r_e (Å) when B_0 is not fitted (term values do not fix it).

    Returns:
      (D_e hartree, a 1/Å, r_e Å) scalars.
    """
    v = jnp.arange(targets.num_levels, dtype=jnp.result_type(targets.term_values_inv_cm, float))
    basis = jnp.stack([v, -v * (v + 1.0)], axis=-1)  # [k, 2]
    w = targets.term_weights / jnp.maximum(jnp.max(targets.term_weights), 1e-300)  # scale-free
    normal = basis.T @ (w[:, None] * basis)
    omega, omega_x = jnp.linalg.solve(normal, basis.T @ (w * targets.term_values_inv_cm)) / HARTREE_TO_INV_CM
    mass_au = jnp.asarray(reduced_mass_amu) * AMU_TO_ELECTRON_MASS
    d_e = omega**2 / (4.0 * omega_x)
    a = omega / jnp.sqrt(2.0 * d_e / mass_au) / BOHR_TO_ANGSTROM
    b0 = jnp.where(targets.rotational_weights[0] > 0, targets.rotational_constants_inv_cm[0], 1.0) / HARTREE_TO_INV_CM
    r_0 = BOHR_TO_ANGSTROM / jnp.sqrt(2.0 * mass_au * b0)
    r_e = jnp.where(targets.rotational_weights[0] > 0, r_0, default_r_e_angstrom)
    return d_e, a, r_e
