"""Phonons: EMT against ASE's own finite-difference phonons and against phonopy on the same force constants,
the exact JAX force constants against finite differences of their calculator, thermodynamic identities,
imaginary modes, bad input."""

import numpy as np
import pytest
from ase import Atoms, units
from ase.build import bulk
from ase.calculators.emt import EMT
from properties_helpers import EMT_CUTOFF, eam_hybrid, eam_lattice_constant, emt_lattice_constant

from hybridpot.md import HybridpotCalculator
from hybridpot.properties import CalculatorSource, Phonons, phonons

#: Commensurate with a 6 × 6 × 6 supercell, and some that are not.
Q_COMMENSURATE = np.array([[0, 0, 0], [3, 3, 0], [2, 0, 4], [1, 2, 5]]) / 6
Q_GENERAL = np.array([[0.5, 0.5, 0.0], [0.5, 0.25, 0.75], [0.13, 0.31, 0.07]])


def _emt_phonons(symbol="Al", supercell=(6, 6, 6)):
    atoms = bulk(symbol, "fcc", a=emt_lattice_constant(symbol))
    return phonons(atoms, CalculatorSource(EMT(), cutoff=EMT_CUTOFF), supercell)


@pytest.mark.parametrize("symbol", ["Al", "Ni"])
def test_emt_against_ase_phonons(symbol, tmp_path, monkeypatch):
    from ase.phonons import Phonons as AsePhonons

    ours = _emt_phonons(symbol)
    monkeypatch.chdir(tmp_path)  # ASE's Phonons caches its displacements in the working directory
    atoms = bulk(symbol, "fcc", a=emt_lattice_constant(symbol))
    reference = AsePhonons(atoms, EMT(), supercell=(6, 6, 6), delta=0.005)
    reference.run()
    reference.read(acoustic=False)
    ase_ev = np.sort(reference.band_structure(Q_COMMENSURATE, modes=False), axis=1)  # q in reciprocal-lattice units
    ase_thz = ase_ev / (units._hplanck * 1e12 / units._e)
    np.testing.assert_allclose(ours.frequencies(Q_COMMENSURATE), ase_thz, atol=2e-3)
    assert ours.frequencies(Q_COMMENSURATE)[1:].min() > 1.0


def _phonopy(ph: Phonons):
    """phonopy on the same unit cell, masses and force constants (reordered to its supercell)."""
    phonopy = pytest.importorskip("phonopy")
    from phonopy.structure.atoms import PhonopyAtoms

    unit = ph.unit
    cell = PhonopyAtoms(symbols=unit.get_chemical_symbols(), cell=np.asarray(unit.get_cell()),
                        scaled_positions=unit.get_scaled_positions(), masses=unit.get_masses())
    p = phonopy.Phonopy(cell, supercell_matrix=np.diag(ph.supercell), primitive_matrix=None)
    ours = unit.repeat(ph.supercell)
    big = np.asarray(ours.get_cell())
    # phonopy's supercell atom k is our atom order[k]: same position modulo the supercell lattice
    diff = p.supercell.positions[:, None] - ours.get_positions()[None]
    frac = diff @ np.linalg.inv(big)
    order = np.argmin(np.linalg.norm((frac - np.round(frac)) @ big, axis=-1), axis=1)
    fc = np.transpose(ph.force_constants, (0, 2, 1, 3))[:, order]  # [n, N, 3, 3] compact
    assert [order[i] for i in p.primitive.p2s_map] == list(range(len(unit)))
    p.force_constants = fc
    return p


def test_against_phonopy_on_the_same_force_constants():
    ph = _emt_phonons("Ni")
    p = _phonopy(ph)
    p.run_qpoints(np.concatenate([Q_COMMENSURATE, Q_GENERAL]))
    reference = p.qpoints.frequencies
    np.testing.assert_allclose(ph.frequencies(np.concatenate([Q_COMMENSURATE, Q_GENERAL])), np.sort(reference, 1),
                               atol=1e-6)
    temperatures = np.array([10.0, 300.0, 1000.0])
    p.run_mesh([8, 8, 8], is_gamma_center=True)
    p.run_thermal_properties(temperatures=temperatures, exclude_gamma_acoustic=True)  # as ours: ν ≈ 0 left out
    tp = p.thermal_properties
    ours = ph.thermal_properties(temperatures, (8, 8, 8))
    ev_per_kj_mol = 1000 / (units._e * units._Nav)
    # rtol 2e-5: phonopy carries its own (older CODATA) k_B, h and eV
    np.testing.assert_allclose(ours["free_energy_eV"], tp.free_energy * ev_per_kj_mol, rtol=2e-5)
    np.testing.assert_allclose(ours["entropy_eV_per_K"], tp.entropy * ev_per_kj_mol / 1000, rtol=2e-5)
    np.testing.assert_allclose(ours["heat_capacity_eV_per_K"], tp.heat_capacity * ev_per_kj_mol / 1000, rtol=2e-5)


@pytest.mark.heavy  # over 20 s of compilation on 2 cores
def test_exact_force_constants_match_finite_differences_of_their_calculator():
    pot = eam_hybrid()
    atoms = bulk("Al", "fcc", a=eam_lattice_constant())
    exact = phonons(atoms, pot)
    assert exact.supercell == (5, 5, 5)  # the smallest diagonal supercell 2 × 5 Å wide
    fd = phonons(atoms, CalculatorSource(HybridpotCalculator(pot), cutoff=pot.cutoff), exact.supercell)
    np.testing.assert_allclose(exact.force_constants, fd.force_constants, atol=2e-5)
    np.testing.assert_allclose(exact.frequencies(Q_GENERAL), fd.frequencies(Q_GENERAL), atol=1e-4)
    # translation invariance (acoustic sum rule) holds exactly for the exact force constants
    np.testing.assert_allclose(exact.force_constants.sum(axis=2), 0, atol=1e-10)


def test_thermodynamic_identities_and_dos():
    ph = _emt_phonons("Al")
    t = np.array([299.0, 300.0, 301.0, 3000.0])
    th = ph.thermal_properties(t, (10, 10, 10))
    f, s, cv = (np.asarray(th[k]) for k in ("free_energy_eV", "entropy_eV_per_K", "heat_capacity_eV_per_K"))
    assert s[1] == pytest.approx(-(f[2] - f[0]) / 2, rel=1e-5)  # S = −∂F/∂T
    assert cv[1] == pytest.approx(300 * (s[2] - s[0]) / 2, rel=1e-3)  # C_V = T ∂S/∂T
    assert cv[3] == pytest.approx(3 * units.kB, rel=2e-3)  # Dulong–Petit, 3 k_B per atom
    zero = ph.thermal_properties([0.0], (10, 10, 10))
    assert zero["entropy_eV_per_K"] == [0.0] and zero["free_energy_eV"][0] == pytest.approx(zero["zero_point_energy_eV"])
    nu, g = ph.dos((10, 10, 10), width=0.05)
    assert np.trapezoid(g, nu) == pytest.approx(3.0, rel=1e-4)
    path, bands = ph.band_structure(npoints=60)
    assert path.path == "GXWKGLUWLK,UX" and bands.shape == (60, 3)
    assert np.abs(bands[0]).max() < 1e-3 and np.all(np.isfinite(bands))


def test_imaginary_modes_are_negative_frequencies():
    simple_cubic = Atoms("Al", cell=np.eye(3) * 2.7, pbc=True)  # mechanically unstable under EMT
    ph = phonons(simple_cubic, CalculatorSource(EMT(), cutoff=EMT_CUTOFF))
    nu = ph.frequencies([[0.5, 0.5, 0.0], [0.25, 0.0, 0.0]])
    assert np.all(np.isfinite(nu)) and nu.min() < -1.0
    th = ph.thermal_properties([300.0], (6, 6, 6))
    assert th["n_imaginary"] > 0 and th["min_frequency_THz"] < -1.0 and np.isfinite(th["free_energy_eV"][0])


def test_bad_input():
    atoms = bulk("Al", "fcc", a=emt_lattice_constant("Al"))
    with pytest.raises(ValueError, match=r"too small for the cutoff 5.88 Å.*use at least \(6, 6, 6\)"):
        phonons(atoms, CalculatorSource(EMT(), cutoff=EMT_CUTOFF), (3, 3, 3))
    with pytest.raises(ValueError, match="periodic in x, y and z"):
        phonons(Atoms("Al2", positions=[[0, 0, 0], [2.8, 0, 0]]), EMT(), (1, 1, 1))
    rattled = bulk("Al", "fcc", a=emt_lattice_constant("Al"), cubic=True)
    rattled.rattle(0.05, seed=2)
    with pytest.raises(ValueError, match="relaxed structure"):
        phonons(rattled, EMT(), (3, 3, 3))
    with pytest.raises(ValueError, match="give supercell"):
        phonons(atoms, EMT())


def test_atoms_outside_the_cell_give_the_same_phonons():
    atoms = bulk("NiAl", "cesiumchloride", a=2.9)
    shifted = atoms.copy()
    shifted.positions[1] += 7 * atoms.cell[0] - 3 * atoms.cell[2]  # the same crystal, one atom far outside
    source = CalculatorSource(EMT(), cutoff=EMT_CUTOFF)
    np.testing.assert_allclose(phonons(shifted, source, fmax=1.0).frequencies(Q_GENERAL),
                               phonons(atoms, source, fmax=1.0).frequencies(Q_GENERAL), atol=1e-6)
