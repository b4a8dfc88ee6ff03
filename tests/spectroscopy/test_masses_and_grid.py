"""hybridpot.spectroscopy masses (reduced mass of any diatomic and isotopologue) and grid checks."""

import numpy as np
import pytest

from hybridpot.spectroscopy import (
    H2_REDUCED_MASS_AMU,
    DVRConvergenceWarning,
    atomic_mass_amu,
    check_grid_convergence,
    diatomic_atoms,
    isotopologue_atoms,
    morse_vibrational_energies,
    reduced_mass_amu,
    uniform_grid,
)
from hybridpot.units import HARTREE_TO_INV_CM


def test_h2_reduced_mass_from_the_atoms_is_the_constant_exactly():
    # The study's H2 numbers stay identical only if this is bit-for-bit the old constant.
    assert reduced_mass_amu("H", "H") == H2_REDUCED_MASS_AMU
    assert reduced_mass_amu(*diatomic_atoms("H2")) == H2_REDUCED_MASS_AMU


def test_isotopologue_masses():
    m_h, m_d = 1.00782503223, 2.01410177812  # AME2020 atomic masses of 1H and 2H
    assert atomic_mass_amu("D") == m_d
    assert reduced_mass_amu("D", "D") == m_d / 2
    assert reduced_mass_amu("H", "D") == pytest.approx(m_h * m_d / (m_h + m_d), rel=1e-15)
    # ⁷Li (ASE's most abundant isotope) with ¹H; explicit masses win for any other isotope.
    assert reduced_mass_amu("Li", "H") == pytest.approx(7.0160034366 * m_h / (7.0160034366 + m_h), rel=1e-15)
    assert reduced_mass_amu(6.0151228874, "H") == pytest.approx(6.0151228874 * m_h / (6.0151228874 + m_h), rel=1e-15)


@pytest.mark.parametrize(
    "formula, atoms",
    [("H2", ("H", "H")), ("HD", ("H", "D")), ("D2", ("D", "D")), ("LiH", ("Li", "H")), ("HeH+", ("He", "H")), ("CO", ("C", "O"))],
)
def test_diatomic_formulas(formula, atoms):
    assert diatomic_atoms(formula) == atoms


@pytest.mark.parametrize("formula, match", [("H2O", "has 3 atoms"), ("XyH", "unknown element"), ("h2", "cannot read")])
def test_bad_formulas(formula, match):
    with pytest.raises(ValueError, match=match):
        diatomic_atoms(formula)


def test_isotopologue_must_share_the_elements():
    assert isotopologue_atoms("DH", ("H", "H")) == ("D", "H")
    with pytest.raises(ValueError, match="not an isotopologue"):
        isotopologue_atoms("LiD", ("H", "H"))
    with pytest.raises(ValueError, match="positive"):
        reduced_mass_amu(-1.0, "H")


def test_uniform_grid():
    r = uniform_grid(0.5, 1.0, 0.1)
    np.testing.assert_allclose(r, [0.5, 0.6, 0.7, 0.8, 0.9, 1.0], rtol=0, atol=1e-15)
    with pytest.raises(ValueError, match="start < stop"):
        uniform_grid(1.0, 0.5, 0.1)


def _morse(r, d_e=0.1745, a=1.94, r_e=0.741):
    return d_e * (1.0 - np.exp(-a * (r - r_e))) ** 2


def test_converged_grid_passes_and_matches_the_analytic_levels(recwarn):
    r = uniform_grid(0.2, 4.0, 0.05)
    check = check_grid_convergence(_morse, r, H2_REDUCED_MASS_AMU, 5)
    assert check.converged and check.max_change_inv_cm < 0.01 and check.change_inv_cm.shape == (5,)
    assert not [w for w in recwarn if issubclass(w.category, DVRConvergenceWarning)]
    # The grid it accepts does give the exact Morse levels (independent reference).
    from hybridpot.spectroscopy import vibrational_states
    import jax

    with jax.enable_x64(True):
        dvr = np.asarray(vibrational_states(r, _morse(r), H2_REDUCED_MASS_AMU, 5, differentiable=False).energies_hartree)
    exact = np.asarray(morse_vibrational_energies(0.1745, 1.94, H2_REDUCED_MASS_AMU, 5))
    assert np.abs(dvr - exact).max() * HARTREE_TO_INV_CM < 0.01


@pytest.mark.parametrize(
    "grid, why",
    [((0.2, 4.0, 0.15), "too coarse"), ((0.55, 4.0, 0.05), "too short: cuts the inner wall")],
)
def test_unconverged_grid_warns(grid, why):
    with pytest.warns(DVRConvergenceWarning, match="not converged for Morse"):
        check = check_grid_convergence(_morse, uniform_grid(*grid), H2_REDUCED_MASS_AMU, 5, name="Morse")
    assert not check.converged and check.max_change_inv_cm > 0.01, why
