"""Δ-learning on an external low level: correction labels, structure checks, the summed calculator."""

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.calculators.lj import LennardJones

from hybridpot.delta import bundled_delta_pair, delta_calculator, delta_dataset
from hybridpot.io import label_atoms
from hybridpot.md import HybridpotCalculator
from hybridpot.potentials import EnergyNormalisation, TrainedPotential
from hybridpot.train import Dataset, Structure


def cells(n=3):
    """Rattled periodic Cu/Al cells (stress available from both calculators)."""
    out = []
    for k in range(n):
        atoms = bulk("Cu", "fcc", a=3.6, cubic=True)
        atoms.numbers[k % 4] = 13
        atoms.rattle(0.05, seed=k)
        out.append(atoms)
    return out


def molecule():
    return Atoms("Cu3Al", positions=[[0, 0, 0], [2.5, 0, 0], [0.3, 2.4, 0], [1.2, 1.0, 2.1]])


def lj():
    return LennardJones(sigma=2.3, epsilon=0.4, rc=5.0, smooth=True)


def test_labels_subtract_exactly_and_inputs_are_untouched():
    images = cells() + [molecule()]
    high, low = label_atoms(images, EMT()), label_atoms(images, lj())
    assert all(a.calc is None for a in images)
    corr = delta_dataset(high, low)
    assert len(corr) == len(images)
    for c, h, lo in zip(corr.structures, high.structures, low.structures):
        assert c.energy == h.energy - lo.energy
        np.testing.assert_array_equal(c.forces, h.forces - lo.forces)
        np.testing.assert_array_equal(c.positions, h.positions)
    for c, h, lo in zip(corr.structures[:3], high.structures, low.structures):
        np.testing.assert_array_equal(c.stress, h.stress - lo.stress)
    assert corr[3].stress is None  # a molecule has no stress
    # a Dataset can be relabelled too: its geometries, the calculator's numbers
    again = label_atoms(high, EMT())
    assert [s.energy for s in again.structures] == [s.energy for s in high.structures]


def test_a_level_without_forces_gives_energy_only_corrections():
    images = cells(2)
    high, low = label_atoms(images, EMT()), label_atoms(images, lj())
    high_e = Dataset([Structure(s.positions, s.numbers, s.energy, None, s.cell, s.pbc) for s in high.structures])
    corr = delta_dataset(high_e, low)
    assert all(c.forces is None for c in corr.structures)
    assert [c.energy for c in corr.structures] == [h.energy - lo.energy for h, lo in zip(high.structures, low.structures)]


def _moved(dataset, k, **change):
    s = dataset[k]
    structures = list(dataset.structures)
    structures[k] = Structure(**{**{f: getattr(s, f) for f in
                                     ("positions", "numbers", "energy", "forces", "cell", "pbc", "stress")}, **change})
    return Dataset(structures)


def test_mismatched_structures_are_named():
    images = cells()
    high, low = label_atoms(images, EMT()), label_atoms(images, lj())
    with pytest.raises(ValueError, match="high has 3 structures but low has 2"):
        delta_dataset(high, Dataset(low.structures[:2]))
    numbers = low[1].numbers.copy()
    numbers[[0, 1]] = numbers[[1, 0]] if numbers[0] != numbers[1] else (29, 13)
    with pytest.raises(ValueError, match="structure 1: atomic numbers differ"):
        delta_dataset(high, _moved(low, 1, numbers=numbers))
    with pytest.raises(ValueError, match=r"structure 2: positions differ by up to 0.0001 Å"):
        delta_dataset(high, _moved(low, 2, positions=low[2].positions + [0, 0, 1e-4]))
    with pytest.raises(ValueError, match="structure 0: cells differ"):
        delta_dataset(high, _moved(low, 0, cell=low[0].cell * 1.01))
    with pytest.raises(ValueError, match="structure 0: periodicity differs"):
        delta_dataset(high, _moved(low, 0, pbc=np.array([True, True, False])))
    # differences far below the tolerance (round-trips through files) are accepted
    delta_dataset(high, _moved(low, 2, positions=low[2].positions + 1e-9))


def correction_potential():
    """A small untrained pair MLP (float64) with a per-element shift, as the trained correction."""
    shift = np.zeros(119)
    shift[[13, 29]] = [-0.3, 0.2]
    return TrainedPotential.from_init("pair_mlp", {"cutoff": 4.0, "species": [13, 29], "dtype": "float64"},
                                      n_members=2, normalisation=EnergyNormalisation(shift, np.asarray(0.05)))


@pytest.mark.parametrize("periodic", [True, False])
def test_delta_model_is_low_level_plus_correction(periodic):
    pot = correction_potential()
    atoms = cells(1)[0] if periodic else molecule()
    atoms.calc = delta_calculator(EMT(), pot)
    energy, forces = atoms.get_potential_energy(), atoms.get_forces()
    low, corr = atoms.copy(), atoms.copy()
    low.calc, corr.calc = EMT(), HybridpotCalculator(pot)
    np.testing.assert_allclose(energy, low.get_potential_energy() + corr.get_potential_energy(), rtol=0, atol=1e-12)
    np.testing.assert_allclose(forces, low.get_forces() + corr.get_forces(), rtol=0, atol=1e-12)
    assert abs(corr.get_potential_energy()) > 1e-3  # the correction is not trivially zero
    contributions = atoms.calc.results["energy_contributions"]
    np.testing.assert_allclose(contributions, [low.get_potential_energy(), corr.get_potential_energy()], atol=1e-12)
    if periodic:
        np.testing.assert_allclose(atoms.get_stress(), low.get_stress() + corr.get_stress(), rtol=0, atol=1e-12)


def test_bundled_pair_is_the_same_frames():
    high, low = bundled_delta_pair()
    assert len(high) == len(low) == 200
    corr = delta_dataset(high, low)
    e = np.array([s.energy for s in corr.structures])
    assert np.all(np.isfinite(e)) and np.std(e) < 1.0  # eV: one offset per molecule plus a small rest
    f_high = np.concatenate([s.forces for s in high.structures])
    f_low = np.concatenate([s.forces for s in low.structures])
    assert np.corrcoef(f_high.ravel(), f_low.ravel())[0, 1] > 0.9  # the low level is a real approximation
