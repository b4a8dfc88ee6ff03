"""hybridpot.validation at every entry point: each bad input and the message it must give."""

import json
import warnings

import numpy as np
import pytest
from ase import Atoms

from hybridpot._store import load_checkpoint, save_checkpoint
from hybridpot.cli.train_app import load_train_file, parse_train_file, train_from_file
from hybridpot.graph import build_graph
from hybridpot.io import read_structures
from hybridpot.md import HybridpotCalculator
from hybridpot.potentials import ModelFileError, TrainedPotential, build_model, load_potential, save_potential
from hybridpot.structures import Structure
from hybridpot.train import config_from_dict, load_config
from hybridpot.validation import (
    InputWarning,
    check_cell_for_cutoff,
    check_loss_labels,
    content_hash,
    periodic_images,
)

ARGS = {"cutoff": 3.0, "hidden": [4], "n_basis": 4, "embedding_dim": 2, "dtype": "float64"}


@pytest.fixture(scope="module")
def any_element():
    """A tiny pair_mlp without a species list: it takes every element."""
    return TrainedPotential.from_init("pair_mlp", ARGS)


@pytest.fixture(scope="module")
def hydrogen_oxygen():
    return TrainedPotential.from_init("pair_mlp", {**ARGS, "species": [1, 8]})


def _energy(potential, atoms):
    atoms.calc = HybridpotCalculator(potential)
    return atoms.get_potential_energy()


# ----------------------------------------------------------------------------- structures
@pytest.mark.parametrize(("numbers", "message"), [
    ([0, 1], r"the atoms: unknown element: atomic number 0 at atom 0 is outside 1\.\.118"),
    ([1, 119], r"the atoms: unknown element: atomic number 119 at atom 1 is outside 1\.\.118"),
])
def test_calculator_rejects_atomic_numbers_outside_the_table(any_element, numbers, message):
    atoms = Atoms(numbers=numbers, positions=[[0, 0, 0], [0.9, 0, 0]])
    with pytest.raises(ValueError, match=message):
        _energy(any_element, atoms)


def test_calculator_rejects_elements_the_model_was_not_built_for(hydrogen_oxygen):
    with pytest.raises(ValueError, match=r"the atoms contains element\(s\) C \(Z=6\) that the model was not built for"):
        _energy(hydrogen_oxygen, Atoms("CH", positions=[[0, 0, 0], [1.1, 0, 0]]))


def test_calculator_rejects_coincident_atoms_and_nan_positions(any_element):
    with pytest.raises(ValueError, match=r"the atoms: atoms 0 and 1 are 0 Å apart, closer than min_distance=0\.1 Å"):
        _energy(any_element, Atoms("H2O", positions=[[0, 0, 0], [0, 0, 0], [1.0, 0, 0]]))
    with pytest.raises(ValueError, match=r"positions contains NaN or inf \(first at index \(1, 0\)"):
        _energy(any_element, Atoms("H2", positions=[[0, 0, 0], [np.nan, 0, 0]]))


def test_a_cell_far_smaller_than_the_cutoff_warns():
    cell = np.eye(3) * 0.5  # 0.5 Å cube: 13³ images within 3 Å
    assert periodic_images(cell, True, 3.0) == 13**3
    assert periodic_images(np.eye(3) * 3.6, True, 3.0) == 27
    with pytest.warns(InputWarning, match=r"far smaller than the cutoff 3 Å: each atom meets 2197 periodic images"):
        check_cell_for_cutoff(cell, True, 3.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_cell_for_cutoff(np.eye(3) * 3.6, True, 3.0)  # a copper cell: no warning
        check_cell_for_cutoff(np.zeros((3, 3)), False, 3.0)  # a molecule: no cell
    with pytest.warns(InputWarning, match="periodic images"):  # graphs for training and evaluation
        build_graph([[0.0, 0.0, 0.0]], [29], 3.0, cell=cell, pbc=True, min_distance=0.01)


def test_jax_md_rejects_narrow_boxes_and_coincident_atoms(any_element):
    jax_md = pytest.importorskip("jax_md")
    from hybridpot.md import jax_md_pair

    displacement, _ = jax_md.space.periodic(5.0)
    with pytest.raises(ValueError, match=r"box: the periodic cell's heights \[5\.0, 5\.0, 5\.0\] Å must be at least "
                                         r"twice the cutoff plus skin \(3\.5 Å\)"):
        jax_md_pair(any_element, displacement, 5.0, [1, 1])
    displacement, _ = jax_md.space.free()
    with pytest.raises(ValueError, match=r"unknown element: atomic number 0"):
        jax_md_pair(any_element, displacement, 10.0, [0, 1], periodic=False)
    neighbor_fn, _ = jax_md_pair(any_element, displacement, 10.0, [1, 1], periodic=False, disable_cell_list=True)
    with pytest.raises(ValueError, match=r"positions: atoms 1 and 0 are 0 Å apart"):
        neighbor_fn.allocate(np.zeros((2, 3)))


# ----------------------------------------------------------------------------- model files
def _rewrite(path, *, arrays=None, meta=None, rehash=False):
    """Change a saved model file's arrays or metadata, as an editor (or a writer without checks) would."""
    stored, metadata = load_checkpoint(str(path)[:-4])
    stored.update(arrays or {})
    metadata.update(meta or {})
    if rehash:
        metadata["content_sha256"] = content_hash(stored, metadata)
    tree = {"params": {k[len("params/"):]: v for k, v in stored.items() if k.startswith("params/")},
            "normalisation": {"shift": stored["normalisation/shift"], "scale": stored["normalisation/scale"]}}
    save_checkpoint(str(path)[:-4], tree, metadata)


@pytest.fixture
def model_file(tmp_path, hydrogen_oxygen):
    path = save_potential(tmp_path / "m.npz", hydrogen_oxygen)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_potential(path)  # a fresh file loads without a warning
    return path


def _a_parameter(path):
    arrays, _ = load_checkpoint(str(path)[:-4])
    return next(k for k in sorted(arrays) if k.startswith("params/") and arrays[k].ndim == 3)


def test_model_file_edited_after_saving_is_reported(model_file):
    _, meta = load_checkpoint(str(model_file)[:-4])
    edited = {**meta["model"], "cutoff": 4.0, "args": {**meta["model"]["args"], "cutoff": 4.0}}
    _rewrite(model_file, meta={"model": edited})
    with pytest.raises(ModelFileError, match=r"m\.npz: content hash mismatch: the arrays or metadata were changed"):
        load_potential(model_file)


def test_model_file_with_another_dtype_is_reported(model_file):
    name = _a_parameter(model_file)
    arrays, _ = load_checkpoint(str(model_file)[:-4])
    _rewrite(model_file, arrays={name: arrays[name].astype(np.float32)})
    with pytest.raises(ModelFileError, match=rf"array '{name}' is stored as float32 .* but the metadata says float64"):
        load_potential(model_file)


@pytest.mark.parametrize("what", ["parameter", "normalisation/scale"])
def test_model_file_with_nan_is_reported(model_file, what):
    name = _a_parameter(model_file) if what == "parameter" else what
    arrays, _ = load_checkpoint(str(model_file)[:-4])
    bad = np.array(arrays[name])
    bad.flat[0] = np.nan
    _rewrite(model_file, arrays={name: bad}, rehash=True)  # a writer that did not check
    with pytest.raises(ModelFileError, match=rf"array '{name}' holds NaN or inf"):
        load_potential(model_file)


def test_nan_parameters_are_not_saved(tmp_path, hydrogen_oxygen):
    import dataclasses

    import jax

    diverged = dataclasses.replace(hydrogen_oxygen, params=jax.tree.map(lambda x: np.full_like(x, np.nan),
                                                                        hydrogen_oxygen.params))
    with pytest.raises(ValueError, match=r"cannot save .*bad\.npz: array 'params/.*' holds NaN"):
        save_potential(tmp_path / "bad.npz", diverged)
    assert not (tmp_path / "bad.npz").exists()


def test_model_file_without_a_hash_loads_with_a_warning(model_file):
    _, meta = load_checkpoint(str(model_file)[:-4])
    _rewrite(model_file, meta={"content_sha256": None, "arrays": None})
    with pytest.warns(InputWarning, match=r"m\.npz has no content hash"):
        load_potential(model_file)


# ----------------------------------------------------------------------------- configs
@pytest.mark.parametrize(("args", "message"), [
    ({"hidden": [-4]}, r"model\.hidden=\[-4\]: must be a list of layer widths, each an integer >= 1"),
    ({"hidden": [0]}, r"model\.hidden=\[0\]: must be a list of layer widths"),
    ({"hidden": []}, r"model\.hidden=\[\]: must be a non-empty list"),
    ({"cutoff": "four"}, r"model\.cutoff='four': must be a finite number > 0"),
    ({"cutoff": float("inf")}, r"model\.cutoff=inf: must be a finite number > 0"),
    ({"n_basis": 2.5}, r"model\.n_basis=2\.5: must be an integer >= 2"),
    ({"species": [1, 1]}, r"model\.species=\[1, 1\]: species has repeated elements"),
    ({"dtype": "float16"}, r"model\.dtype='float16': must be 'float32' or 'float64'"),
])
def test_model_arguments_are_typed_and_range_checked(args, message):
    with pytest.raises(ValueError, match=r"model kind 'pair_mlp': " + message):
        build_model("pair_mlp", {**ARGS, **args})
    with pytest.raises(ValueError, match=r"train\.yaml: model kind 'pair_mlp': " + message):
        parse_train_file({"dataset": {"train": "x.xyz"}, "model": {"kind": "pair_mlp", **args}}, source="train.yaml")


def test_chunk_arguments_take_null_auto_or_a_positive_integer():
    from hybridpot.validation import check_model_args

    for value in (None, "auto", 1, 4096):
        check_model_args("mace", {"edge_chunk": value, "node_chunk": value, "triplet_chunk": value})
    for value in (0, "big", 2.5):
        for name in ("edge_chunk", "node_chunk"):
            with pytest.raises(ValueError, match=rf"model\.{name}=.*: must be null, 'auto' or an integer >= 1"):
                check_model_args("mace", {name: value})


@pytest.mark.parametrize(("section", "message"), [
    ({"optim": {"learning_rate": float("inf")}}, r"optim\.learning_rate=inf: Input should be a finite number"),
    ({"optim": {"learning_rate": 1e6}}, r"optim\.learning_rate=1000000\.0: Input should be less than or equal to 1"),
    ({"run": {"min_delta": -0.1}}, r"run\.min_delta=-0\.1: Input should be greater than or equal to 0"),
    ({"loss": {"forces_weight": float("nan")}}, r"loss\.forces_weight=nan: Input should be a finite number"),
])
def test_trainer_values_are_finite_and_in_range(section, message):
    with pytest.raises(ValueError, match=message):
        config_from_dict(section)


def test_a_duplicated_yaml_key_is_rejected(tmp_path):
    text = "optim:\n  learning_rate: 1e-3\nrun:\n  max_steps: 5\noptim:\n  name: adamw\n"
    (tmp_path / "config.yaml").write_text(text)
    with pytest.raises(ValueError, match=r"config\.yaml: .*duplicate key 'optim' \(first at line 1\)"):
        load_config(tmp_path / "config.yaml")
    (tmp_path / "train.yaml").write_text("dataset:\n  train: a.xyz\n  train: b.xyz\nmodel:\n  kind: pair_mlp\n")
    with pytest.raises(ValueError, match=r"train\.yaml: .*duplicate key 'train' \(first at line 2\)"):
        load_train_file(tmp_path / "train.yaml")


def test_loss_weights_need_their_labels():
    molecule = Structure(np.array([[0.0, 0, 0], [0.9, 0, 0]]), np.array([1, 1]), -1.0)
    with pytest.raises(ValueError, match=r"loss\.forces_weight > 0 but no training structure has forces"):
        check_loss_labels([molecule], 1.0, 0.0)
    with pytest.warns(InputWarning, match=r"loss\.stress_weight=0\.5 but no training structure has a stress"):
        check_loss_labels([molecule], 0.0, 0.5)


def _energy_only_file(tmp_path):
    from ase.io import write

    frames = []
    for d in (0.7, 0.75, 0.8, 0.9):
        atoms = Atoms("H2", positions=[[0, 0, 0], [d, 0, 0]])
        atoms.info["energy"] = -1.0 + (d - 0.75) ** 2
        frames.append(atoms)
    write(tmp_path / "h2.extxyz", frames, format="extxyz")
    return tmp_path / "h2.extxyz"


def test_files_without_forces_read_as_energy_only_labels(tmp_path):
    data = read_structures(_energy_only_file(tmp_path))
    assert len(data) == 4 and all(s.forces is None for s in data)
    assert [s.energy for s in data] == pytest.approx([-1 + 0.05**2, -1.0, -1 + 0.05**2, -1 + 0.15**2])


@pytest.mark.heavy  # compiles a training step: about 15 s on a shared 2-core machine
def test_energy_only_data_trains_from_files(tmp_path):
    spec = {"dataset": {"train": str(_energy_only_file(tmp_path)), "valid_fraction": 0.25},
            "model": {"kind": "pair_mlp", **ARGS}, "output": str(tmp_path / "run"),
            "loss": {"forces_weight": 0.0}, "normalisation": {"scale": False},
            "data": {"batch_size": 4, "n_buckets": 1}, "optim": {"ema_decay": None},
            "run": {"max_steps": 2, "log_every": 1, "eval_every": 2, "checkpoint_every": 2, "progress": False}}
    potential, result, path = train_from_file(parse_train_file(spec))
    assert result.history["train_loss"].shape[0] == 2 and np.all(np.isfinite(result.history["train_loss"]))
    forces_spec = {**spec, "loss": {"forces_weight": 1.0}, "output": str(tmp_path / "run2")}
    with pytest.raises(ValueError, match=r"loss\.forces_weight > 0 but no training structure has forces"):
        train_from_file(parse_train_file(forces_spec))
    assert json.loads(open(path[:-4] + ".json").read())["content_sha256"]


# ----------------------------------------------------------------------------- the command line
def test_cli_md_and_evaluate_stop_on_bad_structures(tmp_path, any_element, capsys):
    from ase.io import write

    from hybridpot.cli import main

    model = save_potential(tmp_path / "m.npz", any_element)
    coincident = Atoms("H2O", positions=[[0, 0, 0], [0, 0, 0], [1.0, 0, 0]])
    write(tmp_path / "coincident.extxyz", coincident, format="extxyz")
    assert main(["md", model, str(tmp_path / "coincident.extxyz"), "--steps", "2", "--out",
                 str(tmp_path / "md.extxyz")]) == 2
    assert "atoms 0 and 1 are 0 Å apart" in capsys.readouterr().err
    ghost = Atoms("XH", positions=[[0, 0, 0], [0.9, 0, 0]])  # "X": atomic number 0
    ghost.info["energy"] = -1.0
    write(tmp_path / "ghost.extxyz", ghost, format="extxyz")
    assert main(["evaluate", model, str(tmp_path / "ghost.extxyz")]) == 2
    assert "unknown element: atomic number 0 at atom 0" in capsys.readouterr().err
