"""A potential with learned charges (qeq_ewald + pair MLP) in the ASE calculator and in model files:
charges readable, total charge from atoms.info, save → load → same energies, forces and charges, bad input."""

import jax
import numpy as np
import pytest
from ase import Atoms
from ase.calculators.calculator import PropertyNotImplementedError
from ase.calculators.fd import calculate_numerical_forces

from hybridpot.md import HybridpotCalculator
from hybridpot.potentials import TrainedPotential, load_potential, save_potential

CUTOFF = 5.0
ARGS = {"cutoff": CUTOFF, "species": [11, 17], "hidden": [8], "dtype": "float64"}
PHYSICS = {"kind": "qeq_ewald", "species": [11, 17], "max_cell_length": 8.0,
           "charge_model": {"kind": "pair_mlp", "args": ARGS}}


@pytest.fixture(scope="module")
def potential():
    pot = TrainedPotential.from_init("pair_mlp", ARGS, physics=PHYSICS, n_members=2)
    params = jax.tree.map(np.array, pot.params)
    params["physics"]["chi0"] = np.array([[-3.0, 3.0], [-2.5, 2.5]])  # two members with different charges
    return TrainedPotential("pair_mlp", ARGS, params, pot.normalisation, physics=PHYSICS)


def _ion_pair(d=3.0, charge=None):
    atoms = Atoms("NaClNaCl", positions=[[0, 0, 0], [2.5, 0, 0], [0, 2.6, 0.2], [d + 2.5, 2.6, 0]])
    if charge is not None:
        atoms.info["charge"] = charge
    return atoms


def _crystal():
    from ase.build import bulk

    atoms = bulk("NaCl", "rocksalt", a=5.64, cubic=True)
    atoms.rattle(0.05, seed=0)
    return atoms


def test_charges_are_a_result_and_follow_the_total_charge(potential):
    atoms = _ion_pair()
    atoms.calc = HybridpotCalculator(potential, dtype="float64")
    q = atoms.get_charges()
    assert q.shape == (4,) and abs(q.sum()) < 1e-10 and q[0] > 0 > q[1]
    assert atoms.calc.results["charges_std"].max() > 0  # the members differ
    charged = _ion_pair(charge=1)
    charged.calc = HybridpotCalculator(potential, dtype="float64")
    np.testing.assert_allclose(charged.get_charges().sum(), 1.0, atol=1e-10)
    assert abs(charged.get_potential_energy() - atoms.get_potential_energy()) > 1e-3
    # forces of the charged cluster by finite differences through the calculator
    np.testing.assert_allclose(charged.get_forces(), calculate_numerical_forces(charged, 1e-5), atol=1e-6)


@pytest.mark.heavy  # a second compilation (periodic, with stress) of the calculator
def test_periodic_cell_charges_and_stress(potential):
    atoms = _crystal()
    atoms.calc = HybridpotCalculator(potential, dtype="float64")
    assert abs(atoms.get_charges().sum()) < 1e-10 and atoms.get_stress().shape == (6,)


def test_model_file_round_trip(potential, tmp_path):
    path = save_potential(tmp_path / "qeq", potential)
    reloaded = load_potential(path)
    assert reloaded.physics == PHYSICS
    for atoms in (_ion_pair(charge=-1),):  # one charged cluster: every new calculator compiles anew
        out = []
        for pot in (potential, reloaded):
            a = atoms.copy()
            a.calc = HybridpotCalculator(pot, dtype="float64")
            out.append((a.get_potential_energy(), a.get_forces(), a.get_charges()))
        for x, y in zip(*out):
            np.testing.assert_allclose(y, x, rtol=0, atol=1e-12)


def test_bad_input_is_named(potential):
    calc = HybridpotCalculator(potential, dtype="float64")
    with pytest.raises(ValueError, match="not an integer"):
        calc.get_potential_energy(_ion_pair(charge=0.4))
    with pytest.raises(ValueError, match="more electrons"):
        calc.get_potential_energy(_ion_pair(charge=80))
    slab = _crystal()
    slab.pbc = [True, True, False]
    with pytest.raises(ValueError, match="all three directions"):
        calc.get_potential_energy(slab)
    big = _crystal().repeat((2, 1, 1))
    with pytest.raises(ValueError, match="max_cell_length"):
        calc.get_potential_energy(big)
    no_bg = dict(PHYSICS, background=False)
    pot = TrainedPotential("pair_mlp", ARGS, potential.params, potential.normalisation, physics=no_bg)
    charged = _crystal()
    charged.info["charge"] = 1
    with pytest.raises(ValueError, match="neutralising background"):
        HybridpotCalculator(pot, dtype="float64").get_potential_energy(charged)


def test_charges_need_learned_charges():
    plain = TrainedPotential.from_init("pair_mlp", ARGS)
    atoms = _ion_pair()
    atoms.calc = HybridpotCalculator(plain, dtype="float64")
    with pytest.raises(PropertyNotImplementedError, match="qeq_ewald"):
        atoms.get_charges()
