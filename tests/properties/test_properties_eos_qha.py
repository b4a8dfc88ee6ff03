"""Equation of state and the quasi-harmonic approximation: the Birch–Murnaghan fit against ASE's, EMT's bulk
modulus from the EOS against its elastic constants, V(T) and α(T) against phonopy's QHA on the same free
energies, the Grüneisen relation, bad input."""

import numpy as np
import pytest
from ase import units
from ase.build import bulk
from ase.calculators.emt import EMT
from properties_helpers import EMT_CUTOFF, emt_lattice_constant

from hybridpot.properties import (
    CalculatorSource,
    birch_murnaghan_energy,
    elastic_constants,
    equation_of_state,
    fit_birch_murnaghan,
    phonons,
    quasi_harmonic,
)


def test_fit_recovers_birch_murnaghan_parameters():
    v = np.linspace(14.0, 18.0, 9)
    truth = (-3.1, 16.2, 0.45, 4.7)
    fit = fit_birch_murnaghan(v, birch_murnaghan_energy(v, *truth))
    np.testing.assert_allclose(tuple(fit), truth, rtol=1e-8)
    assert fit.b0_GPa == pytest.approx(0.45 / units.GPa)


@pytest.mark.parametrize("symbol", ["Al", "Ni"])
def test_emt_eos_against_ase_and_elastic_constants(symbol):
    from ase.eos import EquationOfState

    atoms = bulk(symbol, "fcc", a=emt_lattice_constant(symbol))
    eos = equation_of_state(atoms, EMT())
    reference = EquationOfState(eos["volumes_A3"], eos["energies_eV"], eos="birchmurnaghan")
    v0, e0, b0 = reference.fit()
    assert eos["v0_A3"] == pytest.approx(v0, rel=1e-7) and eos["e0_eV"] == pytest.approx(e0, abs=1e-9)
    assert eos["b0_GPa"] == pytest.approx(b0 / units.GPa, rel=1e-6)
    assert eos["b0_prime"] == pytest.approx(reference.eos_parameters[2], rel=1e-5)
    # B0 is a fit over a finite range: it tends to the curvature (C11 + 2 C12) / 3 as the range shrinks
    c = elastic_constants(atoms, EMT()).relaxed
    narrow = equation_of_state(atoms, EMT(), strains=np.linspace(-0.005, 0.005, 9))
    assert narrow["b0_GPa"] == pytest.approx((c[0, 0] + 2 * c[0, 1]) / 3, rel=2e-3)
    assert abs(eos["b0_GPa"] - narrow["b0_GPa"]) < 0.05 * narrow["b0_GPa"]


def test_eos_errors():
    with pytest.raises(ValueError, match="no minimum inside the scanned volumes"):
        equation_of_state(bulk("Al", "fcc", a=3.6), EMT(), strains=np.linspace(-0.02, 0.02, 5))
    with pytest.raises(ValueError, match="at least 4"):
        fit_birch_murnaghan([1.0, 2.0, 3.0], [0.0, -1.0, 0.0])


def _emt_al_qha(temperatures):
    atoms = bulk("Al", "fcc", a=emt_lattice_constant("Al"))
    return atoms, quasi_harmonic(atoms, CalculatorSource(EMT(), cutoff=EMT_CUTOFF), temperatures, mesh=(10, 10, 10))


@pytest.mark.filterwarnings("ignore:PhonopyQHA is deprecated")
def test_qha_against_phonopy_and_the_gruneisen_relation():
    temperatures = np.arange(0.0, 801.0, 10.0)
    atoms, q = _emt_al_qha(temperatures)
    assert q["left_out_temperatures_K"] == [] and q["n_imaginary"] == [0] * 7
    i = q["temperature_K"].index(300.0)
    alpha = q["linear_expansion_per_K"][i]
    assert 1e-5 < alpha < 1e-4 and q["volume_A3"][i] > q["volume_A3"][0] > atoms.get_volume()  # zero-point expansion
    # Grüneisen relation 3α = γ C_V / (B V), with C_V at V(300 K): QHA is consistent with it to a few %
    hot = bulk("Al", "fcc", a=emt_lattice_constant("Al") * q["lattice_scale"][i])
    cv = phonons(hot, CalculatorSource(EMT(), cutoff=EMT_CUTOFF)).thermal_properties([300.0], (10, 10, 10))
    rhs = q["gruneisen"][i] * cv["heat_capacity_eV_per_K"][0] / (q["bulk_modulus_GPa"][i] * units.GPa * q["volume_A3"][i])
    assert 3 * alpha == pytest.approx(rhs, rel=0.08)

    phonopy = pytest.importorskip("phonopy")
    v, f, e = (np.asarray(q[k]) for k in ("volumes_A3", "free_energies_eV", "static_energies_eV"))
    kj_mol = units._e * units._Nav / 1000
    zeros = np.zeros((temperatures.size, v.size))  # C_V and S only enter phonopy's C_P, not V(T)
    reference = phonopy.PhonopyQHA(volumes=v, electronic_energies=e, temperatures=temperatures,
                                   free_energy=(f - e[:, None]).T * kj_mol, cv=zeros, entropy=zeros,
                                   eos="birch_murnaghan", verbose=False)
    n = len(reference.volume_temperature)  # phonopy drops its last temperature
    np.testing.assert_allclose(q["volume_A3"][:n], reference.volume_temperature, rtol=1e-6)
    np.testing.assert_allclose(3 * np.asarray(q["linear_expansion_per_K"][1:n - 1]),
                               reference.thermal_expansion[1:n - 1], rtol=1e-4)


def test_qha_errors():
    atoms = bulk("Al", "fcc", a=emt_lattice_constant("Al"))
    source = CalculatorSource(EMT(), cutoff=EMT_CUTOFF)
    with pytest.raises(ValueError, match="at least 4 volumes"):
        quasi_harmonic(atoms, source, strains=[0.0, 0.01, 0.02])
    with pytest.raises(ValueError, match="no minimum inside the scanned volumes"):
        quasi_harmonic(atoms, source, strains=np.linspace(0.02, 0.06, 5), mesh=(4, 4, 4))
