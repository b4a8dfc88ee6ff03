"""Franck–Condon factors between vibrational states of two potential curves.

    FC(v → v') = ( ∫ ψ_v(r) ψ'_v'(r) dr )²,   each ψ normalised so that ∫ ψ² dr = 1,

with every integral done by composite Simpson's rule over the grid r, as in the code of
El Haloui et al. (2025), Sec. 3.2, which evaluates FC(0 → v') from the X ¹Σg⁺ ground state to the
EF ¹Σg⁺ state of H₂ on r = 0.5, 0.51, …, 8.99 Å (:func:`franck_condon_grid`).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from hybridpot._checks import check_shape
from hybridpot.spectroscopy.dvr import (
    _check_uniform_grid,
    _grid_spacing,
    vibrational_states,
)


def franck_condon_grid() -> np.ndarray:
    """The paper's evaluation grid r = 0.5, 0.51, …, 8.99 Å.

    Built as i / 100 for integer i = 50 … 899, so every point is the float nearest its decimal
    value (no drift from repeated addition of 0.01).

    Returns:
      [850] Å, float64 NumPy array.
    """
    return np.arange(50, 900, dtype=np.int64) / 100.0


def simpson_weights(n_points: int) -> np.ndarray:
    """Composite-Simpson weights w (in units of the spacing h): ∫ f dx ≈ h Σ_i w_i f(x_i).

    Odd n: w = [1, 4, 2, 4, …, 2, 4, 1] / 3. Even n: Simpson over the first n − 1 points plus the
    last interval by the quadratic through the last three points,
    ∫_{x_{n−2}}^{x_{n−1}} f ≈ h (5 f_{n−1} + 8 f_{n−2} − f_{n−3}) / 12, which is what
    ``scipy.integrate.simpson`` does (SciPy ≥ 1.11) on a uniform grid. n = 2: trapezoid.

    Args:
      n_points: n ≥ 2.

    Returns:
      [n] float64.
    """
    n = int(n_points)
    if n < 2:
        raise ValueError(f"Simpson's rule needs at least 2 points, got {n}")
    if n == 2:
        return np.array([0.5, 0.5])
    m = n if n % 2 == 1 else n - 1
    w = np.zeros(n)
    w[:m] = 2.0
    w[1:m:2] = 4.0
    w[0] = w[m - 1] = 1.0
    w /= 3.0
    if n % 2 == 0:
        w[-3:] += np.array([-1.0, 8.0, 5.0]) / 12.0
    return w


def simpson_integrate(y, x) -> jax.Array:
    """∫ y dx by composite Simpson's rule over the last axis (see :func:`simpson_weights`).

    Args:
      y: [..., n] values on the grid.
      x: [n] uniform, increasing grid (checked when concrete).

    Returns:
      [...] integrals, in units of y times units of x.
    """
    _check_uniform_grid("x", x)
    n = np.shape(x)[0]
    if np.shape(y)[-1:] != (n,):
        raise ValueError(f"y must have last axis of length {n} to match x, got shape {list(np.shape(y))}")
    x = jnp.asarray(x)
    y = jnp.asarray(y)
    w = jnp.asarray(simpson_weights(n), jnp.result_type(y, x, float))
    return _grid_spacing(x) * (y @ w)


def franck_condon_factors(psi_initial, psi_final, r) -> jax.Array:
    """FC factors (∫ ψ_i ψ_f dr)² from one initial state to k final states.

    Both wavefunctions are first normalised by Simpson's rule, ψ ← ψ / sqrt(∫ ψ² dr), so their
    overall scale and sign do not matter (grid vectors from :func:`vibrational_states` are fine).

    Args:
      psi_initial: [n] initial-state wavefunction on r.
      psi_final: [k, n] final-state wavefunctions on r.
      r: [n] Å, uniform grid (checked when concrete).

    Returns:
      [k] dimensionless, each in [0, 1].
    """
    n = np.shape(r)[0]
    check_shape("psi_initial", psi_initial, (n,))
    check_shape("psi_final", psi_final, (None, n))
    psi_initial = jnp.asarray(psi_initial)
    psi_final = jnp.asarray(psi_final)
    norm_i = simpson_integrate(psi_initial**2, r)
    norm_f = simpson_integrate(psi_final**2, r)
    overlap = simpson_integrate(psi_final * psi_initial, r)
    return overlap**2 / (norm_i * norm_f)


def franck_condon_vector(
    r_angstrom, potential_initial_hartree, potential_final_hartree, reduced_mass_amu, num_final: int,
    *, differentiable: bool = True,
) -> jax.Array:
    """FC factors from v = 0 of the initial curve to v' = 0 … num_final − 1 of the final curve.

    Levels from :func:`vibrational_states` (sinc DVR) on the grid itself, overlaps from
    :func:`franck_condon_factors` (Simpson). Differentiable with respect to both potentials.

    Args:
      r_angstrom: [n] Å, uniform grid, e.g. :func:`franck_condon_grid`.
      potential_initial_hartree: [n] hartree, initial (lower) curve.
      potential_final_hartree: [n] hartree, final (upper) curve.
      reduced_mass_amu: scalar u, e.g. ``H2_REDUCED_MASS_AMU``.
      num_final: number of final levels k (Python int, ≤ n).
      differentiable: False for the faster eager eigensolver of :func:`vibrational_states`
        (evaluation only: no jit, vmap or grad).

    Returns:
      [k] dimensionless FC(0 → v').
    """
    initial = vibrational_states(r_angstrom, potential_initial_hartree, reduced_mass_amu, 1, differentiable=differentiable)
    final = vibrational_states(r_angstrom, potential_final_hartree, reduced_mass_amu, num_final, differentiable=differentiable)
    return franck_condon_factors(initial.wavefunctions[0], final.wavefunctions, r_angstrom)
