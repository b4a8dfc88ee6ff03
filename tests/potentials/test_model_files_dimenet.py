"""DimeNet++ and its ZBL hybrid in model files: round trips, and files of format 1 read as they were written."""

import jax
import numpy as np
import pytest
from ase import Atoms
from model_file_checks import assert_same_energy_and_forces

from hybridpot._store import flatten_with_names, save_checkpoint
from hybridpot.potentials import (
    EnergyNormalisation,
    TrainedPotential,
    load_potential,
    model_kinds,
    save_potential,
)

# compile-heavy: outside the default selection; CI runs it with `pytest -m heavy`
pytestmark = pytest.mark.heavy

ARGS = dict(species=[1, 6, 8], cutoff=4.0, emb_size=6, out_emb_size=6, int_emb_size=4, basis_emb_size=3,
            num_blocks=1, num_spherical=3, num_radial=3, param_dtype="float64")
ZBL = {"kind": "zbl", "cutoff": 4.0, "switch": "envelope", "trainable": True}
ATOMS = Atoms("CHOH", positions=[[0, 0, 0], [1.09, 0, 0], [-0.7, 1.1, 0], [-0.2, 1.9, 0.3]])


def test_dimenet_kinds_are_registered():
    assert {"dimenet", "dimenet++"} <= set(model_kinds())


def test_dimezblnet_model_file_round_trip(tmp_path):
    strategy = {"name": "aphynity", "penalty": 0.5}
    pot = TrainedPotential.from_init("dimenet++", ARGS, seed=3, physics=ZBL, strategy=strategy)
    back = load_potential(save_potential(tmp_path / "dimezblnet", pot))
    assert_same_energy_and_forces(pot, back, ATOMS)
    assert back.model_kind == "dimenet++" and back.species == (1, 6, 8) and back.physics == ZBL
    assert back.strategy == {"name": "aphynity", "penalty": 0.5} and back.model.hybrid.strategy.penalty == 0.5
    assert set(back.params) == {"physics", "learned"}


def _write_format_1(path, pot_params, args, normalisation, physics=None, kind="dimenet++"):
    """A model file as hybridpot 0.1 (format 1) wrote it."""
    tree = {"params": pot_params, "normalisation": {"shift": normalisation.shift, "scale": normalisation.scale}}
    flatten_with_names(tree)
    meta = {"format": "hybridpot-model", "format_version": 1,
            "model": {"kind": kind, "args": args, "cutoff": args["cutoff"], "species": args["species"]},
            "physics": physics, "n_members": 1, "versions": {"hybridpot": "0.1.0"}}
    save_checkpoint(str(path), tree, meta)
    return str(path) + ".npz"


def test_format_1_dimezblnet_file_is_converted_with_the_same_energies(tmp_path):
    """Format 1 kept ZBL, the network scale and element energies in the DimeNet kind's arguments and
    the network under params/learned: they become a physics spec, the normalisation and today's layout."""
    mu = np.zeros(119)
    mu[[1, 6, 8]] = [-13.6, -1029.0, -2041.0]
    new = TrainedPotential.from_init("dimenet++", ARGS, seed=1, physics=ZBL,
                                     normalisation=EnergyNormalisation(mu + _shift(0.25), np.asarray(0.7)))
    old_params = jax.tree.map(np.asarray, new.params)
    old_args = {**ARGS, "zbl": True, "zbl_trainable": True, "network_scale": 0.7, "element_energies": mu.tolist()}
    file = _write_format_1(tmp_path / "old_zbl", old_params, old_args,
                           EnergyNormalisation(_shift(0.25), np.asarray(1.0)))
    back = load_potential(file)
    assert back.physics["kind"] == "zbl" and "zbl" not in back.model_args
    assert_same_energy_and_forces(new, back, ATOMS)


def test_format_1_plain_dimenet_and_fixed_physics_files(tmp_path):
    """A DimeNet++ without ZBL (network under params/learned) and a pair MLP with a fixed physics
    term added (params of the model alone) load as the additive or single models of today."""
    net = TrainedPotential.from_init("dimenet++", ARGS, seed=2,
                                     normalisation=EnergyNormalisation(_shift(0.1), np.asarray(2.0)))
    old = {"physics": {}, "learned": jax.tree.map(np.asarray, net.params)}
    file = _write_format_1(tmp_path / "old_plain", old, {**ARGS, "zbl": False},
                           EnergyNormalisation(_shift(0.1), np.asarray(2.0)))
    back = load_potential(file)
    assert back.physics is None
    assert_same_energy_and_forces(net, back, ATOMS)
    args = {"cutoff": 3.5, "species": [1, 8], "hidden": [8], "dtype": "float64"}
    physics = {"kind": "zbl", "envelope_cutoff": 1.5}
    hybrid = TrainedPotential.from_init("pair_mlp", args, seed=4, physics=physics)
    file = _write_format_1(tmp_path / "old_mlp", jax.tree.map(np.asarray, hybrid.params["learned"]), args,
                           hybrid.normalisation, physics=physics, kind="pair_mlp")
    back = load_potential(file)
    assert back.strategy == {"name": "additive"}
    assert_same_energy_and_forces(hybrid, back, Atoms("OH2", positions=[[0, 0, 0], [0.96, 0, 0], [-0.24, 0.93, 0]]))


def _shift(value):
    s = np.zeros(119)
    s[[1, 6, 8]] = value
    return s
