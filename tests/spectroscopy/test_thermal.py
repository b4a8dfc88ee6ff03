"""Rovibrational thermal averages: a harmonic oscillator's exact ⟨K⟩ = (ħω/4) coth(ħω/2kT) and
⟨r⟩ = r_e; a stiff, heavy rotor's rotational kinetic energy = the rigid-rotor sum; input checks."""

import numpy as np
import pytest

from hybridpot.spectroscopy import rovibrational_thermal_averages
from hybridpot.units import AMU_TO_ELECTRON_MASS, BOHR_TO_ANGSTROM, BOLTZMANN_EV_PER_K, EV_TO_HARTREE

K_B = BOLTZMANN_EV_PER_K * EV_TO_HARTREE  # hartree / K


def harmonic(r, omega, r_e, mu):
    x = (r - r_e) / BOHR_TO_ANGSTROM
    return 0.5 * mu * AMU_TO_ELECTRON_MASS * omega**2 * x**2


@pytest.mark.parametrize("temperature", [300.0, 3000.0])
def test_harmonic_oscillator_without_rotation_is_exact(temperature):
    omega, r_e, mu = 0.02, 0.74, 0.5039  # hartree (4390 cm⁻¹), Å, u: H2-like
    r = np.linspace(0.04, 1.44, 561)  # symmetric about r_e, ±5.5 ground-state widths and more
    out = rovibrational_thermal_averages(r, harmonic(r, omega, r_e, mu), mu, temperature, j_max=0, n_vibrational=12)
    assert out.kinetic_hartree == pytest.approx(omega / 4 / np.tanh(omega / (2 * K_B * temperature)), rel=1e-9)
    assert out.mean_distance_angstrom == pytest.approx(r_e, abs=1e-10)
    assert out.truncation_weight < 1e-8


def test_stiff_heavy_rotor_adds_the_rigid_rotor_kinetic_energy():
    omega, r_e, mu, temperature = 0.02, 1.2, 20.0, 60.0
    r = np.linspace(1.0, 1.4, 121)
    v = harmonic(r, omega, r_e, mu)
    j_max = 40
    vib = rovibrational_thermal_averages(r, v, mu, temperature, j_max=0, n_vibrational=3)
    both = rovibrational_thermal_averages(r, v, mu, temperature, j_max=j_max, n_vibrational=3)
    b = 1.0 / (2 * mu * AMU_TO_ELECTRON_MASS * (r_e / BOHR_TO_ANGSTROM) ** 2)  # hartree
    j = np.arange(j_max + 1)
    e_rot = b * j * (j + 1)
    w = (2 * j + 1) * np.exp(-e_rot / (K_B * temperature))
    rigid = (w @ e_rot) / w.sum()
    # what remains is centrifugal stretching and ⟨1/r²⟩ ≠ 1/r_e², of relative order kT/(μω²r_e²) here
    assert both.kinetic_hartree - vib.kinetic_hartree == pytest.approx(rigid, rel=2e-3)
    assert both.mean_distance_angstrom > vib.mean_distance_angstrom  # rotation stretches the bond
    assert both.truncation_weight < 1e-8


def test_bad_input_is_named():
    r = np.linspace(0.2, 1.3, 101)
    v = harmonic(r, 0.02, 0.74, 0.5)
    with pytest.raises(ValueError, match="temperature_kelvin"):
        rovibrational_thermal_averages(r, v, 0.5, 0.0, j_max=2)
    with pytest.raises(ValueError, match="j_max"):
        rovibrational_thermal_averages(r, v, 0.5, 300.0, j_max=-1)
