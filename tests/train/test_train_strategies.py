"""The same hybrid combinators train a pair MLP, a Behler–Parrinello, a DimeNet++ and a MACE-like
network through the same trainer, on the same small data (EMT Al/Cu), with a trainable Morse term."""

from __future__ import annotations

import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from train_helpers import SPECIES, emt_data, pair_mlp_model  # noqa: F401  (fixture)

from hybridpot.graph import build_graph
from hybridpot.hybrid import additive, aphynity, physinet, sequential
from hybridpot.models import (
    behler_parrinello,
    dimenet_pp,
    fit_descriptor_scaling,
    mace,
    symmetry_function_spec,
)
from hybridpot.potentials import Potential, physics_term
from hybridpot.train import config_from_dict, evaluate, fit, load_best
from hybridpot.train.trainer import PHYSICS_STAGE

# compile-heavy: outside the default selection; CI runs it with `pytest -m heavy`
pytestmark = pytest.mark.heavy

CUTOFF = 4.0
#: A trainable Morse pair term (eV, Å), smoothly cut at the models' cutoff.
MORSE = {"kind": "morse", "d_e": 0.3, "a": 1.5, "r_e": 2.6, "envelope_cutoff": CUTOFF, "trainable": True}
STEPS = 8


def _learned(name: str, train):
    if name == "pair_mlp":
        return pair_mlp_model(cutoff=CUTOFF, hidden=(8,))
    if name == "behler_parrinello":
        spec = symmetry_function_spec(SPECIES, CUTOFF, 3.0, num_radial=3, num_angular_eta=2, zetas=(1.0,))
        graphs = [build_graph(s.positions, s.numbers, CUTOFF, cell=s.cell, pbc=s.pbc) for s in train.structures]
        return behler_parrinello(spec, fit_descriptor_scaling(spec, graphs), hidden=(6,), param_dtype=jnp.float64)
    if name == "mace":
        return mace(SPECIES, cutoff=CUTOFF, channels=4, lmax=1, num_radial=4, radial_hidden=(8,), readout_hidden=4,
                    avg_num_neighbors=12.0, param_dtype=jnp.float64)
    return dimenet_pp(SPECIES, cutoff=CUTOFF, emb_size=4, out_emb_size=4, int_emb_size=2, basis_emb_size=2,
                      num_blocks=1, num_spherical=2, num_radial=3, num_dense_output=1, num_after_skip=1,
                      param_dtype=jnp.float64)


def _config():
    return config_from_dict({
        "data": {"batch_size": 8, "n_buckets": 1, "prefetch": 0},
        "optim": {"learning_rate": 5e-3, "ema_decay": None},
        "run": {"max_steps": STEPS, "n_seeds": 2, "dtype": "float64", "eval_every": STEPS,
                "checkpoint_every": STEPS, "log_every": STEPS, "progress": False},
    })


def _flat(tree):
    return np.concatenate([np.ravel(np.asarray(x)) for x in jax.tree.leaves(tree)])


# the pair MLP runs in the default suite; the BP, DimeNet++ and MACE runs (minutes on 2 CPU cores,
# most of it compiling three strategies' steps) with `pytest -m slow`
@pytest.mark.parametrize("learned_name", ["pair_mlp", pytest.param("behler_parrinello", marks=pytest.mark.slow),
                                          pytest.param("dimenet++", marks=pytest.mark.slow),
                                          pytest.param("mace", marks=pytest.mark.slow)])
def test_one_combinator_trains_every_model_family(emt_data, tmp_path, learned_name):
    train, valid = emt_data
    learned = _learned(learned_name, train)
    physics = physics_term(**MORSE)
    cfg = _config()
    s0 = train.structures[0]
    morse0 = physics.init(jax.random.PRNGKey(0), build_graph(s0.positions, s0.numbers, CUTOFF, cell=s0.cell,
                                                             pbc=s0.pbc), None)

    # APHYNITY: the penalty is the strategy's, the loss is the plain loss plus λ⟨(E_learned/N)²⟩
    lam = 10.0
    model = aphynity(physics, learned, penalty=lam)
    result = fit(model, train, valid, cfg, str(tmp_path / "aphynity"))
    assert np.all(np.isfinite(result.history["train_loss"])) and result.model is model
    size = result.valid_metrics["learned_per_atom_rmse"]
    penalised = evaluate(result.potential, valid, cfg)["loss"]
    plain = evaluate(Potential(additive(physics, learned), result.best_params, result.normalisation), valid, cfg)["loss"]
    np.testing.assert_allclose(penalised - plain, lam * size**2, rtol=1e-8)

    # Sequential Phy-ML: the Morse term is fitted alone first, then frozen while the network trains
    model = sequential(physics, learned)
    result = fit(model, train, valid, cfg, str(tmp_path / "sequential"))
    stage_dir = tmp_path / "sequential" / PHYSICS_STAGE
    assert (stage_dir / "checkpoints" / "best.npz").exists()
    stage_params, _, _ = load_best(str(stage_dir))
    fitted = np.stack([stage_params[f"physics/{name}"] for name in morse0._fields], axis=-1)  # [n_seeds, 4]
    assert not np.allclose(fitted, _flat(morse0)[None])  # stage 1 moved the Morse parameters
    frozen = np.stack([np.asarray(x) for x in result.params["physics"]], axis=-1)
    np.testing.assert_array_equal(frozen, fitted)  # ... and stage 2 kept them
    assert np.all(np.isfinite(result.history["train_loss"]))

    # PhysiNet: total = k·physics + l·learned with k, l trained along with both parts
    model = physinet(physics, learned)
    result = fit(model, train, valid, cfg, str(tmp_path / "physinet"))
    mix = result.params["mix"]
    assert np.all(np.isfinite(result.history["train_loss"]))
    assert not np.allclose(np.asarray(mix["k"]), 1.0) and not np.allclose(np.asarray(mix["l"]), 1.0)
    assert os.path.exists(tmp_path / "physinet" / "checkpoints" / "last.npz")
