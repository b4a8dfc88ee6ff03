"""A DimeNet++ hybrid saved to a model file comes back with the same energies and forces."""

from ase import Atoms
from model_file_checks import assert_same_energy_and_forces

from hybridpot.io import TrainedPotential, load_potential, model_kinds, save_potential

ARGS = dict(species=[1, 6, 8], zbl=True, cutoff=4.0, emb_size=6, out_emb_size=6, int_emb_size=4, basis_emb_size=3,
            num_blocks=1, num_spherical=3, num_radial=3, param_dtype="float64")


def test_dimenet_kinds_are_registered():
    assert {"dimenet", "dimenet++"} <= set(model_kinds())


def test_dimenet_pp_model_file_round_trip(tmp_path):
    pot = TrainedPotential.from_init("dimenet++", ARGS, seed=3)
    back = load_potential(save_potential(tmp_path / "dimenet", pot))
    atoms = Atoms("CHOH", positions=[[0, 0, 0], [1.09, 0, 0], [-0.7, 1.1, 0], [-0.2, 1.9, 0.3]])
    assert_same_energy_and_forces(pot, back, atoms)
    assert back.model_kind == "dimenet++" and back.species == (1, 6, 8)
