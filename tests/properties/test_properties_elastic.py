"""Elastic constants: EMT against published values and energy finite differences, the exact JAX path against
finite differences of its own ASE calculator, internal relaxation on a non-centrosymmetric crystal, bad input."""

import jax
import numpy as np
import pytest
from ase import Atoms, units
from ase.build import bulk
from ase.calculators.emt import EMT
from properties_helpers import eam_hybrid, eam_lattice_constant, emt_lattice_constant

from hybridpot.md import HybridpotCalculator
from hybridpot.potentials import physics_term
from hybridpot.properties import (
    CalculatorSource,
    GraphEnergySource,
    born_stability,
    elastic_constants,
    voigt_strain,
)


def _energy_fd_cubic(atoms, calc, h=2e-4):
    """C11, C12, C44 (GPa) from second differences of the energy alone (no stress, no hybridpot code)."""
    def energy(e):
        a = atoms.copy()
        deform = np.eye(3) + np.asarray(voigt_strain(np.asarray(e, float)))
        a.set_cell(np.asarray(atoms.get_cell()) @ deform, scale_atoms=True)
        a.calc = calc
        return a.get_potential_energy()

    def second(i, j):
        ei, ej = np.eye(6)[i] * h, np.eye(6)[j] * h
        return (energy(ei + ej) - energy(ei - ej) - energy(-ei + ej) + energy(-ei - ej)) / (4 * h * h)

    v = atoms.get_volume() * units.GPa
    return second(0, 0) / v, second(0, 1) / v, second(3, 3) / v


@pytest.mark.parametrize("symbol", ["Al", "Ni"])
def test_emt_against_energy_finite_differences(symbol):
    atoms = bulk(symbol, "fcc", a=emt_lattice_constant(symbol), cubic=True)
    c = elastic_constants(atoms, EMT())
    reference = _energy_fd_cubic(atoms, EMT())
    np.testing.assert_allclose([c.unrelaxed[0, 0], c.unrelaxed[0, 1], c.unrelaxed[3, 3]], reference, rtol=5e-5)
    np.testing.assert_allclose(c.relaxed, c.unrelaxed, atol=1e-6)  # every atom at an inversion centre
    assert c.born_stability()["stable"] and all(c.born_stability()["cubic"].values())


def test_emt_al_published_values():
    # the 53.3 / 32.9 / 36.2 GPa: EMT Al at its own lattice constant (3.994 Å), not ASE's default 4.05 Å
    c = elastic_constants(bulk("Al", "fcc", a=emt_lattice_constant("Al")), EMT())
    np.testing.assert_allclose([c.relaxed[0, 0], c.relaxed[0, 1], c.relaxed[3, 3]], [53.3, 32.9, 36.2], atol=0.1)
    b = c.bulk_moduli()
    assert b["voigt"] == pytest.approx(b["reuss"]) == pytest.approx((53.34 + 2 * 32.90) / 3, abs=0.02)


def test_exact_path_matches_finite_differences_of_its_calculator():
    pot = eam_hybrid()
    atoms = bulk("Al", "fcc", a=eam_lattice_constant())
    exact = elastic_constants(atoms, pot)
    fd = elastic_constants(atoms, CalculatorSource(HybridpotCalculator(pot)))
    np.testing.assert_allclose(exact.unrelaxed, fd.unrelaxed, atol=1e-3)
    np.testing.assert_allclose(exact.relaxed, fd.relaxed, atol=1e-3)
    assert exact.unrelaxed[0, 0] > 50  # a real crystal, not a vanishing energy


def test_jit_equals_eager():
    atoms, source, _, _ = _diamond_morse()
    graph, triplets = source._inputs(atoms)
    tangent = np.zeros((1,) + graph.nodes["positions"].shape)
    tangent[0, 0] = [0.3, -0.2, 0.5]  # one Hessian-vector product (the full eager Hessian takes ~10 s)
    for name, eager, args in [("energy_forces", source._energy_forces_fn, ()), ("rows", source._rows_fn, (tangent,))]:
        for x, y in zip(jax.tree.leaves(source._jit[name](source.params, graph, triplets, *args)),
                        jax.tree.leaves(eager(source.params, graph, triplets, *args))):
            np.testing.assert_allclose(x, y, rtol=1e-12, atol=1e-10)


def _diamond_morse():
    """Diamond (two atoms per cell, not at inversion centres) with a nearest-neighbour-only Morse bond,
    at the lattice constant where the enveloped bond is at its minimum (zero stress, zero forces)."""
    from scipy.optimize import minimize_scalar

    term = physics_term("morse", d_e=2.0, a=1.5, r_e=2.35, envelope_cutoff=3.2)
    source = GraphEnergySource(lambda p, g: term.energy(p, g, None), {}, term.cutoff)
    dimer = lambda r: source.energy_forces(Atoms("Si2", positions=[[0, 0, 0], [r, 0, 0]]))[0]  # noqa: E731
    r0 = minimize_scalar(dimer, bounds=(2.0, 2.6), method="bounded", options={"xatol": 1e-9}).x
    h = 1e-4
    k = (dimer(r0 + h) - 2 * dimer(r0) + dimer(r0 - h)) / h**2  # bond stiffness, eV/Å²
    a = 4 * r0 / np.sqrt(3)
    return bulk("Si", "diamond", a=a), source, k, a


def test_internal_relaxation_on_diamond():
    atoms, source, k, a = _diamond_morse()
    c = elastic_constants(atoms, source)
    # central nearest-neighbour springs (Keating with β = 0): clamped ions C11 = C12 = C44 = k / 3a
    np.testing.assert_allclose(np.diag(c.unrelaxed)[[0, 3]], k / (3 * a) / units.GPa, rtol=1e-5)
    np.testing.assert_allclose(c.unrelaxed[0, 1], k / (3 * a) / units.GPa, rtol=1e-5)
    # relaxing the two sublattices removes the shear stiffness entirely; C11, C12 do not change
    assert abs(c.relaxed[3, 3]) < 1e-6 * c.unrelaxed[3, 3]
    np.testing.assert_allclose(c.relaxed[:3, :3], c.unrelaxed[:3, :3], rtol=1e-8)
    assert c.internal_min_eigenvalue > 0 and not born_stability(c.relaxed)["stable"]
    assert born_stability(c.relaxed)["cubic"] == {"C11-C12>0": False, "C11+2C12>0": True, "C44>0": False}
    fd = elastic_constants(atoms, CalculatorSource(_FakeCalc(source), displacement=1e-4, strain=1e-5))
    np.testing.assert_allclose(fd.relaxed, c.relaxed, atol=1e-3)
    np.testing.assert_allclose(fd.unrelaxed, c.unrelaxed, atol=1e-3)


class _FakeCalc:
    """A minimal ASE-like calculator over a source, with stress by the exact strain gradient."""

    def __init__(self, source):
        self.source = source

    def get_potential_energy(self, atoms):
        return self.source.energy_forces(atoms)[0]

    def get_forces(self, atoms):
        return self.source.energy_forces(atoms)[1]

    def get_stress(self, atoms):
        from ase.stress import full_3x3_to_voigt_6_stress

        return full_3x3_to_voigt_6_stress(self.source.derivatives(atoms).stress)


def test_bad_input():
    pot = eam_hybrid()
    molecule = Atoms("Al2", positions=[[0, 0, 0], [2.8, 0, 0]])
    with pytest.raises(ValueError, match="periodic in x, y and z"):
        elastic_constants(molecule, pot)
    rattled = bulk("Al", "fcc", a=eam_lattice_constant(), cubic=True)
    rattled.rattle(0.05, seed=1)
    with pytest.raises(ValueError, match="relaxed structure.*Relax the atoms first"):
        elastic_constants(rattled, pot)
    with pytest.raises(ValueError, match="relaxed structure"):
        elastic_constants(rattled, EMT())


@pytest.mark.heavy  # compiles the Hessian of an angular Behler–Parrinello network (the heavy model families)
def test_angular_network_through_triplets_on_diamond():
    from hybridpot.models.behler_parrinello import behler_parrinello_model_args
    from hybridpot.models.descriptors import DescriptorScaling, symmetry_function_spec
    from hybridpot.potentials import TrainedPotential

    spec = symmetry_function_spec((14,), cutoff=3.5, num_radial=3, num_angular_eta=2)
    rng = np.random.default_rng(0)
    shape = (spec.n_species, spec.n_features)
    scaling = DescriptorScaling(rng.normal(size=shape), 1 + rng.random(shape), np.array([4]))
    args = {**behler_parrinello_model_args(spec, scaling, hidden=(8,)), "param_dtype": "float64"}
    pot = TrainedPotential.from_init("behler_parrinello", args, seed=1)
    assert pot.needs_triplets
    atoms = bulk("Si", "diamond", a=5.43)  # zero forces by symmetry, whatever the weights
    exact = elastic_constants(atoms, pot)
    fd = elastic_constants(atoms, CalculatorSource(HybridpotCalculator(pot), displacement=1e-4, strain=1e-5))
    np.testing.assert_allclose(exact.unrelaxed, fd.unrelaxed, atol=1e-3 * np.abs(exact.unrelaxed).max())
    np.testing.assert_allclose(exact.relaxed, fd.relaxed, atol=1e-3 * np.abs(exact.unrelaxed).max())
    assert abs(exact.relaxed[3, 3] - exact.unrelaxed[3, 3]) > 1e-3 * abs(exact.unrelaxed[3, 3])  # internal strain
