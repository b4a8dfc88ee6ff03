"""Constants against values derived independently from the SI defining constants."""

import numpy as np

from hybridpot import units

E = 1.602176634e-19  # C (exact)
N_A = 6.02214076e23  # 1/mol (exact)
EPS0 = 8.8541878128e-12  # F/m (CODATA 2018)


def test_coulomb_constant_from_si():
    k_e = E**2 / (4 * np.pi * EPS0) / E * 1e10  # eV·Å
    np.testing.assert_allclose(units.COULOMB_CONSTANT, k_e, rtol=1e-9)
    assert round(units.COULOMB_CONSTANT, 6) == 14.399645


def test_energy_conversions_are_consistent():
    np.testing.assert_allclose(units.KCAL_PER_MOL_TO_EV, 4184 / (N_A * E), rtol=1e-15)
    # 1 E_h = 627.509474 kcal/mol (CODATA 2018)
    np.testing.assert_allclose(units.HARTREE_TO_EV / units.KCAL_PER_MOL_TO_EV, 627.509474, rtol=1e-8)
    np.testing.assert_allclose(units.HARTREE_TO_EV * units.EV_TO_HARTREE, 1.0)
    np.testing.assert_allclose(units.BOHR_TO_ANGSTROM * units.ANGSTROM_TO_BOHR, 1.0)
