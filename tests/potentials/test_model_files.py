"""Model files: round trip, a fresh process, clear errors for corrupt, foreign and newer files; the registry."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from hybridpot._store import load_checkpoint, save_checkpoint
from hybridpot.models import pair_mlp_model
from hybridpot.potentials import (
    EnergyNormalisation,
    ModelFileError,
    TrainedPotential,
    build_model,
    load_potential,
    model_kinds,
    read_model_metadata,
    register_model_kind,
    save_potential,
)
from hybridpot.validation import content_hash

ARGS = {"cutoff": 3.5, "species": [1, 8], "hidden": [8], "dtype": "float64"}
PHYSICS = {"kind": "zbl", "envelope_cutoff": 1.5}


def _potential(n_members=2):
    shift = np.zeros(119)
    shift[[1, 8]] = [-13.6, -432.1]
    return TrainedPotential.from_init("pair_mlp", ARGS, n_members=n_members, physics=PHYSICS,
                                      normalisation=EnergyNormalisation(shift, np.asarray(0.3)),
                                      metadata={"note": "test"})


def _water():
    from ase import Atoms

    return Atoms("OH2", positions=[[0, 0, 0], [0.96, 0, 0], [-0.24, 0.93, 0]])


def _energies(pot, atoms):
    import jax

    return np.asarray(jax.jit(jax.vmap(pot.energy_fn(), in_axes=(0, None)))(pot.params, pot.graph(atoms)))[:, 0]


def test_round_trip_keeps_everything(tmp_path):
    pot = _potential()
    path = save_potential(tmp_path / "model", pot)
    assert path.endswith(".npz") and os.path.exists(tmp_path / "model.json")
    back = load_potential(path)
    assert back.model_kind == "pair_mlp" and back.model_args == ARGS and back.physics == PHYSICS
    assert back.n_members == 2 and back.species == (1, 8) and back.cutoff == 3.5
    np.testing.assert_array_equal(back.normalisation.shift, pot.normalisation.shift)
    np.testing.assert_allclose(_energies(back, _water()), _energies(pot, _water()), rtol=0, atol=0)
    meta = read_model_metadata(path)
    assert meta["units"]["energy"] == "eV" and meta["versions"]["hybridpot"] and meta["metadata"]["note"] == "test"
    assert json.load(open(tmp_path / "model.json"))["model"]["kind"] == "pair_mlp"


def test_loads_in_a_fresh_process(tmp_path):
    pot = _potential()
    path = save_potential(tmp_path / "model.npz", pot)
    expected = _energies(pot, _water())
    code = (
        "import jax, sys, numpy as np; jax.config.update('jax_enable_x64', True)\n"
        "from ase import Atoms\nfrom hybridpot.potentials import load_potential\n"
        "pot = load_potential(sys.argv[1])\n"
        "atoms = Atoms('OH2', positions=[[0, 0, 0], [0.96, 0, 0], [-0.24, 0.93, 0]])\n"
        "e = jax.jit(jax.vmap(pot.energy_fn(), in_axes=(0, None)))(pot.params, pot.graph(atoms))\n"
        "print(repr([float(x) for x in e[:, 0]]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code, path], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    np.testing.assert_allclose(eval(out.stdout.strip()), expected, rtol=1e-12)


def _rewrite_metadata(path, **changes):
    """Rewrite the metadata as a (future or differently built) hybridpot would write it: with its hash."""
    arrays, meta = load_checkpoint(str(path)[:-4])
    meta.update(changes)
    meta["content_sha256"] = content_hash(arrays, meta)
    tree = {"params": {k[len("params/"):]: v for k, v in arrays.items() if k.startswith("params/")},
            "normalisation": {"shift": arrays["normalisation/shift"], "scale": arrays["normalisation/scale"]}}
    save_checkpoint(str(path)[:-4], tree, meta)


def test_clear_errors(tmp_path):
    path = save_potential(tmp_path / "m.npz", _potential(1))
    with pytest.raises(FileNotFoundError, match="nothere"):
        load_potential(tmp_path / "nothere.npz")
    # a newer format version
    newer = tmp_path / "newer.npz"
    newer.write_bytes(open(path, "rb").read())
    _rewrite_metadata(newer, format_version=99, versions={"hybridpot": "9.0"})
    with pytest.raises(ModelFileError, match=r"newer.npz was written by hybridpot 9.0 in model-file format 99.*upgrade"):
        load_potential(newer)
    # a kind this version does not know
    unknown = tmp_path / "unknown.npz"
    unknown.write_bytes(open(path, "rb").read())
    _rewrite_metadata(unknown, model={"kind": "painn", "args": {}, "cutoff": 5.0})
    with pytest.raises(ModelFileError, match=r"unknown.npz.*unknown model kind 'painn'.*pair_mlp"):
        load_potential(unknown)
    # parameters that do not fit the model as this version builds it
    changed = tmp_path / "changed.npz"
    changed.write_bytes(open(path, "rb").read())
    _rewrite_metadata(changed, model={"kind": "pair_mlp", "args": {**ARGS, "hidden": [9]}, "cutoff": 3.5})
    with pytest.raises(ModelFileError, match=r"changed.npz.*shape"):
        load_potential(changed)
    # truncated and corrupt files
    data = open(path, "rb").read()
    (tmp_path / "cut.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError, match=r"cut.npz: corrupt or truncated"):
        load_potential(tmp_path / "cut.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip file at all" * 10)
    with pytest.raises(ModelFileError, match="junk.npz"):
        load_potential(tmp_path / "junk.npz")
    # a training checkpoint is not a model file
    save_checkpoint(str(tmp_path / "ckpt"), {"x": np.zeros(2)}, {"format": "hybridpot-checkpoint-1"})
    with pytest.raises(ModelFileError, match="training checkpoint"):
        load_potential(tmp_path / "ckpt.npz")


def test_registry():
    assert "pair_mlp" in model_kinds()
    assert build_model("pair_mlp", {"cutoff": 3.0}) is pair_mlp_model(3.0)
    with pytest.raises(ValueError, match=r"does not accept.*colour"):
        build_model("pair_mlp", {"colour": "red"})

    def my_model(cutoff: float = 3.0):
        return pair_mlp_model(cutoff, [1])

    register_model_kind("test_custom_kind", my_model)
    assert build_model("test_custom_kind", {"cutoff": 2.5}).cutoff == 2.5
    with pytest.raises(ValueError, match="already registered"):
        register_model_kind("test_custom_kind", lambda: None)


def test_unserialisable_arguments_are_refused(tmp_path):
    pot = _potential(1)
    bad = TrainedPotential(pot.model_kind, pot.model_args, pot.params, pot.normalisation, metadata={"x": object()})
    with pytest.raises(ValueError, match="metadata"):
        save_potential(tmp_path / "bad", bad)
