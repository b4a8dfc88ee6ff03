"""ASE calculator: matches the model, passes ASE's finite-difference checks, runs MD without recompiling."""

import jax
import numpy as np
import pytest
from ase import Atoms
from ase.calculators.calculator import PropertyNotImplementedError
from ase.calculators.fd import calculate_numerical_forces, calculate_numerical_stress
from md_helpers import copper, hybrid_potential

from hybridpot.graph import build_triplets
from hybridpot.md import HybridpotCalculator
from hybridpot.potential import energy_forces_stress


@pytest.fixture(scope="module")
def ensemble():
    return hybrid_potential(n_members=3)


def test_matches_the_models_own_output_and_reports_the_ensemble_spread(ensemble):
    atoms = copper()
    atoms.calc = HybridpotCalculator(ensemble)
    e, f, s = atoms.get_potential_energy(), atoms.get_forces(), atoms.get_stress(voigt=False)
    graph = ensemble.graph(atoms)
    fn = jax.jit(jax.vmap(energy_forces_stress(ensemble.energy_fn()), in_axes=(0, None)))
    e_m, f_m, s_m = (np.asarray(x) for x in fn(ensemble.params, graph))
    np.testing.assert_allclose(e, e_m[:, 0].mean(), rtol=1e-10)
    np.testing.assert_allclose(f, f_m.mean(axis=0), atol=1e-10)
    np.testing.assert_allclose(s, s_m[:, 0].mean(axis=0), atol=1e-10)
    r = atoms.calc.results
    np.testing.assert_allclose(r["energies_members"], e_m[:, 0], rtol=1e-10)
    np.testing.assert_allclose(r["energy_std"], e_m[:, 0].std(), rtol=1e-8)
    assert r["forces_std"].shape == (len(atoms), 3) and r["stress_std"].shape == (6,)
    assert r["energy_std"] > 0


@pytest.mark.parametrize("three_body", [False, True])
def test_per_atom_energies_sum_to_the_energy_and_follow_the_atoms(three_body):
    """get_potential_energies(): physics halves + per-element shift + scaled network per atom
    (the angular term on its central atom), summing to the energy; permuting atoms permutes them."""
    import dataclasses

    from hybridpot.potentials import EnergyNormalisation

    shift = np.zeros(119)
    shift[[13, 29]] = -0.5, -1.2
    pot = dataclasses.replace(hybrid_potential(n_members=2, three_body=three_body, scale=0.5),
                              normalisation=EnergyNormalisation(shift, np.asarray(0.5)))
    atoms = copper(rattle=0.1, seed=4)
    atoms.calc = HybridpotCalculator(pot)
    per_atom = atoms.get_potential_energies()
    assert per_atom.shape == (len(atoms),) and np.ptp(per_atom) > 1e-3
    np.testing.assert_allclose(per_atom.sum(), atoms.get_potential_energy(), rtol=1e-12)
    assert atoms.calc.results["energies_std"].shape == (len(atoms),)
    order = np.random.default_rng(0).permutation(len(atoms))
    permuted = atoms[order]
    permuted.calc = HybridpotCalculator(pot)
    np.testing.assert_allclose(permuted.get_potential_energies(), per_atom[order], rtol=1e-10, atol=1e-12)


def test_a_model_without_atomic_energies_says_so():
    from hybridpot.potentials.assembled import assembled_terms

    pot = hybrid_potential()
    plain = pot.model.hybrid.learned._replace(atomic_energy=None)
    graph = pot.graph(copper())
    params = jax.tree.map(lambda x: x[0], pot.params["learned"])
    with pytest.raises(ValueError, match="no energies per atom"):
        assembled_terms(plain, params, pot.normalisation, graph, per_atom=True)


def test_ase_finite_difference_forces_and_stress():
    atoms = copper(rattle=0.1, seed=3)
    atoms.calc = HybridpotCalculator(hybrid_potential())
    np.testing.assert_allclose(atoms.get_forces(), calculate_numerical_forces(atoms, eps=1e-4), atol=1e-6)
    np.testing.assert_allclose(atoms.get_stress(), calculate_numerical_stress(atoms, eps=1e-5), atol=1e-7)


def test_triplet_model_and_molecules():
    pot = hybrid_potential(three_body=True)
    atoms = Atoms("Cu3Al", positions=[[0, 0, 0], [2.5, 0, 0], [0.3, 2.4, 0], [1.2, 1.0, 2.1]])
    atoms.calc = HybridpotCalculator(pot)
    graph = pot.graph(atoms)[0]
    expected = float(jax.jit(pot.energy_fn())(pot.member_params(0), graph, build_triplets(graph))[0])
    np.testing.assert_allclose(atoms.get_potential_energy(), expected, rtol=1e-10)
    np.testing.assert_allclose(atoms.get_forces(), calculate_numerical_forces(atoms, eps=1e-4), atol=1e-6)
    with pytest.raises(PropertyNotImplementedError, match="periodic"):
        atoms.get_stress()


def test_unknown_species_is_named():
    atoms = Atoms("CuO", positions=[[0, 0, 0], [2.0, 0, 0]])
    atoms.calc = HybridpotCalculator(hybrid_potential())
    with pytest.raises(ValueError, match=r"the atoms contains element\(s\) O \(Z=8\)"):
        atoms.get_potential_energy()


def test_a_system_that_does_not_fit_in_memory_is_refused_before_it_runs(monkeypatch):
    """XLA's estimate of the program's memory is checked against what is available: too little
    gives a MemoryError naming the atoms and both sizes, not an allocation failure mid-run; with
    enough the same calculator evaluates normally."""
    import hybridpot.potential

    atoms = copper()
    atoms.calc = HybridpotCalculator(hybrid_potential())
    monkeypatch.setattr(hybridpot.potential, "device_memory_available", lambda device=None: 1000)
    with pytest.raises(MemoryError, match=rf"evaluating {len(atoms)} atoms \(\d[\d,]* edges.*needs about "
                                          r"[\d.]+ GiB .* but only 0.0 GiB are available"):
        atoms.get_potential_energy()
    monkeypatch.undo()
    assert hybridpot.potential.device_memory_available() > 2**20
    assert np.isfinite(atoms.get_potential_energy())


def test_md_reuses_neighbour_lists_and_compiles_once():
    from ase import units
    from ase.md.langevin import Langevin
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution
    from ase.md.verlet import VelocityVerlet

    atoms = copper(rattle=0.02)
    calc = HybridpotCalculator(hybrid_potential(), skin=0.5)
    atoms.calc = calc
    MaxwellBoltzmannDistribution(atoms, temperature_K=300, rng=np.random.default_rng(0))
    e0 = atoms.get_total_energy()
    VelocityVerlet(atoms, 2.0 * units.fs).run(40)
    assert abs(atoms.get_total_energy() - e0) / len(atoms) < 1e-3  # eV/atom over 80 fs
    Langevin(atoms, 2.0 * units.fs, temperature_K=300, friction=0.02, fixcm=False,
             rng=np.random.default_rng(1)).run(20)
    # energy+forces+stress for this periodic cell: one program for the whole run
    assert calc.n_compilations == 1
    assert calc.n_neighbour_searches < 20  # the Verlet list was reused


def test_bfgs_relaxes():
    from ase.optimize import BFGS

    atoms = copper(repeat=1, rattle=0.1, seed=2)
    atoms.calc = HybridpotCalculator(hybrid_potential())
    f0 = np.abs(atoms.get_forces()).max()
    assert BFGS(atoms, logfile=None).run(fmax=0.01, steps=200)
    assert np.abs(atoms.get_forces()).max() < 0.01 < f0
