"""The study trainer's spectroscopic term: a Morse fitted to Morse levels alone recovers D_e, a
and r_e; energies alone through the levels-aware trainer equal the plain trainer; one vmapped
program trains energies-alone and levels-alone runs as the single runs do."""

from dataclasses import replace

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hybridpot.physics import MorseParams, morse_energy
from hybridpot.spectroscopy import H2_REDUCED_MASS_AMU, spectroscopic_observables, spectroscopic_targets
from hybridpot.studies.diatomic import get_protocol, nested_training_sets
from hybridpot.studies.diatomic.training import (
    MORSE,
    Curves,
    LevelsTerm,
    pad_training_sets,
    stack_hypers,
    train_model,
    train_run,
)

# compile-heavy (eigh's gradient inside the vmapped training loop): CI runs it with `pytest -m heavy`
pytestmark = pytest.mark.heavy

R = np.concatenate([np.arange(0.5, 8.0, 0.1), np.linspace(8.0, 19.6, 89)])[:164]
GRID = 0.03 * np.arange(10, 91)  # DVR grid 0.3 … 2.7 Å
H2_LIKE = MorseParams(0.1745, 1.94, 0.741, -1.1745)
MU = H2_REDUCED_MASS_AMU


def one_fraction(protocol, model, steps):
    stages = tuple(replace(s, steps=(steps,), learning_rate=s.learning_rate[:1], lbfgs_steps=0) for s in protocol.stages[model])
    return replace(protocol, stages={model: stages})


def morse_targets():
    obs = spectroscopic_observables(GRID, morse_energy(jnp.asarray(GRID), H2_LIKE), MU, 5)
    return spectroscopic_targets(obs.term_values_inv_cm, 0.1, obs.rotational_constants_inv_cm, 0.001)


def data(n_modes, energies=True):
    y = np.asarray(morse_energy(jnp.asarray(R), H2_LIKE)) + 0.002 * np.exp(-R)
    r, yy, w = pad_training_sets(R, y, [nested_training_sets(len(R))[0]])
    w = w if energies else np.zeros_like(w)
    return Curves(*(jnp.asarray(np.stack([a] * n_modes)) for a in (r, yy, w)))


def levels_term(energy_weight, levels_weight):
    targets = jax.tree.map(lambda x: np.broadcast_to(np.asarray(x), (len(energy_weight), 1) + np.shape(x)), morse_targets())
    return LevelsTerm(GRID, MU, targets, np.asarray(energy_weight, float)[:, None], np.asarray(levels_weight, float)[:, None])


def test_morse_fitted_to_morse_levels_alone_recovers_its_parameters():
    protocol = one_fraction(get_protocol("improved", "X"), "morse", 400)
    keys = jnp.stack([jax.random.key(0)])
    params, _, _, finite = train_model("morse", [protocol], MORSE, data(1, energies=False), keys, levels_term([0.0], [1.0]))
    fitted = jax.tree.map(lambda a: float(a[0, 0, 0]), params["physics"])
    # the start (second-order Morse fit of G(v), r_0 from B_0) is 1 % off in r_e; training fixes it
    np.testing.assert_allclose([fitted.d_e, fitted.a, fitted.r_e], [H2_LIKE.d_e, H2_LIKE.a, H2_LIKE.r_e], rtol=2e-4)
    assert bool(finite.all())


def test_energies_alone_equal_the_plain_trainer_and_vmapped_modes_equal_single_runs():
    model = "morse"  # the cheapest to compile; the network path runs in the experiment
    protocol = one_fraction(get_protocol("improved", "X"), model, 30)
    keys = jnp.stack([jax.random.key(2), jax.random.key(4)])
    plain = train_model(model, [protocol], MORSE, data(1), keys)
    curves = data(2)
    curves = curves._replace(w=curves.w.at[1].set(0.0))  # mode 1: levels alone (no energy points)
    levels = levels_term([1.0, 0.0], [0.0, 1.0])  # energies | levels
    modes = train_model(model, [protocol] * 2, MORSE, curves, keys, levels)
    for a, b in zip(jax.tree.leaves(plain[:2]), jax.tree.leaves(jax.tree.map(lambda x: x[:1], modes[:2]))):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
    hypers = jax.tree.map(lambda a: a[0, 0], stack_hypers([protocol], model, jnp.float64))
    run_levels = levels._replace(
        targets=jax.tree.map(lambda x: jnp.asarray(x[1, 0]), levels.targets),
        energy_weight=levels.energy_weight[1, 0], levels_weight=levels.levels_weight[1, 0],
    )
    single = jax.jit(lambda r, y, w, k: train_run(model, protocol, MORSE, r, y, w, hypers, k, run_levels))(
        curves.r[1, 0], curves.y[1, 0], curves.w[1, 0], keys[1]
    )
    batched = jax.tree.map(lambda a: a[1, 0, 1], modes[:2])
    # levels do not see the energy zero: the shift's gradient is round-off, which Adam scales up
    # to full steps, so it differs between any two programs; every identified quantity agrees
    for name in ("d_e", "a", "r_e"):
        np.testing.assert_allclose(getattr(batched[0]["physics"], name), getattr(single[0]["physics"], name), rtol=1e-9)
    for a, b in zip(batched[1], single[1]):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    assert bool(modes[3].all())
