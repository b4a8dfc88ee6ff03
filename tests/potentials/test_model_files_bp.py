"""A Behler–Parrinello potential saved to a model file comes back with the same energies."""

import numpy as np
from ase.build import bulk
from model_file_checks import assert_same_energy_and_forces

from hybridpot.models.behler_parrinello import behler_parrinello_model_args
from hybridpot.models.descriptors import DescriptorScaling, symmetry_function_spec
from hybridpot.potentials import (
    TrainedPotential,
    load_potential,
    model_kinds,
    save_potential,
)


def test_behler_parrinello_model_file_round_trip(tmp_path):
    assert "behler_parrinello" in model_kinds()
    spec = symmetry_function_spec((13, 28), cutoff=3.5, num_radial=3, num_angular_eta=2)
    rng = np.random.default_rng(0)
    shape = (spec.n_species, spec.n_features)
    scaling = DescriptorScaling(rng.normal(size=shape), 1 + rng.random(shape), np.array([4, 4]))
    args = {**behler_parrinello_model_args(spec, scaling, hidden=(8,)), "param_dtype": "float64"}
    pot = TrainedPotential.from_init("behler_parrinello", args, seed=1)
    back = load_potential(save_potential(tmp_path / "bp", pot))
    atoms = bulk("NiAl", "cesiumchloride", a=2.9).repeat(2)
    atoms.rattle(0.05, seed=2)
    assert_same_energy_and_forces(pot, back, atoms)
