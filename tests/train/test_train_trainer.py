"""The graph trainer end to end (float64): files, compilations, vmapped seeds, resume, guards."""

import dataclasses
import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from train_helpers import emt_data, emt_structures, pair_mlp_model  # noqa: F401  (fixture)

from hybridpot.graph import batch_graphs, build_graph
from hybridpot.hybrid import additive, aphynity
from hybridpot.potential import GraphModel, energy_and_forces, pair_energy
from hybridpot.potentials import Potential
from hybridpot.train import (
    Dataset,
    NonFiniteError,
    config_from_dict,
    errors_by_config_type,
    evaluate,
    fit,
    fit_energy_normalisation,
    load_checkpoint,
    predict,
    resume,
)
from hybridpot.train.data import batch_indices
from hybridpot.train.trainer import _member_keys


def _config(**sections):
    """Tests share one base config (12 steps, 2 members, 2 buckets) so the compiled steps are reused."""
    base = {
        "data": {"batch_size": 4, "n_buckets": 2, "prefetch": 2},
        "optim": {"learning_rate": 1e-2, "warmup_steps": 2, "decay": "cosine", "ema_decay": 0.9},
        "run": {"max_steps": 12, "n_seeds": 2, "dtype": "float64", "eval_every": 4, "checkpoint_every": 4,
                "log_every": 2, "progress": False},
    }
    for k, v in sections.items():
        base[k] = {**base.get(k, {}), **v}
    return config_from_dict(base)


def _pair_term(u) -> GraphModel:
    """A fixed physics term of the user's own: the pair sum of ``u(r)`` eV over the graph's edges."""
    return GraphModel(init=lambda key, graph, triplets=None: {},
                      energy=lambda params, graph, triplets=None: pair_energy(graph, lambda r, zi, zj: u(r)),
                      cutoff=None)


def _leaves(tree):
    return [np.asarray(x) for x in jax.tree.leaves(tree)]


def test_fit_writes_a_run_and_compiles_at_most_once_per_bucket(emt_data, tmp_path):
    train, valid = emt_data
    cfg = _config()
    result = fit(pair_mlp_model(), train, valid, cfg, str(tmp_path))
    h = result.history["train_loss"]
    assert h.shape == (12, 2) and np.all(np.isfinite(h))
    assert np.all(result.history["valid_loss"][-1] < result.history["valid_loss"][0])  # it learns
    # compilations bounded by the buckets, and reported
    assert 1 <= len(result.shapes_seen) <= len(result.buckets.buckets)
    assert result.n_compilations <= len(result.buckets.buckets)
    assert result.n_compilations in (0, len(result.shapes_seen))  # 0: already compiled in this process
    files = set(os.listdir(tmp_path))
    assert {"config.yaml", "metrics.jsonl", "learning_curve.png", "checkpoints"} <= files
    assert {"last.npz", "last.json", "best.npz", "best.json"} <= set(os.listdir(tmp_path / "checkpoints"))
    rows = [json.loads(line) for line in open(tmp_path / "metrics.jsonl")]
    assert [r["step"] for r in rows if "train_loss" in r] == list(range(2, 13, 2))
    evals = [r for r in rows if "valid_loss" in r]
    assert [r["step"] for r in evals] == [4, 8, 12]
    assert {"valid_energy_mae", "valid_forces_rmse", "valid_energy_per_atom_mae", "valid_stress_mae"} <= set(evals[0])
    meta = json.loads((tmp_path / "checkpoints" / "last.json").read_text(encoding="utf-8"))
    assert meta["step"] == 12 and meta["units"]["forces"] == "eV/Å" and meta["model"]["species"] == [13, 29]
    assert {"jax", "flax", "optax", "numpy"} <= set(meta["versions"])
    assert meta["config"]["run"]["n_seeds"] == 2 and meta["data_order"]["steps_per_epoch"] == 5
    assert meta["data_order"]["epoch"] == 2 and meta["data_order"]["position"] == 2
    # evaluation uses the EMA parameters: the last recorded validation loss is theirs
    loss_ema = evaluate(Potential(result.model, result.ema_params, result.normalisation), valid, cfg)["loss"]
    np.testing.assert_allclose(loss_ema, result.history["valid_loss"][-1], rtol=1e-10)
    loss_raw = evaluate(Potential(result.model, result.params, result.normalisation), valid, cfg)["loss"]
    assert not np.allclose(loss_raw, loss_ema)
    # refuses to overwrite a run
    with pytest.raises(FileExistsError):
        fit(pair_mlp_model(), train, valid, cfg, str(tmp_path))


def test_member_i_equals_a_separate_run_with_seed_i(emt_data, tmp_path):
    train, _ = emt_data
    cfg = _config(run={"seed": 5})
    ensemble = fit(pair_mlp_model(), train, None, cfg, str(tmp_path / "ens"))
    keys = _member_keys(cfg)[1]
    assert len({tuple(k) for k in keys}) == 2  # different data orders
    i = 1
    single = fit(pair_mlp_model(), train, None, _config(run={"seed": 5 + i, "n_seeds": 1}), str(tmp_path / "single"))
    np.testing.assert_allclose(ensemble.history["train_loss"][:, i], single.history["train_loss"][:, 0], rtol=1e-11, atol=1e-12)
    for a, b in zip(_leaves((ensemble.params, ensemble.ema_params)), _leaves((single.params, single.ema_params))):
        np.testing.assert_allclose(a[i], b[0], rtol=1e-9, atol=1e-12)
    # a shared data order gives every member the batches of member 0
    shared = _member_keys(_config(run={"shared_data_order": True}))[1]
    assert batch_indices(shared, 3, len(train), 4, 1)[0][0].tolist() == batch_indices(shared, 3, len(train), 4, 1)[1][0].tolist()


class _Interrupt(Exception):
    pass


def _full_and_cut_at_step_7(train, valid, cfg, tmp_path):
    """Train ``cfg`` uninterrupted into ``full`` (returned) and interrupted at step 7 into ``cut``."""
    full = fit(pair_mlp_model(), train, valid, cfg, str(tmp_path / "full"))

    def stop_at_7(step, state):
        if step == 7:
            raise _Interrupt

    with pytest.raises(_Interrupt):
        fit(pair_mlp_model(), train, valid, cfg, str(tmp_path / "cut"), callback=stop_at_7)
    return full


def test_interrupted_and_resumed_run_equals_the_uninterrupted_one(emt_data, tmp_path):
    train, valid = emt_data
    cfg = _config(run={"patience": 5})
    full = _full_and_cut_at_step_7(train, valid, cfg, tmp_path)
    assert load_checkpoint(str(tmp_path / "cut" / "checkpoints" / "last"))[1]["step"] == 4
    resumed = resume(str(tmp_path / "cut"), pair_mlp_model(), train, valid)
    np.testing.assert_allclose(resumed.history["train_loss"], full.history["train_loss"], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(resumed.history["valid_loss"], full.history["valid_loss"], rtol=1e-12, atol=1e-14)
    for a, b in zip(_leaves((resumed.params, resumed.ema_params, resumed.best_params)),
                    _leaves((full.params, full.ema_params, full.best_params))):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    steps = [json.loads(line)["step"] for line in open(tmp_path / "cut" / "metrics.jsonl")]
    full_steps = [json.loads(line)["step"] for line in open(tmp_path / "full" / "metrics.jsonl")]
    assert steps == full_steps  # no repeated rows after the resume
    other = emt_structures(n_bulk=4, n_cluster=2, seed=3)
    with pytest.raises(ValueError, match="datasets differ"):
        resume(str(tmp_path / "cut"), pair_mlp_model(), other, valid)


def test_non_finite_loss_stops_with_step_and_structures(emt_data, tmp_path):
    train, valid = emt_data
    train = Dataset([dataclasses.replace(s, forces=s.forces.copy()) for s in train.structures])
    cfg = _config(run={"checkpoint_every": 1, "eval_every": 100}, normalisation={"shift": False, "scale": False})
    keys = _member_keys(cfg)[1]
    first = [set(np.concatenate(batch_indices(keys, t, len(train), 4, 1)[0]).tolist()) for t in range(5)]
    bad = next(i for i in range(len(train)) if i not in first[0] and i not in first[1])
    bad_step = next(t for t in range(5) if bad in first[t]) + 1
    train.structures[bad].forces[0, 0] = np.nan
    with pytest.raises(NonFiniteError, match=f"step {bad_step}") as err:
        fit(pair_mlp_model(), train, valid, cfg, str(tmp_path))
    assert err.value.step == bad_step and bad in err.value.structures[err.value.members.index(0)]
    assert str(bad) in str(err.value)
    arrays, meta = load_checkpoint(str(tmp_path / "checkpoints" / "last"))
    assert meta["step"] == bad_step - 1
    assert all(np.all(np.isfinite(a)) for k, a in arrays.items() if k.startswith("state/"))


def test_step_health_check_sees_every_leaf_and_no_overflow():
    from hybridpot.train.trainer import _all_finite

    huge = {"a": jnp.full((3,), 3e38, jnp.float32), "b": [jnp.ones((2, 2)), jnp.zeros((), jnp.float64)]}
    assert bool(_all_finite(huge))  # finite, though its norm overflows float32
    for bad in (np.inf, -np.inf, np.nan):
        tree = {**huge, "b": [jnp.ones((2, 2)).at[1, 0].set(bad), jnp.zeros((), jnp.float64)]}
        assert not bool(_all_finite(tree)) and not bool(jax.jit(_all_finite)(tree))
    assert bool(_all_finite({}))


def test_early_stopping(emt_data, tmp_path):
    train, valid = emt_data
    # min_delta so large that only the first evaluation counts as an improvement
    cfg = _config(run={"eval_every": 2, "patience": 2, "min_delta": 1e9})
    result = fit(pair_mlp_model(), train, valid, cfg, str(tmp_path))
    assert result.stopped_early
    assert result.history["train_loss"].shape[0] == 6  # evaluations at 2 (best), 4, 6 -> stop
    meta = load_checkpoint(str(tmp_path / "checkpoints" / "best"))[1]
    assert meta["early_stopping"]["best_step"] == [2, 2]


def test_float32_stress_loss_triplets_and_a_fixed_physics_term(emt_data, tmp_path):
    """float32 (the default precision), a stress loss, a model reading triplets, a physics term."""
    train, valid = emt_data
    learned = pair_mlp_model(three_body=True, dtype=jnp.float32)
    repulsion = _pair_term(lambda r: 0.1 * jnp.exp(-2.0 * (r - 2.5)))  # a fixed repulsion, eV
    model = additive(repulsion, learned)

    def physics(graph, triplets):
        return repulsion.energy({}, graph, triplets)

    cfg = _config(loss={"stress_weight": 1.0, "kind": "huber", "huber_delta": 0.1},
                  run={"max_steps": 4, "eval_every": 4, "n_seeds": 1, "dtype": "float32"}, data={"n_buckets": 1})
    assert config_from_dict({}).run.dtype == "float32"
    result = fit(model, train, valid, cfg, str(tmp_path))
    assert all(x.dtype == np.float32 for x in _leaves(result.params))
    assert np.all(np.isfinite(result.history["train_loss"]))
    assert "stress_mae" in result.valid_metrics and "three_body" in result.params["learned"]["params"]
    # the shift was fitted to E - E_physics (physics evaluated in float64 here)
    graphs = [build_graph(s.positions, s.numbers, 4.0, cell=s.cell, pbc=s.pbc) for s in train.structures]
    e_phys, f = jax.jit(energy_and_forces(lambda p, g: physics(g, None)))(None, batch_graphs(graphs))
    f_phys = np.split(np.asarray(f), np.cumsum([len(s.numbers) for s in train.structures])[:-1])
    expected = fit_energy_normalisation([s.numbers for s in train.structures], [s.energy for s in train.structures],
                                        [s.forces for s in train.structures], physics_energies=e_phys, physics_forces=f_phys)
    np.testing.assert_allclose(result.normalisation.shift, expected.shift, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(result.normalisation.scale, expected.scale, rtol=1e-5)
    # predict = physics + shift + scale * model, consistent with the validation metrics of the run
    pred = predict(result.potential, valid, batch_size=4)
    e_ref = np.array([s.energy for s in valid.structures])
    np.testing.assert_allclose(np.abs(pred["energy"][0] - e_ref).mean(), result.valid_metrics["energy_mae"][0], rtol=1e-4)
    # errors per config_type: untyped structures form one group with the set's metrics; types split them
    whole = errors_by_config_type(valid, pred)["(none)"]
    for name in ("energy_mae", "energy_per_atom_rmse", "forces_mae", "forces_rmse"):
        np.testing.assert_allclose(whole[name], result.valid_metrics[name], rtol=1e-4)
    typed = Dataset([dataclasses.replace(s, config_type="ab"[k % 2]) for k, s in enumerate(valid.structures)])
    groups = errors_by_config_type(typed, pred)
    assert list(groups) == ["a", "b"] and groups["a"]["n_structures"] == (len(valid) + 1) // 2
    pooled = sum(g["energy_mae"] * g["n_structures"] for g in groups.values()) / len(valid)
    np.testing.assert_allclose(pooled, whole["energy_mae"], rtol=1e-12)


@pytest.mark.heavy  # two trainings of a hybrid, penalised and not: kept out of the 5-minute default selection
def test_learned_part_penalty_of_a_hybrid(emt_data, tmp_path):
    """aphynity(physics, model, penalty=λ) adds λ·⟨(s·E_model/N)²⟩ to the loss and shrinks the learned part."""
    train, valid = emt_data
    model = pair_mlp_model()
    # a rough Morse-like pair term, eV
    physics = _pair_term(lambda r: 0.3 * (jnp.exp(-2.0 * (r - 2.6)) - 2.0 * jnp.exp(-(r - 2.6))))
    lam = 1e3
    cfg = _config(run={"max_steps": 24, "eval_every": 24, "n_seeds": 1})
    hybrids = {0.0: additive(physics, model), lam: aphynity(physics, model, penalty=lam)}
    runs = {w: fit(h, train, valid, cfg, str(tmp_path / str(w))) for w, h in hybrids.items()}
    plain, penalised = runs[0.0], runs[lam]
    size = penalised.valid_metrics["learned_per_atom_rmse"][0]
    # the validation loss is the plain loss plus λ times the mean square of the learned part per atom
    with_pen = evaluate(penalised.potential, valid, cfg)
    without = evaluate(Potential(hybrids[0.0], penalised.best_params, penalised.normalisation), valid, cfg)
    np.testing.assert_allclose(with_pen["loss"] - without["loss"], lam * size**2, rtol=1e-9)
    # the learned part is s·E_model per structure
    graphs = [build_graph(s.positions, s.numbers, model.cutoff, cell=s.cell, pbc=s.pbc) for s in valid.structures]
    params0 = jax.tree.map(lambda x: x[0], penalised.best_params["learned"])
    e_model = np.asarray(model.energy(params0, batch_graphs(graphs), None))
    n = np.array([len(s.numbers) for s in valid.structures])
    direct = float(penalised.normalisation.scale) * e_model / n
    np.testing.assert_allclose(size, np.sqrt(np.mean(direct**2)), rtol=1e-8)
    # ... and the penalty made it smaller than in the unpenalised run (whose validation reports it too)
    e_plain = np.asarray(model.energy(jax.tree.map(lambda x: x[0], plain.best_params["learned"]), batch_graphs(graphs),
                                      None))
    plain_size = plain.valid_metrics["learned_per_atom_rmse"][0]
    np.testing.assert_allclose(plain_size, np.sqrt(np.mean((float(plain.normalisation.scale) * e_plain / n) ** 2)),
                               rtol=1e-8)
    assert size < 0.75 * plain_size
    with pytest.raises(ValueError, match="penalty must be >= 0"):
        aphynity(physics, model, penalty=-1.0)


def test_energy_only_labels_train_and_evaluate_without_forces(emt_data, tmp_path):
    train, valid = emt_data
    strip = lambda data: Dataset([dataclasses.replace(s, forces=None) for s in data.structures])  # noqa: E731
    train_e, valid_e = strip(train), strip(valid)
    with pytest.raises(ValueError, match="loss.forces_weight > 0 but no training structure has forces"):
        fit(pair_mlp_model(), train_e, valid_e, _config(), str(tmp_path / "forces"))
    with pytest.raises(ValueError, match="normalisation.scale=false"):
        fit(pair_mlp_model(), train_e, valid_e, _config(loss={"forces_weight": 0.0}), str(tmp_path / "scale"))
    cfg = _config(loss={"forces_weight": 0.0}, normalisation={"scale": False})
    result = fit(pair_mlp_model(), train_e, valid_e, cfg, str(tmp_path / "energy"))
    assert "energy_mae" in result.valid_metrics and not any("forces" in k for k in result.valid_metrics)
    # the same run as on the fully labelled data with the force weight at zero, step for step
    reference = fit(pair_mlp_model(), train, valid, cfg, str(tmp_path / "reference"))
    np.testing.assert_allclose(result.history["train_loss"], reference.history["train_loss"], rtol=1e-12)
    assert "forces_mae" in reference.valid_metrics
    # evaluation skips the forces where there are no labels, and the energy errors are the same
    without = evaluate(result.potential, valid_e, cfg)
    labelled = evaluate(result.potential, valid, cfg)
    assert not any("forces" in k for k in without) and "forces_mae" in labelled
    np.testing.assert_allclose(without["energy_mae"], labelled["energy_mae"], rtol=1e-12)
    np.testing.assert_allclose(without["loss"], labelled["loss"], rtol=1e-12)


def test_a_torn_last_checkpoint_falls_back_to_the_previous_one(emt_data, tmp_path):
    from hybridpot._store import flatten_with_names
    from hybridpot.train import load_best

    train, valid = emt_data
    cfg = _config(run={"checkpoint_every": 2})
    full = _full_and_cut_at_step_7(train, valid, cfg, tmp_path)
    last = tmp_path / "cut" / "checkpoints" / "last.npz"
    assert load_checkpoint(str(tmp_path / "cut" / "checkpoints" / "previous"))[1]["step"] == 4
    last.write_bytes(last.read_bytes()[:1000])  # torn (a full disk, a bad copy)
    with pytest.warns(RuntimeWarning, match=rf"{last}: truncated or corrupt checkpoint.*previous.npz \(step 4\)"):
        resumed = resume(str(tmp_path / "cut"), pair_mlp_model(), train, valid)
    for a, b in zip(_leaves((resumed.params, resumed.ema_params, resumed.best_params)),
                    _leaves((full.params, full.ema_params, full.best_params))):
        np.testing.assert_array_equal(a, b)
    # without validation data the model is the final state: load_best gives the last EMA parameters
    novalid = fit(pair_mlp_model(), train, None, cfg, str(tmp_path / "novalid"))
    params, _, meta = load_best(str(tmp_path / "novalid"))
    assert meta["step"] == 12 and not os.path.exists(tmp_path / "novalid" / "checkpoints" / "best.npz")
    final = flatten_with_names(novalid.ema_params)
    assert sorted(params) == sorted(final)
    for name, value in final.items():
        np.testing.assert_array_equal(params[name], value)
    assert json.loads(open(tmp_path / "novalid" / "metrics.jsonl").readlines()[-1])["model"] == "final (no validation data)"
