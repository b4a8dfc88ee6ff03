"""The diatomic study's models and their training as one compiled program per model family.

Every run (state × training fraction × seed) of one model is trained by a single jitted
function. Runs with the same training-set size and step table form a group: one ``vmap``
over its (state, fraction) pairs × seeds, on the group's own points; one ``lax.scan`` over
optimiser steps advances every group that still has steps to take, so no step computes a
padded point or a finished run.

An optional spectroscopic term (:class:`LevelsTerm`) adds a reduced χ² on vibrational term values
and rotational constants (:func:`hybridpot.spectroscopy.spectroscopic_loss`) to the loss, with
per-run weights for energies and levels, so runs on energies alone, levels alone, or both are
trained by the same compiled program.
"""

from __future__ import annotations

from functools import partial
from typing import Any, Callable, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from hybridpot.hybrid import (
    additive,
    aphynity_adaptive_loss,
    aphynity_penalty_loss,
    physinet,
    physinet_mix,
    pure_network,
    pure_physics,
    train_only,
    update_multiplier,
    weighted_mean_square,
)
from hybridpot.models import MLP, apply_points_last
from hybridpot.physics import MorseParams, morse_energy
from hybridpot.spectroscopy import SpectroscopicTargets, morse_from_observables, spectroscopic_loss
from hybridpot.studies.diatomic.protocols import Protocol, Stage
from hybridpot.train import FitProblem, fit_full_batch, fit_full_batch_fused, full_batch_step, polish_lbfgs
from hybridpot.units import HARTREE_TO_INV_CM

HIDDEN_LAYERS = (50, 24, 12)  # the paper's network: 1 → 50 → 24 → 12 → 1
LOG_EVERY = 500


class PhysicsTerm(NamedTuple):
    """A pluggable physics term for curve fitting.

    Attributes:
        energy: ``(params, r [n] Å) -> [n]`` energies (hartree here), e.g. ``morse_energy``.
        paper_init: ``dtype -> params``: the fixed starting point of the paper protocol.
        data_init: ``(r [P], y [P], w [P]) -> params``: a starting point estimated from the
            (weighted) training points; must be jit/vmap-safe.
        describe: ``params -> dict`` of named physical parameters to compare (D_e, r_e, a).
        levels_init: ``(targets, reduced_mass_amu, r_grid [m]) -> params``: a starting point
            from spectroscopic targets alone, for runs without energies (None: not supported).
    """

    energy: Callable[[Any, jax.Array], jax.Array]
    paper_init: Callable[[Any], Any]
    data_init: Callable[[jax.Array, jax.Array, jax.Array], Any]
    describe: Callable[[Any], dict]
    levels_init: Callable[[SpectroscopicTargets, float, jax.Array], Any] | None = None


def _morse_data_init(r, y, w):
    """Morse start from the points: minimum → (r_e, shift), largest r → asymptote, a by grid search."""
    big = jnp.asarray(jnp.inf, y.dtype)
    i_min = jnp.argmin(jnp.where(w > 0, y, big))
    r_e, shift = r[i_min], y[i_min]
    i_far = jnp.argmax(jnp.where(w > 0, r, -big))
    d_e = jnp.maximum(y[i_far] - shift, 1e-3)
    widths = jnp.linspace(0.3, 5.0, 95, dtype=y.dtype)
    errors = jax.vmap(lambda a: weighted_mean_square(morse_energy(r, MorseParams(d_e, a, r_e, shift)) - y, w))(widths)
    return MorseParams(d_e, widths[jnp.argmin(errors)], r_e, shift)


def _morse_levels_init(targets: SpectroscopicTargets, reduced_mass_amu, r_grid):
    """Morse start from term values (and B_0) alone; without B_0, r_e at the grid's first third.
    The energy zero (shift) is 0: term values do not see it."""
    d_e, a, r_e = morse_from_observables(targets, reduced_mass_amu, r_grid[0] + (r_grid[-1] - r_grid[0]) / 3.0)
    return MorseParams(d_e, a, r_e, jnp.zeros_like(d_e))


MORSE = PhysicsTerm(
    energy=lambda p, r: morse_energy(r, p),
    paper_init=lambda dtype: MorseParams(*(jnp.asarray(v, dtype) for v in (4.0, 3.0, 0.7, 0.0))),
    data_init=_morse_data_init,
    describe=lambda p: {"D_e": p.d_e, "r_e": p.r_e, "a": p.a},
    levels_init=_morse_levels_init,
)


class LevelsTerm(NamedTuple):
    """The spectroscopic part of the loss: ``energy_weight · energy loss + levels_weight · χ²``.

    Attributes:
        r_angstrom: ``[m]`` Å, the uniform DVR grid (r > 0) on which each model's curve is solved;
            a NumPy array (fixed, not traced), covering every level of the targets.
        reduced_mass_amu: μ in u (a Python float).
        targets: :class:`~hybridpot.spectroscopy.SpectroscopicTargets` per run, ``[..., k]``.
        energy_weight: per-run weight of the energy loss (0: levels alone; the run's energy
            points must then all have weight 0, so nothing is taken from them: the network's
            normalisation and the physics start then come from the grid and the targets).
        levels_weight: per-run weight of the reduced χ² (0: energies alone).

    In :func:`train_model` the last three carry leading ``[n_state, n_fraction]`` axes.
    """

    r_angstrom: np.ndarray
    reduced_mass_amu: float
    targets: SpectroscopicTargets
    energy_weight: jax.Array
    levels_weight: jax.Array


class Curves(NamedTuple):
    """Stacked training data: ``[n_state, n_fraction, P]`` arrays (P = largest training set).

    ``r`` in Å, ``y`` in hartree, ``w`` = 1 for a training point and 0 for padding.
    """

    r: jax.Array
    y: jax.Array
    w: jax.Array


class Hyper(NamedTuple):
    """Per-(state, fraction) settings of one stage: ``[n_state, n_fraction]`` arrays."""

    learning_rate: jax.Array
    steps: jax.Array
    penalty: jax.Array


def _schedule(stage: Stage, peak, steps):
    if stage.schedule == "constant":
        return peak
    warmup = jnp.maximum(1.0, 0.02 * steps)

    def rate(count):
        t = count.astype(jnp.result_type(peak))
        ramp = jnp.minimum(1.0, (t + 1.0) / warmup)
        progress = jnp.clip((t - warmup) / jnp.maximum(1.0, steps - warmup), 0.0, 1.0)
        return peak * ramp * (0.01 + 0.99 * 0.5 * (1.0 + jnp.cos(jnp.pi * progress)))

    return rate


def _activation(name: str):
    return {"relu": nn.relu, "tanh": jnp.tanh}[name]


def make_network(protocol: Protocol, model: str) -> MLP:
    """The paper's MLP with the protocol's activation, initialisation and dtype for ``model``.

    Xavier initialisation for APHYNITY and PhysiNet, PyTorch's default for the others (as in
    the paper's code); PhysiNet has no activation after the last hidden layer.
    """
    return MLP(
        HIDDEN_LAYERS,
        activation=_activation(protocol.activation),
        activate_last_hidden=model != "physinet",
        weight_init="xavier" if model in ("aphynity", "aphynity_adaptive", "physinet") else "torch",
        param_dtype=jnp.float64 if protocol.float64 else jnp.float32,
    )


def network_feature(protocol: Protocol, r: jax.Array) -> jax.Array:
    """The network's input feature of the distances ``r`` (Å): r itself or ln r."""
    return jnp.log(r) if protocol.network_input == "log_r" else r


def model_terms(model: str, protocol: Protocol, physics: PhysicsTerm, network: MLP, norm: tuple):
    """The hybrid ``terms(params, r)`` of ``model``; ``norm = (x_center, x_scale, y_scale, y_center)``
    standardises the network feature x and scales its output. The pure network adds ``y_center``
    (hartree) to its output: without it a network must itself reach the targets' energy scale
    (−8 Eh for LiH); a hybrid's network is a correction and its physics term carries the offset."""
    x_center, x_scale, y_scale, y_center = norm

    def learned(params, r):
        x = (network_feature(protocol, r) - x_center) / x_scale
        return apply_points_last(network, params, x[..., None, :])[..., 0, :] * y_scale

    if model == "morse":
        return pure_physics(physics.energy)
    if model == "nn":
        return pure_network(lambda params, r: learned(params, r) + y_center)
    if model == "physinet":
        return physinet(physics.energy, learned)
    return additive(physics.energy, learned)


def _normalisation(protocol: Protocol, r, y, w):
    if not protocol.scaled:
        one = jnp.ones((), y.dtype)
        return (0.0 * one, one, one, 0.0 * one), one
    n = jnp.sum(w)
    x = network_feature(protocol, r)
    x_mean = jnp.sum(w * x) / n
    x_std = jnp.sqrt(jnp.sum(w * (x - x_mean) ** 2) / n)
    y_mean = jnp.sum(w * y) / n
    y_var = jnp.sum(w * (y - y_mean) ** 2) / n
    return (x_mean, x_std, jnp.sqrt(y_var), y_mean), y_var


def _levels_normalisation(protocol: Protocol, levels: LevelsTerm, dtype):
    """Network normalisation without energies: the feature standardised over the DVR grid, the
    output scaled by the largest fitted term value (hartree), the levels' energy range, with no
    offset (term values do not see the energy zero)."""
    if not protocol.scaled:
        one = jnp.ones((), dtype)
        return (0.0 * one, one, one, 0.0 * one), one
    x = network_feature(protocol, jnp.asarray(levels.r_angstrom, dtype))
    fitted = jnp.where(levels.targets.term_weights > 0, levels.targets.term_values_inv_cm, 0.0)
    y_scale = (jnp.max(fitted) / HARTREE_TO_INV_CM).astype(dtype)
    return (jnp.mean(x), jnp.std(x), y_scale, jnp.zeros((), dtype)), y_scale**2


class _RunData(NamedTuple):
    """What every stage's loss of one run needs: its training points, their normalisation and,
    with a :class:`LevelsTerm`, the run's ``(targets, energy_weight, levels_weight)``."""

    r: jax.Array
    y: jax.Array
    w: jax.Array
    norm: tuple
    loss_scale: jax.Array
    adaptive_scale: jax.Array
    has_energies: jax.Array
    levels: tuple


def _dtype(protocol: Protocol):
    return jnp.float64 if protocol.float64 else jnp.float32


def _run_levels(levels: LevelsTerm | None, per_run: tuple) -> LevelsTerm | None:
    """``levels`` with one run's targets and weights (``per_run``) in place of the stacked ones."""
    if levels is None:
        return None
    targets, energy_weight, levels_weight = per_run
    return levels._replace(targets=targets, energy_weight=energy_weight, levels_weight=levels_weight)


def _setup_run(model: str, protocol: Protocol, physics: PhysicsTerm, levels: LevelsTerm | None, r, y, w, key, per_run=()):
    """``(params, run data)`` of one run before training; ``per_run`` as in :class:`_RunData`."""
    dtype = _dtype(protocol)
    network = make_network(protocol, model)
    run_levels = _run_levels(levels, per_run)
    has_energies = jnp.sum(w) > 0
    if run_levels is not None:
        w = jnp.where(has_energies, w, 1.0)  # only to keep the energy branches finite; masked below
    norm, y_var = _normalisation(protocol, r, y, w)
    if run_levels is not None:
        from_levels = _levels_normalisation(protocol, run_levels, dtype)
        norm, y_var = jax.tree.map(lambda e, l: jnp.where(has_energies, e, l), (norm, y_var), from_levels)
    # adaptive APHYNITY is always scale-free (λ, τ unit-free)
    run = _RunData(r, y, w, norm, y_var if protocol.scaled else jnp.ones((), dtype), y_var, has_energies, per_run)

    physics_params = physics.paper_init(dtype) if protocol.morse_init == "paper" else physics.data_init(r, y, w)
    if run_levels is not None and protocol.morse_init != "paper" and model != "nn":
        if physics.levels_init is None:
            raise ValueError("this physics term has no levels_init: it cannot start from spectroscopic targets")
        start = physics.levels_init(run_levels.targets, run_levels.reduced_mass_amu, jnp.asarray(run_levels.r_angstrom, dtype))
        physics_params = jax.tree.map(lambda e, l: jnp.where(has_energies, e, l.astype(dtype)), physics_params, start)
    params = {}
    if model != "nn":
        params["physics"] = physics_params
    if model != "morse":
        params["learned"] = network.init(key, r[:, None])
    if model == "physinet":
        params["mix"] = physinet_mix(*((0.0, 0.0) if protocol.morse_init == "paper" else (1.0, 1.0)), dtype=dtype)
    return params, run


def _stage_problem(model: str, protocol: Protocol, physics: PhysicsTerm, levels: LevelsTerm | None, i: int, run: _RunData, hyper: Hyper):
    """``(loss_fn, optimizer, trainable, update_aux)`` of stage ``i`` of one run."""
    dtype = _dtype(protocol)
    stage = protocol.stages[model][i]
    terms = model_terms(model, protocol, physics, make_network(protocol, model), run.norm)
    trainable = None
    if model == "sequential" and i == 0:
        terms, trainable = pure_physics(physics.energy), {"physics"}
    elif model == "sequential":
        trainable = {"learned"}
    r, y, w = run.r, run.y, run.w

    if model == "aphynity":
        def loss_fn(p, a):
            return aphynity_penalty_loss(terms(p, r), y, hyper.penalty, w, run.loss_scale), jnp.zeros((), dtype)
    elif model == "aphynity_adaptive":
        def loss_fn(p, a):
            return aphynity_adaptive_loss(terms(p, r), y, a, w, run.adaptive_scale)
    else:
        def loss_fn(p, a):
            return weighted_mean_square(terms(p, r).total - y, w) / run.loss_scale, jnp.zeros((), dtype)

    if levels is not None:
        loss_fn = _with_levels(loss_fn, terms, _run_levels(levels, run.levels), run.has_energies, dtype)
    optimizer = optax.adam(_schedule(stage, hyper.learning_rate, hyper.steps))
    if trainable is not None:
        optimizer = train_only(optimizer, trainable)
    rate = protocol.adaptive_multiplier[1]
    update_aux = (lambda a, fit: update_multiplier(a, fit, rate)) if model == "aphynity_adaptive" else None
    return loss_fn, optimizer, trainable, update_aux


def _polish(stage: Stage, loss_fn, trainable, params, aux):
    """The stage's L-BFGS polish (of the trainable part only), if it has one."""
    if not stage.lbfgs_steps:
        return params
    if trainable is None:
        return polish_lbfgs(lambda p: loss_fn(p, aux)[0], params, stage.lbfgs_steps)
    frozen = {k: v for k, v in params.items() if k not in trainable}
    part = polish_lbfgs(
        lambda q: loss_fn({**frozen, **q}, aux)[0],
        {k: v for k, v in params.items() if k in trainable},
        stage.lbfgs_steps,
    )
    return {**frozen, **part}


def train_run(
    model: str, protocol: Protocol, physics: PhysicsTerm, r, y, w, hypers: tuple[Hyper, ...], key,
    levels: LevelsTerm | None = None,
):
    """Train one run of ``model`` on one training set; returns (params, terms norm, history, finite).

    ``r, y, w``: ``[P]`` padded training points; ``hypers``: one :class:`Hyper` of scalars per stage;
    ``levels``: optional spectroscopic term with scalar weights and ``[k]`` targets.
    """
    per_run = () if levels is None else (levels.targets, levels.energy_weight, levels.levels_weight)
    params, run = _setup_run(model, protocol, physics, levels, r, y, w, key, per_run)
    histories, finite = [], jnp.asarray(True)
    aux = jnp.asarray(protocol.adaptive_multiplier[0], _dtype(protocol))
    for i, (stage, hyper) in enumerate(zip(protocol.stages[model], hypers)):
        loss_fn, optimizer, trainable, update_aux = _stage_problem(model, protocol, physics, levels, i, run, hyper)
        result = fit_full_batch(
            loss_fn,
            params,
            optimizer,
            num_steps=hyper.steps,
            max_steps=max(stage.steps),
            log_every=LOG_EVERY,
            aux=aux,
            update_aux=update_aux,
            pack_small=True,
        )
        params, aux = result.params, result.aux
        histories.append(result.history)
        finite = finite & result.finite
        params = _polish(stage, loss_fn, trainable, params, aux)
    return params, run.norm, jnp.concatenate(histories), finite


def _with_levels(loss_fn, terms, levels: LevelsTerm, has_energies, dtype):
    """``energy_weight · loss_fn + levels_weight · χ²``; ``loss_fn``'s second output (the fit that
    drives adaptive APHYNITY) passes through, as 0 for a run without energy points."""
    grid = jnp.asarray(levels.r_angstrom, dtype)

    def combined(p, a):
        energy_loss, fit = loss_fn(p, a)
        # without energy points the energy branch saw stand-in weights: nothing of it may count
        energy_loss, fit = (jnp.where(has_energies, x, 0.0) for x in (energy_loss, fit))
        chi2 = spectroscopic_loss(levels.r_angstrom, terms(p, grid).total, levels.reduced_mass_amu, levels.targets)
        return levels.energy_weight * energy_loss + levels.levels_weight * chi2, fit

    return combined


def stack_hypers(protocol_by_state: list[Protocol], model: str, dtype) -> tuple[Hyper, ...]:
    """Per-stage :class:`Hyper` arrays ``[n_state, n_fraction]`` from each state's protocol."""
    n_stages = len(protocol_by_state[0].stages[model])
    hypers = []
    for i in range(n_stages):
        stages = [p.stages[model][i] for p in protocol_by_state]
        hypers.append(
            Hyper(
                learning_rate=jnp.asarray([s.learning_rate for s in stages], dtype),
                steps=jnp.asarray([s.steps for s in stages], jnp.int32),
                penalty=jnp.asarray([s.penalty if s.penalty is not None else (0.0,) * len(s.steps) for s in stages], dtype),
            )
        )
    return tuple(hypers)


def train_model(
    model: str, protocols: list[Protocol], physics: PhysicsTerm, curves: Curves, keys: jax.Array,
    levels: LevelsTerm | None = None, sizes: str = "exact",
):
    """Train every run of ``model``: one jitted program that sweeps every state, training
    fraction and seed (:func:`model_program`, compiled and run).

    Returns:
        ``(params, norm, history, finite)`` with leading axes ``[n_state, n_fraction, n_seed]``;
        ``history [..., n_log]`` is NaN-padded where a run logs fewer losses than the longest.
    """
    program, args = model_program(model, protocols, physics, curves, keys, levels, sizes)
    return program(*args)


def model_program(
    model: str, protocols: list[Protocol], physics: PhysicsTerm, curves: Curves, keys: jax.Array,
    levels: LevelsTerm | None = None, sizes: str = "exact",
):
    """The jitted program that trains every run of ``model``, and its arguments.

    Runs with the same step table form a group, one ``vmap`` over its (state, fraction) pairs
    and the seeds. With ``sizes="exact"`` a group also shares its training-set size and
    computes only its own points; with ``sizes="padded"`` a group's sets are padded to its
    largest (fewer groups: each one is a copy of the training step in the compiled program, so
    compilation grows with their number). All groups share one ``lax.scan`` over optimiser
    steps (:func:`hybridpot.train.fit_full_batch_fused`): a step advances every group that still
    has steps to take, so no finished run is computed. Each run equals training it alone on its
    padded set (:func:`train_run`) within float rounding: padded points have weight 0.

    Args:
        model: one of ``protocols.MODELS``.
        protocols: the protocol of each state (same name, step tables may differ per state).
        physics: the physics term.
        curves: stacked padded training data ``[n_state, n_fraction, P]``, padding after the
            training points (as :func:`pad_training_sets` writes it); the weights must be
            concrete, since the training-set sizes shape the compiled program.
        keys: ``[n_seed]`` PRNG keys (network initialisation).
        levels: optional spectroscopic term whose targets and weights have leading
            ``[n_state, n_fraction]`` axes (a "state" may then be a training mode: energies,
            levels, or both, on the same curve; a run without energy points has all weights 0).
        sizes: ``"exact"`` (no padded point is computed: fastest steps, more to compile) or
            ``"padded"`` (fewest groups: fastest to compile, for short trainings).
    Returns:
        ``(program, args)``: ``program(*args)`` returns what :func:`train_model` returns;
        ``program.lower(*args).compile()`` compiles it ahead of time (benchmarks time the two apart).
    """
    dtype = _dtype(protocols[0])
    hypers = stack_hypers(protocols, model, dtype)
    groups = _equal_work_groups(protocols, model, curves.w, sizes)
    n_log = [-(-max(max(p.stages[model][i].steps) for p in protocols) // LOG_EVERY) for i in range(len(hypers))]
    # The DVR grid and the mass stay fixed Python values (closed over); only targets and weights
    # are mapped, so a levels-free program maps an empty tuple.
    per_run = () if levels is None else jax.tree.map(
        lambda x: jnp.asarray(x, dtype), (levels.targets, levels.energy_weight, levels.levels_weight)
    )

    def sweep(r, y, w, hypers, keys, per_run):
        # A group's runs are one vmapped axis, member-major (its (state, fraction) pairs × the
        # seeds), with each member's data repeated over the seeds: vmap nested over the members
        # and the seeds ran slower on XLA CPU (a group of one member, 64 points, 11 seeds: 201
        # against 124 µs per step), even with one member.
        n_seed = keys.shape[0]
        states = []  # per group: [params, run data, aux, hypers, histories, finite], all [runs, ...]
        for members, size, protocol in groups:
            s, f = np.asarray(members).T
            per_seed = lambda a: jnp.repeat(a[s, f], n_seed, axis=0)  # noqa: E731
            setup = jax.vmap(partial(_setup_run, model, protocol, physics, levels))
            seeds = keys[np.tile(np.arange(n_seed), len(members))]
            params, run = setup(*(per_seed(a[..., :size]) for a in (r, y, w)), seeds, jax.tree.map(per_seed, per_run))
            aux = jnp.full((len(members) * n_seed,), protocol.adaptive_multiplier[0], dtype)
            states.append([params, run, aux, jax.tree.map(per_seed, hypers), [], jnp.asarray(True)])
        for i in range(len(hypers)):
            problems = []
            for (_, _, protocol), (params, run, aux, hyper, _, _) in zip(groups, states):

                def make(run, h, protocol=protocol):
                    loss_fn, optimizer, _, update_aux = _stage_problem(model, protocol, physics, levels, i, run, h[i])
                    return full_batch_step(loss_fn, optimizer, h[i].steps, update_aux, pack_small=True)

                init = jax.vmap(lambda p, a, run, h: make(run, h)[0](p, a))
                step = jax.vmap(lambda c, run, h: make(run, h)[1](c))
                problems.append(
                    FitProblem(lambda c, step=step, run=run, h=hyper: step(c, run, h), init(params, aux, run, hyper), max(protocol.stages[model][i].steps))
                )
            for (_, _, protocol), state, result in zip(groups, states, fit_full_batch_fused(problems, LOG_EVERY, one_at_a_time=levels is not None)):
                params, run, aux, hyper = state[:4]

                def polish(p, a, run, h, protocol=protocol):
                    loss_fn, _, trainable, _ = _stage_problem(model, protocol, physics, levels, i, run, h[i])
                    return _polish(protocol.stages[model][i], loss_fn, trainable, p, a)

                state[0] = jax.vmap(polish)(result.params, result.aux, run, hyper)
                state[2] = result.aux
                state[4].append(_pad_stage_history(result.history, n_log[i]))
                state[5] = state[5] & result.finite
        out = {}
        for (members, _, _), (params, run, _, _, histories, finite) in zip(groups, states):
            by_member = lambda a: a.reshape((len(members), n_seed) + a.shape[1:])  # noqa: E731
            group = jax.tree.map(by_member, (params, run.norm, jnp.concatenate(histories, axis=-1), finite))
            for j, member in enumerate(members):
                out[member] = jax.tree.map(lambda a: a[j], group)
        n_state, n_fraction = curves.w.shape[:2]
        rows = [jax.tree.map(lambda *a: jnp.stack(a), *[out[s, f] for f in range(n_fraction)]) for s in range(n_state)]
        return jax.tree.map(lambda *a: jnp.stack(a), *rows)

    return jax.jit(sweep), (curves.r, curves.y, curves.w, hypers, keys, per_run)


SIZES = ("exact", "padded")


def _equal_work_groups(protocols: list[Protocol], model: str, w, sizes: str) -> list[tuple[tuple[tuple[int, int], ...], int, Protocol]]:
    """``[(members, n_points, protocol)]``: the (state, fraction) pairs that share a step table
    (and, with ``sizes="exact"``, a training-set size), the points their group computes, and a
    member's protocol reduced to its fraction (its steps are the group's own). A run without
    energy points (levels alone) keeps one stand-in point."""
    if sizes not in SIZES:
        raise ValueError(f"unknown sizes {sizes!r}; choose from {SIZES}")
    try:
        w = np.asarray(w)
    except jax.errors.TracerArrayConversionError as error:
        raise TypeError("train_model needs concrete training weights: the set sizes shape the compiled program") from error
    groups: dict[tuple, list[tuple[int, int]]] = {}
    points: dict[tuple, int] = {}
    for f in range(w.shape[1]):
        for s, protocol in enumerate(protocols):
            used = np.nonzero(w[s, f] > 0)[0]
            size = int(used[-1]) + 1 if len(used) else 1
            if not np.all(w[s, f, size:] == 0):
                raise ValueError("training weights must put padding after the training points")
            key = tuple(stage.steps[f] for stage in protocol.stages[model]), size if sizes == "exact" else None
            groups.setdefault(key, []).append((s, f))
            points[key] = max(points.get(key, 0), size)
    return [(tuple(members), points[key], protocols[members[0][0]].only(model, members[0][1])) for key, members in groups.items()]


def _pad_stage_history(history: jax.Array, n_log: int) -> jax.Array:
    """A stage's logged losses ``[..., ceil(steps / LOG_EVERY)]`` NaN-padded to ``n_log`` (the
    longest run's), so every run's history has the layout it had when all runs shared one loop."""
    pad = n_log - history.shape[-1]
    return jnp.pad(history, [(0, 0)] * (history.ndim - 1) + [(0, pad)], constant_values=jnp.nan)


def predict(model: str, protocol: Protocol, physics: PhysicsTerm, params, norm, r: jax.Array):
    """Energies of every trained run on the grid ``r [n]``: HybridTerms of ``[..., n]`` arrays.

    ``params`` and ``norm`` carry the leading run axes returned by :func:`train_model`.
    """
    network = make_network(protocol, model)

    def one(p, nm):
        return model_terms(model, protocol, physics, network, nm)(p, r)

    f = one
    leading = jax.tree.leaves(norm)[0].ndim
    for _ in range(leading):
        f = jax.vmap(f)
    return jax.jit(f)(params, norm)


def pad_training_sets(r_all: np.ndarray, y_all: np.ndarray, sets: list[np.ndarray]):
    """Stack training sets padded to the largest: ``(r, y, w)`` each ``[n_fraction, P]``.

    Padding repeats the first training point with weight 0, so padded entries stay finite.
    """
    size = max(len(s) for s in sets)
    idx = np.stack([np.concatenate([s, np.full(size - len(s), s[0])]) for s in sets])
    w = np.stack([np.arange(size) < len(s) for s in sets]).astype(float)
    return r_all[idx], y_all[idx], w
