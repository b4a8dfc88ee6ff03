"""The diatomic study takes its molecule from the data: masses, states, grid (no training here)."""

import numpy as np
import pytest

from hybridpot.io import bundled_h2_curves, bundled_lih_curves, load_curves
from hybridpot.spectroscopy import H2_REDUCED_MASS_AMU, franck_condon_grid, reduced_mass_amu
from hybridpot.studies.diatomic import run as study_run
from hybridpot.studies.diatomic.protocols import get_protocol


def _study_r(curves):
    return curves.distance_angstrom[curves.distance_angstrom < study_run.MAX_DISTANCE_ANGSTROM]


def test_h2_inputs_are_exactly_those_of_the_paper_study():
    # Same mass, grid, states and step tables as before the molecule came from the data, so the
    # H2 numbers are identical (the README's quick study was also compared run against run).
    curves = study_run.load_study_curves("bundled")
    mu, source, name, atoms = study_run.study_reduced_mass(curves)
    assert (mu, name, atoms) == (H2_REDUCED_MASS_AMU, "H2", ("H", "H")) and "H H" in source
    grid, _ = study_run.study_dvr_grid(None, curves, _study_r(curves), hydrogen_only=True)
    np.testing.assert_array_equal(grid, franck_condon_grid())
    names = list(curves.energy_hartree)
    assert names[:2] == ["X", "EF"]
    assert [study_run._table_state(s, names) for s in ("X", "EF")] == ["X", "EF"]


@pytest.mark.parametrize("isotopologue, atoms", [("D2", ("D", "D")), ("HD", ("H", "D"))])
def test_isotopologues_change_only_the_mass(isotopologue, atoms):
    mu, _, name, _ = study_run.study_reduced_mass(bundled_h2_curves(), isotopologue=isotopologue)
    assert (mu, name) == (reduced_mass_amu(*atoms), isotopologue)
    with pytest.raises(ValueError, match="not an isotopologue"):
        study_run.study_reduced_mass(bundled_h2_curves(), isotopologue="LiH")


def test_lih_mass_states_and_data_grid():
    curves = study_run.load_study_curves("lih")
    mu, _, name, _ = study_run.study_reduced_mass(curves)
    assert name == "LiH" and mu == pytest.approx(7.0160034366 * 1.00782503223 / (7.0160034366 + 1.00782503223), rel=1e-14)
    r = _study_r(curves)
    grid, source = study_run.study_dvr_grid(None, curves, r, hydrogen_only=False)
    assert grid[0] == r[0] == pytest.approx(0.8) and grid[-1] == pytest.approx(r[-1])
    np.testing.assert_allclose(np.diff(grid), 0.02, rtol=1e-9)
    assert "data's range" in source
    assert [study_run._table_state(s, ["X", "A"]) for s in ("X", "A")] == ["X", "EF"]
    with pytest.raises(ValueError, match="outside the data's range"):
        study_run.study_dvr_grid((0.5, 6.0, 0.01), curves, r, hydrogen_only=False)
    mu_given, source, _, _ = study_run.study_reduced_mass(curves, masses=(6.0151228874, 1.00782503223))
    assert mu_given < mu and "(given)" in source


def test_a_file_without_molecule_needs_masses(tmp_path):
    lih = bundled_lih_curves()
    path = tmp_path / "anonymous.txt"
    np.savetxt(path, np.c_[lih.distance_angstrom, lih.energy_hartree["X"]], header="units: r in angstrom; energies in hartree")
    curves = load_curves(path)
    with pytest.raises(ValueError, match="anonymous.txt: the curve file names no molecule"):
        study_run.study_reduced_mass(curves)
    with pytest.raises(ValueError, match="names no molecule"):
        study_run.run_diatomic_study(data=path, out=None, progress=False)
    mu, _, name, _ = study_run.study_reduced_mass(curves, masses=(7.0160034366, 1.00782503223))
    assert name == "anonymous" and mu == pytest.approx(reduced_mass_amu("Li", "H"), rel=1e-15)


def test_states_and_pairs_are_checked_against_the_file():
    with pytest.raises(ValueError, match=r"unknown state 'EF'; .*lih_sigma.*\['X', 'A'\]"):
        study_run.run_diatomic_study(data="lih", states=("X", "EF"), out=None, progress=False)
    with pytest.raises(ValueError, match="fc_states must be two different studied states"):
        study_run.run_diatomic_study(data="lih", fc_states=("A", "A"), out=None, progress=False)
    with pytest.raises(ValueError, match="unknown state"):
        get_protocol("paper", "A")  # the paper's tables are named X and EF; the study maps states onto them
