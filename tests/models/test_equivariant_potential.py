"""The MACE-like model as a potential: trained with vmapped seeds under a hybrid strategy, written
to a model file and served by the ASE calculator (energy, forces, stress, committee spread), and
run in jax-md NVE (it reads no triplets)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from ase.build import bulk

from hybridpot.md import HybridpotCalculator
from hybridpot.potentials import (
    EnergyNormalisation,
    TrainedPotential,
    load_potential,
    save_potential,
)
from hybridpot.train import Dataset, config_from_dict, fit
from hybridpot.uncertainty import ensemble_predict

# compile-heavy: outside the default selection; CI runs it with `pytest -m heavy`
pytestmark = pytest.mark.heavy

SPECIES = [13, 29]
CUTOFF = 3.6
ARGS = dict(species=SPECIES, cutoff=CUTOFF, channels=4, lmax=1, num_interactions=2, num_radial=4,
            radial_hidden=[8], readout_hidden=4, avg_num_neighbors=12.0, param_dtype="float64")
#: The covalent-range ZBL prior (zero at these bond lengths, acting only on close contacts) and
#: APHYNITY's penalty on the learned part.
ZBL = {"kind": "zbl", "ranges": "covalent"}
STRATEGY = {"name": "aphynity", "penalty": 0.1}
#: Cu Morse (Girifalco & Weizer 1959), shifted to 0 at infinity, smoothly cut off at the cutoff.
MORSE = {"kind": "morse", "d_e": 0.3429, "a": 1.3588, "r_e": 2.866, "shift": -0.3429, "envelope_cutoff": CUTOFF}


def _cells(n: int, seed: int = 0):
    """Rattled, strained 4-atom Al/Cu fcc cells labelled by ASE's EMT (with stress)."""
    from ase.calculators.emt import EMT

    rng = np.random.default_rng(seed)
    images = []
    for _ in range(n):
        atoms = bulk("Cu", "fcc", a=3.65, cubic=True)
        atoms.numbers = rng.choice(SPECIES, size=4)
        atoms.set_cell(atoms.cell[:] @ (np.eye(3) + rng.uniform(-0.02, 0.02, (3, 3))), scale_atoms=True)
        atoms.rattle(0.05, seed=int(rng.integers(1 << 30)))
        atoms.calc = EMT()
        images.append(atoms)
    return images


def test_trained_with_vmapped_seeds_saved_and_served_by_the_calculator(tmp_path):
    """fit() trains two seeds of ZBL + MACE (APHYNITY) in one vmapped program; the model file
    reloads with the same energy, forces and stress through the calculator, whose committee spread
    is that of the two members."""
    images = _cells(12)
    train, valid = Dataset.from_atoms(images[:8]), Dataset.from_atoms(images[8:])
    pot0 = TrainedPotential.from_init("mace", ARGS, physics=ZBL, strategy=STRATEGY)
    cfg = config_from_dict({
        "data": {"batch_size": 4, "n_buckets": 1, "prefetch": 0},
        "loss": {"stress_weight": 1.0},
        "optim": {"learning_rate": 5e-3, "ema_decay": None},
        "run": {"max_steps": 6, "n_seeds": 2, "dtype": "float64", "eval_every": 6, "checkpoint_every": 6,
                "log_every": 6, "progress": False},
    })
    result = fit(pot0.model, train, valid, cfg, str(tmp_path / "run"))
    losses = np.asarray(result.history["train_loss"])
    assert losses.shape[-1] == 2 and np.all(np.isfinite(losses))  # one loss per vmapped seed
    pot = TrainedPotential.from_run(str(tmp_path / "run"), "mace", ARGS, physics=ZBL, strategy=STRATEGY)
    assert pot.n_members == 2 and not pot.needs_triplets
    back = load_potential(save_potential(tmp_path / "mace", pot))
    assert back.model_kind == "mace" and back.physics == ZBL and back.strategy == STRATEGY

    atoms = images[9]
    results = []
    for p in (pot, back):
        a = atoms.copy()
        a.calc = HybridpotCalculator(p, dtype="float64")
        results.append((a.get_potential_energy(), a.get_forces(), a.get_stress(voigt=False),
                        a.calc.results["energy_std"]))
    for x, y in zip(*results):
        np.testing.assert_allclose(x, y, rtol=0, atol=1e-12)
    stats = ensemble_predict(pot, Dataset.from_atoms([atoms]), dtype=np.float64)  # EMT labels, unused here
    np.testing.assert_allclose(results[0][0], stats.energy_mean[0], rtol=1e-10)
    np.testing.assert_allclose(results[0][3], stats.energy_std[0], rtol=1e-8, atol=1e-12)
    assert results[0][3] > 0  # two different seeds


def test_jax_md_nve_with_morse_plus_mace_conserves_energy():
    """Morse + an untrained MACE (learned part scaled to 0.05 eV) on 108 Al/Cu atoms (a box wider than
    twice cutoff + skin, as minimum images need): jax-md NVE at
    300 K, 1 fs, 200 steps with neighbour-list updates; the total energy drifts < 2e-4 eV/atom."""
    from jax_md import quantity, simulate, space

    from hybridpot.md import jax_md_pair

    atoms = bulk("Cu", "fcc", a=3.6, cubic=True).repeat(3)
    atoms.numbers[0] = 13
    atoms.rattle(0.02, seed=0)
    box = float(atoms.cell[0, 0])
    pot = TrainedPotential.from_init("mace", ARGS, physics=MORSE,
                                     normalisation=EnergyNormalisation(np.zeros(119), np.asarray(0.05)))
    displacement, shift = space.periodic(box)
    neighbor_fn, energy_fn = jax_md_pair(pot, displacement, box, atoms.numbers, skin=0.3)
    R = jnp.asarray(atoms.positions)
    nbrs = neighbor_fn.allocate(R)
    a = atoms.copy()
    a.calc = HybridpotCalculator(pot, dtype="float64")
    np.testing.assert_allclose(float(jax.jit(energy_fn)(R, nbrs)), a.get_potential_energy(), rtol=1e-10)

    mass = jnp.asarray(atoms.get_masses())[:, None]
    init, apply = simulate.nve(energy_fn, shift, dt=1.0 / 10.1805)  # 1 fs in Å·sqrt(amu/eV)
    state = init(jax.random.PRNGKey(0), R, kT=300 * 8.617333e-5, mass=mass, neighbor=nbrs)

    def total(state, nbrs):
        return energy_fn(state.position, nbrs) + quantity.kinetic_energy(momentum=state.momentum, mass=state.mass)

    @jax.jit
    def run(state, nbrs):
        def step(carry, _):
            state, nbrs = carry
            state = apply(state, neighbor=nbrs)
            nbrs = nbrs.update(state.position)
            return (state, nbrs), total(state, nbrs)

        return jax.lax.scan(step, (state, nbrs), None, length=200)

    (state, nbrs), energies = run(state, nbrs)
    assert not nbrs.did_buffer_overflow
    energies = np.asarray(energies)
    assert np.all(np.isfinite(energies))
    assert np.ptp(energies) / len(atoms) < 2e-4, np.ptp(energies) / len(atoms)


def test_train_files_fill_the_neighbour_count_and_the_registry_checks_arguments():
    """A train file's mace model gets n̄ from its training structures; the registry sees the whole
    keyword signature, so an unknown or excluded argument is a ValueError naming the accepted ones."""
    from hybridpot.cli.train_app import complete_model_args
    from hybridpot.graph import build_graph
    from hybridpot.models import average_neighbour_count
    from hybridpot.potentials.registry import build_model, constructor_parameters

    train = Dataset.from_atoms(_cells(3))
    args = complete_model_args("mace", {"cutoff": CUTOFF}, SPECIES, "float64", train)
    graphs = [build_graph(s.positions, s.numbers, CUTOFF, cell=s.cell, pbc=s.pbc) for s in train.structures]
    assert args["species"] == SPECIES
    assert args["avg_num_neighbors"] == pytest.approx(average_neighbour_count(graphs), abs=1e-6)
    assert complete_model_args("mace", {"avg_num_neighbors": 3.0}, SPECIES, "float64", train)["avg_num_neighbors"] == 3.0
    assert {"channels", "lmax", "correlation", "avg_num_neighbors"} <= set(constructor_parameters("mace"))
    assert "correlation" not in constructor_parameters("nequip")
    with pytest.raises(ValueError, match="accepts"):
        build_model("nequip", {"species": SPECIES, "correlation": 2})
    with pytest.raises(ValueError, match="accepts"):
        build_model("mace", {"species": SPECIES, "hidden": [8]})
