"""The study's compiled training: vmapped runs equal single runs, and physics-exact data."""

from dataclasses import replace

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hybridpot.physics import MorseParams, morse_energy
from hybridpot.studies.diatomic import get_protocol, nested_training_sets, training
from hybridpot.studies.diatomic.training import (
    MORSE,
    Curves,
    pad_training_sets,
    predict,
    stack_hypers,
    train_model,
    train_run,
)

# compile-heavy: outside the default selection; CI runs it with `pytest -m heavy`
pytestmark = pytest.mark.heavy

R = np.concatenate([np.arange(0.5, 8.0, 0.1), np.linspace(8.0, 19.6, 89)])[:164]
H2_LIKE = MorseParams(0.1745, 1.94, 0.741, -1.1745)


def tiny(protocol, steps=60, lbfgs=5):
    """``protocol`` with every stage cut to ``steps`` Adam steps and ``lbfgs`` L-BFGS iterations."""
    stages = {
        m: tuple(replace(s, steps=(steps,) * 8, lbfgs_steps=lbfgs if s.lbfgs_steps else 0) for s in ss)
        for m, ss in protocol.stages.items()
    }
    return replace(protocol, stages=stages)


def curves_for(y, sets, dtype):
    r, yy, w = pad_training_sets(R, y, sets)
    return Curves(*(jnp.asarray(a[None], dtype) for a in (r, yy, w)))


@pytest.mark.parametrize(
    "model, sizes", [("aphynity_adaptive", "exact"), ("physinet", "exact"), ("sequential", "exact"), ("sequential", "padded")]
)
def test_fused_sweep_equals_each_run_trained_alone(model, sizes, monkeypatch):
    # train_model trains each (step table, set size) group on its own points for its own steps
    # ("padded": each step table's sets padded to its largest, here state 0's 16-point set and
    # state 1's 8-point set share 30 steps); each run must equal training it alone on the padded
    # set with its protocol's longest loop, masked (the program before the grouping), history
    # NaN-padded alike.
    # L-BFGS under vmap is checked on its own in tests/train/test_full_batch.py (it compiles slowly)
    monkeypatch.setattr(training, "LOG_EVERY", 10)
    sets = nested_training_sets(len(R))[:2]
    protocols = []
    for shift in (0, 10):  # two states whose step tables differ, per fraction too
        base = tiny(get_protocol("improved", "X"), lbfgs=0)
        steps = tuple(20 + 10 * f + shift for f in range(len(sets)))
        stages = {m: tuple(replace(st, steps=steps, learning_rate=st.learning_rate[:2]) for st in ss) for m, ss in base.stages.items()}
        protocols.append(replace(base, stages=stages))
    y = np.asarray(morse_energy(R, H2_LIKE)) + 0.01 * np.exp(-R)  # Morse plus something to learn
    curves = Curves(*(jnp.asarray(np.stack([a, a]), jnp.float64) for a in pad_training_sets(R, y, sets)))
    keys = jnp.stack([jax.random.key(s) for s in (2, 4)])
    params, norm, history, finite = train_model(model, protocols, MORSE, curves, keys, sizes=sizes)
    assert bool(finite.all())
    hypers = stack_hypers(protocols, model, jnp.float64)
    n_log = history.shape[-1]  # per stage, the longest run logs ceil(40 / 10) = 4 losses
    for s, protocol in enumerate(protocols):
        single = jax.jit(lambda r, yy, w, h, k, protocol=protocol: train_run(model, protocol, MORSE, r, yy, w, h, k))
        for f in range(len(sets)):
            for k in range(len(keys)):
                alone = single(curves.r[s, f], curves.y[s, f], curves.w[s, f], jax.tree.map(lambda a: a[s, f], hypers), keys[k])
                fused = jax.tree.map(lambda a: a[s, f, k], (params, norm, history))
                stage_logs = np.split(alone[2], len(protocol.stages[model]))  # equal-length stages here
                padded = [np.pad(h, (0, n_log // len(stage_logs) - len(h)), constant_values=np.nan) for h in stage_logs]
                expected = (*alone[:2], np.concatenate(padded))
                for a, b in zip(jax.tree.leaves(fused), jax.tree.leaves(expected)):
                    np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


def test_pure_network_is_blind_to_the_energy_zero():
    # LiH's total energies are near −8 Eh: the improved protocol's pure network standardises its
    # targets (offset and scale), so a curve shifted by −7 Eh trains the same network, shifted.
    protocol = tiny(get_protocol("improved", "X"), steps=200, lbfgs=0)
    y = np.asarray(morse_energy(R, H2_LIKE))
    sets = nested_training_sets(len(R))
    keys = jnp.stack([jax.random.key(0)])
    curves = {}
    for shift in (0.0, -7.0):
        params, norm, _, finite = train_model("nn", [protocol], MORSE, curves_for(y + shift, sets, jnp.float64), keys)
        assert bool(finite.all())
        curves[shift] = np.asarray(predict("nn", protocol, MORSE, params, norm, jnp.asarray(R)).total)
    np.testing.assert_allclose(curves[-7.0] + 7.0, curves[0.0], rtol=0, atol=1e-9)
    assert np.sqrt(np.mean((curves[0.0][0, -1, 0] - y) ** 2)) < 0.1 * H2_LIKE.d_e


@pytest.mark.parametrize("model", ["aphynity_adaptive", "sequential"])
def test_hybrid_on_exact_morse_curve_leaves_network_near_zero(model):
    protocol = get_protocol("improved", "X")
    protocol = tiny(protocol, steps=1500, lbfgs=100)
    y = np.asarray(morse_energy(R, H2_LIKE))
    sets = [nested_training_sets(len(R))[-1]] * 8
    curves = curves_for(y, sets, jnp.float64)
    keys = jnp.stack([jax.random.key(0)])
    params, norm, _, finite = train_model(model, [protocol], MORSE, curves, keys)
    terms = predict(model, protocol, MORSE, params, norm, jnp.asarray(R))
    learned = np.abs(np.asarray(terms.learned[0, 0, 0]))
    # the learned part is tiny compared with the well depth, and the physics recovers Morse
    assert learned.max() < 2e-3 * H2_LIKE.d_e, learned.max()
    np.testing.assert_allclose(params["physics"].r_e[0, 0, 0], H2_LIKE.r_e, rtol=1e-3)
    np.testing.assert_allclose(params["physics"].d_e[0, 0, 0], H2_LIKE.d_e, rtol=1e-2)
    assert bool(finite.all())


def test_paper_protocol_runs_in_float32():
    protocol = tiny(get_protocol("paper", "EF"), steps=20)
    y = np.asarray(morse_energy(R, H2_LIKE))
    with jax.enable_x64(False):
        curves = curves_for(y, nested_training_sets(len(R)), jnp.float32)
        params, norm, history, finite = train_model("aphynity", [protocol], MORSE, curves, jnp.stack([jax.random.key(1)]))
        assert params["learned"]["params"]["Dense_0"]["kernel"].dtype == jnp.float32
        assert bool(finite.all())


def _lj_term():
    """A Lennard-Jones + constant physics term: any pair kernel plugs into every hybrid."""
    from hybridpot.physics import LennardJonesParams, lennard_jones_energy
    from hybridpot.studies.diatomic import PhysicsTerm

    def energy(p, r):
        return lennard_jones_energy(r, p["lj"]) + p["offset"]

    def data_init(r, y, w):
        i = jnp.argmin(jnp.where(w > 0, y, jnp.inf))
        far = y[jnp.argmax(jnp.where(w > 0, r, -jnp.inf))]
        return {"lj": LennardJonesParams(far - y[i], r[i] / 2 ** (1 / 6)), "offset": far}

    return PhysicsTerm(
        energy=energy,
        paper_init=lambda dtype: {"lj": LennardJonesParams(jnp.asarray(0.1, dtype), jnp.asarray(0.7, dtype)),
                                  "offset": jnp.asarray(-1.0, dtype)},
        data_init=data_init,
        describe=lambda p: {"epsilon": p["lj"].epsilon, "sigma": p["lj"].sigma},
    )


@pytest.mark.parametrize("model", ["aphynity", "sequential", "physinet"])
def test_any_pair_kernel_works_as_the_physics_term(model):
    from hybridpot.physics import lennard_jones_energy

    term = _lj_term()
    protocol = tiny(get_protocol("improved", "X"), steps=200, lbfgs=0)
    y = np.asarray(morse_energy(R, H2_LIKE))
    curves = curves_for(y, nested_training_sets(len(R)), jnp.float64)
    params, norm, _, finite = train_model(model, [protocol], term, curves, jnp.stack([jax.random.key(0)]))
    assert bool(finite.all())
    terms = predict(model, protocol, term, params, norm, jnp.asarray(R))
    p = jax.tree.map(lambda a: a[0, 3, 0], params["physics"])
    np.testing.assert_allclose(terms.physics[0, 3, 0], lennard_jones_energy(R, p["lj"]) + p["offset"], rtol=1e-12)
    start = term.data_init(curves.r[0, 3], curves.y[0, 3], curves.w[0, 3])
    assert float(jnp.abs(p["lj"].sigma - start["lj"].sigma)) > 0  # the physics term was trained
