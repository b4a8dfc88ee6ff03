"""The active-learning loop end to end on a tiny budget (EMT oracle, Al–Ni), and its resume."""

import json
import os

import numpy as np
import pytest
from ase import Atoms
from ase.calculators.emt import EMT
from ase.io import read

from hybridpot.io.formats import read_structures
from hybridpot.train import Dataset, config_from_dict
from hybridpot.uncertainty import (
    ActiveLearningConfig,
    ExplorationConfig,
    run_active_learning,
)

DATA = os.path.join(os.path.dirname(__file__), "..", "..", "hybridpot", "data", "alni_emt.extxyz")
MODEL = ("pair_mlp", {"cutoff": 4.0, "species": [13, 28], "hidden": [8], "n_basis": 6, "dtype": "float64"})


def make_model(labelled):
    return MODEL


@pytest.fixture(scope="module")
def data():
    images = read(DATA, ":")
    rng = np.random.default_rng(0)
    idx = rng.choice(len(images), size=8, replace=False)
    ds = Dataset.from_atoms([images[i] for i in idx])
    return Dataset(ds.structures[:5]), Dataset(ds.structures[5:])


def train_config():
    return config_from_dict({
        "data": {"batch_size": 2, "n_buckets": 1},
        "loss": {"energy_per_atom": True},
        "optim": {"learning_rate": 1e-2, "decay": "constant"},
        "run": {"n_seeds": 2, "max_steps": 6, "checkpoint_every": 6, "progress": False, "dtype": "float64"},
    })


def al_config():
    return ActiveLearningConfig(n_iterations=2, n_select=2, strategy="uncertainty", seed=3,
                                exploration=ExplorationConfig(temperatures_K=(300.0,), n_trajectories=2, n_steps=6,
                                                              sample_every=2, max_force_std=50.0))


@pytest.mark.heavy  # an active-learning loop run twice: kept out of the 5-minute default selection
def test_loop_runs_end_to_end_and_resumes_identically(data, tmp_path):
    initial, test = data
    logs = []
    full = run_active_learning(initial, test, EMT, make_model, train_config(), al_config(), str(tmp_path / "full"),
                               log=logs.append)
    assert [r["n_labelled"] for r in full.history] == [5, 7, 9]
    assert len(full.labelled) == 9 and full.potential.n_members == 2
    for row in full.history:
        assert np.isfinite(row["energy_per_atom_rmse"]) and np.isfinite(row["forces_rmse"])
        assert -1 <= row["forces_calibration"]["spearman"] <= 1
    for row in full.history[:-1]:
        assert row["n_candidates"] >= 2 and len(row["selected_uncertainty"]) == 2
    # the new labels are the oracle's: relabel the stored structures with EMT
    stored = read_structures(str(tmp_path / "full" / "labelled.traj"))
    assert len(stored) == 9
    for s in stored[5:]:
        atoms = Atoms(numbers=s.numbers, positions=s.positions, cell=s.cell, pbc=s.pbc, calculator=EMT())
        assert s.energy == pytest.approx(atoms.get_potential_energy(), abs=1e-6)  # extxyz keeps 8 decimals of Å
    with pytest.raises(FileExistsError, match="resume=True"):
        run_active_learning(initial, test, EMT, make_model, train_config(), al_config(), str(tmp_path / "full"))

    class Interrupt(Exception):
        pass

    def stop_in_iteration_1(line):
        if line.startswith("iteration 1"):
            raise Interrupt

    with pytest.raises(Interrupt):
        run_active_learning(initial, test, EMT, make_model, train_config(), al_config(), str(tmp_path / "cut"),
                            log=stop_in_iteration_1)
    assert len(json.load(open(tmp_path / "cut" / "state.json"))["history"]) == 1
    resumed = run_active_learning(initial, test, EMT, make_model, train_config(), al_config(), str(tmp_path / "cut"),
                                  resume=True, log=lambda s: None)
    assert json.dumps(resumed.history) == json.dumps(full.history)
    other = ActiveLearningConfig(n_iterations=2, n_select=1, exploration=al_config().exploration)
    with pytest.raises(ValueError, match="another config"):
        run_active_learning(initial, test, EMT, make_model, train_config(), other, str(tmp_path / "cut"), resume=True)


def test_bad_settings_are_rejected(data, tmp_path):
    initial, test = data
    with pytest.raises(ValueError, match="strategy must be one of"):
        ActiveLearningConfig(strategy="greedy")
    with pytest.raises(ValueError, match="max_force_std must be > 0"):
        ExplorationConfig(max_force_std=0.0)
    one = config_from_dict({"run": {"n_seeds": 1}})
    with pytest.raises(ValueError, match="n_seeds must be >= 2"):
        run_active_learning(initial, test, EMT, make_model, one, al_config(), str(tmp_path))
