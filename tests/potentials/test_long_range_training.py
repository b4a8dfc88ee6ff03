"""The long-range hybrid E = E_elec(q) + E_short trains with the library's trainer (energies and forces),
the trained run becomes a potential whose calculator reports the learned charges, and a structure's total
charge reaches the model through the trainer's data pipeline."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator

from hybridpot.md import HybridpotCalculator
from hybridpot.physics import BuckinghamParams, buckingham_energy, direct_coulomb_energy
from hybridpot.potentials import TrainedPotential, build_potential_model
from hybridpot.train import Dataset, config_from_dict, fit


CUTOFF = 4.0
ARGS = {"cutoff": CUTOFF, "species": [11, 17], "hidden": [8], "dtype": "float64"}
PHYSICS = {"kind": "qeq_ewald", "species": [11, 17], "charge_model": {"kind": "pair_mlp", "args": ARGS}}


def _ion_pairs(n=16, seed=0):
    """Two NaCl molecules 6–12 Å apart; labels: formal charges ±1 (all pairs) + a Buckingham repulsion."""
    rng = np.random.default_rng(seed)
    params = BuckinghamParams(1200.0, 0.317, 7.0)

    def energy(pos):
        i, j = np.triu_indices(4, 1)
        r = jnp.linalg.norm(pos[i] - pos[j], axis=-1)
        return jnp.sum(buckingham_energy(r, params)) + direct_coulomb_energy(pos, jnp.array([1.0, -1, 1, -1]))

    out = []
    for _ in range(n):
        d = rng.uniform(6.0, 12.0)
        pos = np.array([[0, 0, 0], [2.4, 0, 0], [0, d, 0], [2.4, d, 0]]) + rng.normal(0, 0.1, (4, 3))
        e, g = jax.value_and_grad(energy)(jnp.asarray(pos))
        atoms = Atoms("NaClNaCl", positions=pos)
        atoms.calc = SinglePointCalculator(atoms, energy=float(e), forces=-np.asarray(g))
        out.append(atoms)
    return Dataset.from_atoms(out)


@pytest.mark.heavy  # compiles the hybrid's training step (~40 s on 2 cores)
def test_hybrid_trains_and_reports_charges(tmp_path):
    train = _ion_pairs()
    model = build_potential_model("pair_mlp", ARGS, PHYSICS)
    steps = 40
    cfg = config_from_dict({
        "data": {"batch_size": 8, "n_buckets": 1, "prefetch": 0},
        "optim": {"learning_rate": 1e-2, "ema_decay": None},
        "run": {"max_steps": steps, "dtype": "float64", "eval_every": steps, "checkpoint_every": steps,
                "log_every": 10, "progress": False},
    })
    result = fit(model, train, _ion_pairs(4, seed=1), cfg, str(tmp_path / "run"))
    loss = np.asarray(result.history["train_loss"])
    assert np.all(np.isfinite(loss)) and loss[-1] < loss[0]
    init = model.init(jax.random.PRNGKey(0), _graph(train), None)
    assert not np.allclose(np.asarray(result.params["physics"]["chi0"])[0], np.asarray(init["physics"]["chi0"]))
    pot = TrainedPotential.from_run(str(tmp_path / "run"), "pair_mlp", ARGS, physics=PHYSICS)
    atoms = Atoms("NaClNaCl", positions=train.structures[0].positions)
    atoms.calc = HybridpotCalculator(pot, dtype="float64")
    q = atoms.get_charges()
    assert abs(q.sum()) < 1e-10 and np.all(np.isfinite(atoms.get_forces()))


def _graph(dataset):
    from hybridpot.graph import build_graph

    s = dataset.structures[0]
    return build_graph(s.positions, s.numbers, CUTOFF)


def test_trainer_graphs_carry_the_total_charge():
    """A charged structure (atoms.info["charge"]) reaches the model through the trainer's data pipeline:
    the trainer's prediction equals the calculator's for the same charged atoms, and differs from the
    neutral one."""
    from hybridpot.train import predict

    pot = TrainedPotential.from_init("pair_mlp", ARGS, physics=PHYSICS)
    params = jax.tree.map(np.array, pot.params)
    params["physics"]["chi0"] = np.array([[-3.0, 3.0]])
    pot = TrainedPotential("pair_mlp", ARGS, params, pot.normalisation, physics=PHYSICS)
    atoms = Atoms("NaClNaCl", positions=[[0, 0, 0], [2.4, 0, 0], [0, 7.0, 0], [2.4, 7.0, 0.3]])
    atoms.calc = SinglePointCalculator(atoms, energy=0.0, forces=np.zeros((4, 3)))
    atoms.info["charge"] = -1
    data = Dataset.from_atoms([atoms])
    assert data.structures[0].charge == -1.0
    predicted = predict(pot.potential, data, dtype=np.float64)["energy"][0, 0]
    calc = atoms.copy()
    calc.calc = HybridpotCalculator(pot, dtype="float64")
    np.testing.assert_allclose(predicted, calc.get_potential_energy(), rtol=1e-10)
    neutral = atoms.copy()
    neutral.info["charge"] = 0
    neutral.calc = HybridpotCalculator(pot, dtype="float64")
    assert abs(neutral.get_potential_energy() - predicted) > 1e-3
