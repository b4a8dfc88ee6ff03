"""The minibatch trainer of graph potentials: vmapped seeds, EMA, early stopping, resumable runs.

One compiled step trains every ensemble member at once: parameters and optimiser state carry a
leading ``[n_seeds]`` axis, batches ``[n_seeds, n_shards, ...]`` (member i sees its own data
order; ``n_shards`` > 1 splits a batch over devices). A step is compiled once per padding bucket,
and the compiled steps are shared by every run in the process with the same model and config.

Run folder::

    config.yaml          the full config
    metrics.jsonl        one row per logging interval and per evaluation
    learning_curve.png   train/valid loss against step
    checkpoints/last.{npz,json}   written every ``checkpoint_every`` steps, at the end and on SIGINT
    checkpoints/previous.{npz,json}  the checkpoint before ``last``: :func:`resume` falls back to it
                                  (with a warning naming the file) when ``last`` is missing or torn
    checkpoints/best.{npz,json}   EMA parameters of each member at its best validation loss (only with
                                  validation data; without, the model is the final state: the EMA
                                  parameters in ``last``, see :func:`load_best`)

The model is any :class:`~hybridpot.potential.GraphModel`; what is trained is the assembled potential
(:mod:`hybridpot.potentials.assembled`): the model with the per-element shift and scale on its learned
part. A hybrid's strategy (:mod:`hybridpot.hybrid`) says how it trains: ``aphynity`` adds its penalty
on the learned part to the loss, ``sequential`` fits the physics term alone first (run folder
``<run_dir>/physics_stage``), then freezes it and fits the rest.

Loss, gradients or updates that are not finite stop the run with :class:`NonFiniteError` naming the
step, the member, the structures of its batch and the last checkpoint written before it (if any);
the update of that step is not applied and no checkpoint is written after it, so the last
checkpoint holds the last good state. SIGINT (Ctrl-C) stops the run after the step in progress
with a checkpoint and :class:`TrainingInterrupted`; a second SIGINT interrupts at once.
"""

from __future__ import annotations

import functools
import os
import platform
import signal
import threading
import time
import warnings
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from hybridpot import _store as ckpt
from hybridpot.graph import Bucket, PaddingBuckets
from hybridpot.graph.batch import graph_mask
from hybridpot.hybrid.freezing import train_only
from hybridpot.potential import GraphModel, energy_and_forces, energy_forces_stress
from hybridpot.potentials.assembled import Potential, assembled_terms
from hybridpot.potentials.normalisation import EnergyNormalisation, shift_energy
from hybridpot.train.config import (
    LossConfig,
    OptimConfig,
    TrainConfig,
    config_from_dict,
    config_to_dict,
    save_config,
)
from hybridpot.train.data import (
    Batch,
    Dataset,
    GraphSet,
    batch_indices,
    collate,
    make_buckets,
    prefetch,
    sequential_batches,
    steps_per_epoch,
)
from hybridpot.train.logging import MetricsLog, plot_learning_curve, progress_bar
from hybridpot.train.losses import (
    UNITS,
    Predictions,
    loss_sums,
    metric_sums,
    metrics_from_sums,
    total_loss,
)
from hybridpot.train.normalisation import fit_energy_normalisation
from hybridpot.train.optimizers import (
    ema_init,
    ema_update,
    make_optimizer,
    make_schedule,
)
from hybridpot.train.parallel import device_mesh, place, shardings
from hybridpot.validation import check_loss_labels

CHECKPOINT_FORMAT = "hybridpot-checkpoint-1"


class TrainState(NamedTuple):
    """Per-member training state; every leaf has a leading ``[n_seeds]`` axis.

    Attributes:
        params: model parameters.
        opt_state: optax state.
        ema_params: exponential moving average of ``params`` (used for evaluation).
        step: ``[n_seeds]`` int, updates applied.
        healthy: ``[n_seeds]`` bool, False once a non-finite loss/gradient was met (updates stop).
    """

    params: Any
    opt_state: Any
    ema_params: Any
    step: jax.Array
    healthy: jax.Array


class TrainResult(NamedTuple):
    """Outcome of :func:`fit` / :func:`resume` (parameters stacked over members ``[n_seeds, ...]``).

    Attributes:
        params: raw parameters after the last step.
        ema_params: their EMA after the last step.
        best_params: EMA parameters of each member at its best validation loss (final EMA
            without validation data).
        normalisation: the per-element shift and scale the model was trained with.
        model: the model that was trained.
        history: ``train_loss [n_steps, n_seeds]``, ``valid_step [n_evals]``,
            ``valid_loss [n_evals, n_seeds]``.
        valid_metrics: validation metrics of ``best_params`` (the run's model), ``{name: [n_seeds]}`` in
            :data:`UNITS`; empty without validation data.
        n_compilations: compilations of the training step caused by this run (≤ number of buckets).
        shapes_seen: padded bucket shapes of the training batches.
        buckets: the padding buckets.
        steps_per_second: training throughput after the first step (compilation excluded).
        stopped_early: every member ran out of patience.
        run_dir: the run folder.
    """

    params: Any
    ema_params: Any
    best_params: Any
    normalisation: EnergyNormalisation
    model: GraphModel
    history: dict
    valid_metrics: dict
    n_compilations: int
    shapes_seen: frozenset
    buckets: Any
    steps_per_second: float
    stopped_early: bool
    run_dir: str

    @property
    def potential(self) -> Potential:
        """The assembled potential with the best parameters (what :func:`evaluate` and :func:`predict` take)."""
        return Potential(self.model, self.best_params, self.normalisation)


class NonFiniteError(RuntimeError):
    """A non-finite loss, gradient or update; ``step`` (1-based), ``members`` and ``structures`` say
    where, ``checkpoint`` is the ``.npz`` of the last good state (None when none was written yet)."""

    def __init__(self, step: int, members: list, structures: list, checkpoint: str | None = None,
                 checkpoint_step: int | None = None):
        self.step, self.members, self.structures = step, members, structures
        self.checkpoint, self.checkpoint_step = checkpoint, checkpoint_step
        parts = "; ".join(f"member {m}: structures {s}" for m, s in zip(members, structures))
        where = (f"the last good state is in {checkpoint} (step {checkpoint_step})" if checkpoint is not None
                 else "no checkpoint was written before it (see run.checkpoint_every)")
        super().__init__(
            f"non-finite loss, gradient or update at step {step} ({parts}): the update was not applied; {where}. "
            "A learning rate too large for the data is the usual cause."
        )


class TrainingInterrupted(KeyboardInterrupt):
    """SIGINT stopped the run after ``step`` steps; ``checkpoint`` (``.npz``) holds its state for :func:`resume`."""

    def __init__(self, step: int, checkpoint: str):
        self.step, self.checkpoint = step, checkpoint
        super().__init__(f"interrupted after step {step}; the run's state is in {checkpoint}")


class _StopOnSigint:
    """While active (main thread only), the first SIGINT sets ``requested`` and restores the previous
    handler, so the loop can stop at a step boundary; a second SIGINT interrupts as usual."""

    def __init__(self):
        self.requested = False
        self.previous = None

    def _handle(self, signum, frame):
        self.requested = True
        signal.signal(signal.SIGINT, self.previous)

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc):
        if self.previous is not None and not self.requested:
            signal.signal(signal.SIGINT, self.previous)
        return False


def _vmap(fn: Callable, in_axes=0) -> Callable:
    """``jax.vmap(fn, in_axes)``, except that a mapped axis of length 1 (one member, one shard) is
    dropped and restored around a plain call: XLA lowers gathers and scatters with a batch axis
    more slowly on CPU (DimeNet++ on 32 aspirin frames: one training step 2.9 s vmapped over one
    member and one shard, against 1.9 s unbatched, measured)."""
    vmapped = jax.vmap(fn, in_axes=in_axes)

    def call(*args):
        axes = in_axes if isinstance(in_axes, tuple) else (in_axes,) * len(args)
        sizes = {leaf.shape[0] for arg, ax in zip(args, axes) if ax is not None for leaf in jax.tree.leaves(arg)}
        if sizes != {1}:
            return vmapped(*args)
        inner = [arg if ax is None else jax.tree.map(lambda x: x[0], arg) for arg, ax in zip(args, axes)]
        return jax.tree.map(lambda x: x[None], fn(*inner))

    return call


class _Static(NamedTuple):
    """Everything that fixes the compiled program (hashable: the key of the compile cache).

    ``part``: what the loss sees, ``"total"`` or, in the first stage of a sequential hybrid,
    ``"physics"`` (the physics term plus the per-element shift). ``trainable``: the top-level
    parameter groups the optimiser updates (None: all).
    """

    model: GraphModel
    loss: LossConfig
    optim: OptimConfig
    total_steps: int
    with_stress: bool
    with_forces: bool
    part: str = "total"
    trainable: frozenset | None = None


def _penalty(model: GraphModel) -> float:
    """APHYNITY λ of a hybrid's strategy (0 for every other model)."""
    return 0.0 if model.hybrid is None else float(model.hybrid.strategy.penalty)


def _has_learned_part(model: GraphModel) -> bool:
    """Whether the model is a hybrid with both parts, so its learned part is worth reporting."""
    parts = model.hybrid
    return parts is not None and parts.strategy.uses_physics and parts.strategy.uses_learned


def _predict(static: _Static, params, norm: EnergyNormalisation, batch: Batch) -> Predictions:
    trip = batch.triplets

    def energy_fn(p, g):
        terms = assembled_terms(static.model, p, norm, g, trip)
        if static.part == "physics":
            return terms.physics + shift_energy(g, norm).astype(terms.physics.dtype), terms.learned
        return terms.total, terms.learned

    g = batch.graph
    if static.with_stress:
        energy, forces, stress, learned = energy_forces_stress(energy_fn, has_aux=True)(params, g)
        pred = Predictions(energy, forces, stress)
    elif static.with_forces:
        energy, forces, learned = energy_and_forces(energy_fn, has_aux=True)(params, g)
        pred = Predictions(energy, forces)
    else:  # energy-only labels: no backward pass through the model
        energy, learned = energy_fn(params, g)
        pred = Predictions(jnp.where(graph_mask(g), energy, 0.0), None)
    if _has_learned_part(static.model) and static.part == "total":
        # the learned part s·E_model of the hybrid without the per-element shift (a constant per
        # composition), read from the same forward pass as the total
        learned = learned - shift_energy(g, norm).astype(learned.dtype)
        pred = pred._replace(learned=jnp.where(graph_mask(g), learned, 0.0))
    return pred


def _shard_sums(static: _Static, params, norm, batch: Batch):
    """Loss and metric sums over the ``[n_shards]`` sub-batches of one member's batch."""

    def one(b):
        pred = _predict(static, params, norm, b)
        return loss_sums(pred, b, static.loss), metric_sums(pred, b)

    ls, ms = _vmap(one)(batch)
    return jax.tree.map(lambda x: x.sum(0), ls), jax.tree.map(lambda x: x.sum(0), ms)


def _optimizer(static: _Static) -> optax.GradientTransformation:
    tx = make_optimizer(static.optim, max(static.total_steps, 1))
    return tx if static.trainable is None else train_only(tx, static.trainable)


@functools.lru_cache(maxsize=64)
def _train_step(static: _Static):
    tx = _optimizer(static)
    penalty = _penalty(static.model) if static.part == "total" else 0.0

    def loss_fn(params, norm, batch):
        return total_loss(_shard_sums(static, params, norm, batch)[0], static.loss, penalty)

    def one_member(state: TrainState, batch: Batch, norm, active):
        loss, grads = jax.value_and_grad(loss_fn)(state.params, norm, batch)
        updates, opt_state = tx.update(grads, state.opt_state, state.params)
        # the update too: an infinite learning rate turns finite gradients into infinite parameters
        ok = jnp.isfinite(loss) & _all_finite(grads) & _all_finite(updates)
        params = optax.apply_updates(state.params, updates)
        ema = ema_update(state.ema_params, params, state.step, static.optim.ema_decay)
        new = TrainState(params, opt_state, ema, state.step + 1, state.healthy)
        go = active & state.healthy & ok
        out = jax.tree.map(lambda n, o: jnp.where(go, n, o), new, state)
        return out._replace(healthy=state.healthy & (ok | ~active)), loss, ok

    return jax.jit(_vmap(one_member, in_axes=(0, 0, None, 0)))


def _all_finite(tree) -> jax.Array:
    """True when no leaf of ``tree`` holds an infinity or a NaN (not a norm: it overflows on huge
    finite values).

    One test over the concatenated leaves. A test per leaf joined by ``logical_and``, with the
    gradients' global norm beside it, made XLA load DimeNet++'s training step from the persistent
    cache in 8.4 s; this one, 1.5 s. With YNNPACK fusions off, it compiled in 42 s against 9.2 s
    (``hybridpot train`` of the template on ethanol, batch 4; docs/training.md).
    """
    leaves = [jnp.ravel(x) for x in jax.tree.leaves(tree)]
    return jnp.isfinite(jnp.concatenate(leaves)).all() if leaves else jnp.asarray(True)


@functools.lru_cache(maxsize=64)
def _init_fn(static: _Static, dtype: str):
    tx = _optimizer(static)
    model = static.model

    def init(keys, example: Batch, start) -> TrainState:
        # lax.map, not vmap: XLA's CPU runtime (jax 0.10) deadlocks on the vmapped init of large
        # models (DimeNet++ at published sizes, 2 seeds), whose many rolled threefry loops it runs
        # concurrently; the members are initialised one after another with the same values.
        params = jax.lax.map(lambda k: model.init(k, example.graph, example.triplets), keys)
        params = _cast(params, jnp.dtype(dtype))
        if start is not None:  # given groups (the fitted physics of a sequential hybrid) replace the init
            params = {**params, **_cast(start, jnp.dtype(dtype))}
        n = keys.shape[0]
        return TrainState(params, jax.vmap(tx.init)(params), jax.vmap(ema_init)(params),
                          jnp.zeros(n, jnp.int32), jnp.ones(n, bool))

    return jax.jit(init)


def _schedule_steps(optim: OptimConfig, max_steps: int) -> int:
    """The run length as the compiled step sees it: 0 when the schedule does not depend on it
    (constant decay), so runs of different lengths share one compiled step."""
    return 0 if optim.decay == "constant" else int(max_steps)


def _eval_static(static: _Static, with_stress: bool, with_forces: bool) -> _Static:
    """Evaluation does not depend on the optimiser: one compiled program for every optimiser config."""
    return static._replace(optim=OptimConfig(), total_steps=0, with_stress=with_stress, with_forces=with_forces,
                           trainable=None)


def _has_forces(dataset: Dataset | None) -> bool:
    return dataset is not None and any(s.forces is not None for s in dataset.structures)


@functools.lru_cache(maxsize=64)
def _eval_step(static: _Static):
    def one_member(params, batch, norm):
        return _shard_sums(static, params, norm, batch)

    return jax.jit(_vmap(one_member, in_axes=(0, None, None)))


@functools.lru_cache(maxsize=64)
def _predict_step(static: _Static):
    def one_member(params, batch, norm):
        return _vmap(lambda b: _predict(static, params, norm, b))(batch)

    return jax.jit(_vmap(one_member, in_axes=(0, None, None)))


def _cache_size(fn) -> int:
    size = getattr(fn, "_cache_size", None)
    return int(size()) if callable(size) else -1


def _np_dtype(config: TrainConfig):
    if config.run.dtype == "float64":
        if not jax.config.read("jax_enable_x64"):
            raise ValueError("run.dtype='float64' needs jax.config.update('jax_enable_x64', True)")
        return np.float64
    return np.float32


def _cast(tree, dtype):
    return jax.tree.map(lambda x: x.astype(dtype) if jnp.issubdtype(x.dtype, jnp.floating) else x, tree)


def _versions() -> dict:
    import flax
    import jaxlib

    import hybridpot

    return {"hybridpot": hybridpot.__version__, "jax": jax.__version__, "jaxlib": jaxlib.__version__,
            "flax": flax.__version__, "optax": optax.__version__, "numpy": np.__version__,
            "python": platform.python_version()}


def _shape_key(batch: Batch) -> tuple:
    g = batch.graph
    n_trip = 0 if batch.triplets is None else batch.triplets.kj.shape[-1]
    return (g.nodes["positions"].shape[-2], g.senders.shape[-1], g.n_node.shape[-1], n_trip)


def _member_keys(config: TrainConfig):
    """Init and data-order keys ``[n_seeds, 2]`` uint32 of every member."""
    init, data = [], []
    for i in range(config.run.n_seeds):
        k_init, k_data = jax.random.split(jax.random.PRNGKey(config.run.seed + i))
        init.append(np.asarray(k_init))
        data.append(np.asarray(k_data))
    if config.run.shared_data_order:
        data = [data[0]] * len(data)
    return np.stack(init), np.stack(data)


# ------------------------------------------------------------------------ pieces of the loop
class _EarlyStopping:
    """Per-member best validation loss, evaluations without improvement and the active mask."""

    def __init__(self, state: dict, patience: int | None, min_delta: float, sharding):
        self.best_loss = np.asarray(state["best_loss"], np.float64)
        self.bad_evals = np.asarray(state["bad_evals"], np.int64)
        self.best_step = np.asarray(state["best_step"], np.int64)
        self.active = np.asarray(state["active"], bool)
        self.patience, self.min_delta, self.sharding = patience, min_delta, sharding
        self.active_dev = place(jnp.asarray(self.active), sharding)

    def update(self, step: int, loss: np.ndarray) -> np.ndarray:
        """Record the validation ``loss`` ``[n_seeds]`` of ``step``; returns the members that improved."""
        improved = self.active & np.isfinite(loss) & (loss < self.best_loss - self.min_delta)
        self.best_loss = np.where(improved, loss, self.best_loss)
        self.bad_evals = np.where(improved, 0, self.bad_evals + self.active)
        self.best_step = np.where(improved, step, self.best_step)
        if self.patience is not None:
            self.active = self.active & (self.bad_evals < self.patience)
            self.active_dev = place(jnp.asarray(self.active), self.sharding)
        return improved

    def state(self) -> dict:
        """Plain-JSON state (checkpoint metadata)."""
        return {"best_loss": self.best_loss.tolist(), "bad_evals": self.bad_evals.astype(int).tolist(),
                "best_step": self.best_step.astype(int).tolist(), "active": self.active.tolist()}


class _Progress:
    """Training losses: the non-finite check, ``metrics.jsonl`` rows, the progress bar and the history."""

    def __init__(self, log: MetricsLog, history: dict, config: TrainConfig, start_step: int, n_train: int):
        self.log, self.config = log, config
        self.per_epoch = steps_per_epoch(n_train, config.data.batch_size)
        self.schedule = make_schedule(config.optim, config.run.max_steps)
        self.train_loss = [np.asarray(history["train_loss"])]
        self.valid_steps, self.valid_loss = list(history["valid_step"]), list(history["valid_loss"])
        self.pending: list = []
        self.postfix: dict = {}
        self.bar = progress_bar(config.run.max_steps, start_step, config.run.progress)

    def add(self, t: int, idx, loss, ok) -> None:
        """One step's (device) loss and health; checked at the next :meth:`flush`."""
        self.pending.append((t, idx, loss, ok))
        self.bar.update(1)

    def flush(self, step: int, active: np.ndarray) -> None:
        """Bring the pending losses to the host, check them and log a row.

        Raises:
            NonFiniteError: an active member met a non-finite loss or gradient.
        """
        if not self.pending:
            return
        losses = np.stack([np.asarray(jax.device_get(p[2])) for p in self.pending])
        oks = np.stack([np.asarray(jax.device_get(p[3])) for p in self.pending])
        bad = ~oks & active[None, :]
        if bad.any():
            k = int(np.argmax(bad.any(axis=1)))
            t, idx = self.pending[k][0], self.pending[k][1]
            members = np.flatnonzero(bad[k]).tolist()
            raise NonFiniteError(t + 1, members, [sorted(np.concatenate(idx[m]).tolist()) for m in members])
        self.train_loss.append(losses)
        self.log.append({"step": step, "epoch": step / self.per_epoch, "lr": float(self.schedule(step - 1)),
                         "train_loss": losses.mean(axis=0)})
        self.postfix["loss"] = f"{float(losses[-1][active].mean() if active.any() else losses[-1].mean()):.4g}"
        self.bar.set_postfix(self.postfix, refresh=False)
        self.pending.clear()

    def validation(self, step: int, loss: np.ndarray, metrics: dict) -> None:
        """Log one evaluation."""
        self.valid_steps.append(step)
        self.valid_loss.append(loss)
        self.log.append({"step": step, "valid_loss": loss, **{f"valid_{k}": v for k, v in metrics.items()}})
        self.postfix["val"] = f"{float(np.mean(loss)):.4g}"
        if metrics.get("forces_mae") is not None:
            self.postfix["F_mae"] = f"{1000 * float(np.mean(metrics['forces_mae'])):.1f} meV/Å"
        self.bar.set_postfix(self.postfix, refresh=False)

    def history(self, dtype) -> dict:
        """``train_loss [n_steps, n_seeds]``, ``valid_step [n_evals]``, ``valid_loss [n_evals, n_seeds]``."""
        tl = np.concatenate(self.train_loss) if len(self.train_loss) > 1 else self.train_loss[0]
        return {"train_loss": tl, "valid_step": np.asarray(self.valid_steps, np.int64),
                "valid_loss": np.asarray(self.valid_loss, dtype).reshape(-1, self.config.run.n_seeds)}

    def close(self, run_dir: str) -> None:
        self.bar.close()
        try:
            plot_learning_curve(self.log.read(), os.path.join(run_dir, "learning_curve.png"))
        except Exception:  # noqa: BLE001 - a plot must never hide the run's own error
            pass


class _Run:
    """State and loop of one run (internal; use :func:`fit` and :func:`resume`)."""

    def __init__(self, model: GraphModel, train: Dataset, valid: Dataset | None, config: TrainConfig,
                 run_dir: str, normalisation: EnergyNormalisation | None = None, *, part: str = "total",
                 trainable: frozenset | None = None, start_params=None):
        self.model, self.config, self.run_dir, self.start_params = model, config, run_dir, start_params
        self.dtype = _np_dtype(config)
        rc = config.run
        self.mesh, n_dev = None, 1
        if rc.parallel != "none":
            self.mesh = device_mesh()
            n_dev = self.mesh.devices.size
        self.n_shards = n_dev if rc.parallel == "data" else 1
        if rc.parallel == "seeds" and rc.n_seeds % n_dev:
            raise ValueError(f"run.parallel='seeds' needs run.n_seeds ({rc.n_seeds}) divisible by the {n_dev} devices")
        if config.data.batch_size < self.n_shards:
            raise ValueError(f"data.batch_size ({config.data.batch_size}) is smaller than the {self.n_shards} devices")
        self.sh_batch, self.sh_state, self.sh_rep, self.sh_eval = shardings(self.mesh, rc.parallel)

        self.train_set, self.valid_set = train, valid
        self.train_gs = GraphSet(train, model.cutoff, model.needs_triplets, model.species, self.dtype)
        self.valid_gs = GraphSet(valid, model.cutoff, model.needs_triplets, model.species, self.dtype) if valid is not None else None
        self.per_shard = -(-config.data.batch_size // self.n_shards)
        sets = [self.train_gs] + ([self.valid_gs] if self.valid_gs is not None else [])
        self.buckets = make_buckets(sets, self.per_shard, config.data.n_buckets, config.data.bucket_ratio)
        self.init_keys, self.data_keys = _member_keys(config)
        with_stress = config.loss.stress_weight > 0
        with_forces = config.loss.forces_weight > 0
        check_loss_labels(train.structures, config.loss.forces_weight, config.loss.stress_weight)
        self.static = _Static(model, config.loss, config.optim, _schedule_steps(config.optim, rc.max_steps),
                              with_stress, with_forces, part, trainable)
        has_stress = any(s.stress is not None for s in (valid.structures if valid is not None else []))
        self.eval_static = _eval_static(self.static, with_stress or has_stress, _has_forces(valid))
        self.normalisation = normalisation if normalisation is not None else self._fit_normalisation()
        self.norm_dev = place(EnergyNormalisation(jnp.asarray(self.normalisation.shift, self.dtype),
                                                  jnp.asarray(self.normalisation.scale, self.dtype)), self.sh_rep)
        self.log = MetricsLog(os.path.join(run_dir, "metrics.jsonl"))
        self.ckpt_dir = os.path.join(run_dir, "checkpoints")
        self.saved_step: int | None = None  # step of the last checkpoint this process wrote or resumed from

    # ----------------------------------------------------------------- setup
    def _fit_normalisation(self) -> EnergyNormalisation:
        nc = self.config.normalisation
        s = self.train_set.structures
        phys_e = phys_f = None
        physics = None if self.model.hybrid is None or not self.model.hybrid.strategy.uses_physics \
            else self.model.hybrid.physics
        if physics is not None and (nc.shift or nc.scale):
            phys_e, phys_f = self._physics_labels(physics)
        return fit_energy_normalisation(
            [x.numbers for x in s], np.array([x.energy for x in s]), [x.forces for x in s],
            physics_energies=phys_e, physics_forces=phys_f, fit_shift=nc.shift, fit_scale=nc.scale,
        )

    def _example(self) -> Batch:
        return _first_graph(self.train_gs)

    def _physics_labels(self, physics: GraphModel):
        """Energies ``[n_train]`` and forces of the physics term (its initial or given parameters,
        member 0) on the training set: the normalisation is fitted to what the rest must learn."""
        if self.start_params is not None and "physics" in self.start_params:
            params = jax.tree.map(lambda x: np.asarray(x)[0], self.start_params["physics"])
        else:
            example = self._example()
            params = physics.init(jnp.asarray(self.init_keys[0]), example.graph, example.triplets)

        @jax.jit
        def fn(p, batch):
            return jax.vmap(lambda b: energy_and_forces(lambda q, g: physics.energy(q, g, b.triplets))(p, b.graph))(batch)

        gs = self.train_gs
        energies, forces = np.zeros(len(gs)), [None] * len(gs)
        for idx in sequential_batches(len(gs), self.per_shard, 1):
            batch = collate(gs, [idx], self.buckets)
            e, f = jax.device_get(fn(params, jax.tree.map(lambda x: x[0], batch)))
            start = 0
            for j, i in enumerate(idx[0]):
                n = gs.n_node[i]
                energies[i], forces[i] = e[0, j], f[0, start : start + n]
                start += n
        return energies, forces

    def initial_state(self) -> TrainState:
        init = _init_fn(self.static, np.dtype(self.dtype).name)
        state = init(jnp.asarray(self.init_keys), self._example(), self.start_params)
        return place(state, self.sh_state)

    # ------------------------------------------------------------ evaluation
    def evaluate(self, params) -> tuple[np.ndarray, dict]:
        """Validation loss ``[n_seeds]`` and metrics of ``params`` (stacked) on the valid set."""
        return _evaluate_graphs(self.eval_static, params, self.norm_dev, self.valid_gs, self.buckets,
                                self.config.data.batch_size, self.n_shards, self.sh_eval, self.config.loss)

    def _validate(self, step: int, state: TrainState, best, stopping: _EarlyStopping, progress: _Progress):
        """Evaluate the EMA parameters, update early stopping, keep and save each improved member's best.

        Returns ``(best, metrics, metrics_are_best)``: the last flag says every member improved, so
        ``metrics`` are those of ``best``."""
        loss, metrics = self.evaluate(state.ema_params)
        improved = stopping.update(step, loss)
        progress.validation(step, loss, metrics)
        if improved.any():
            ema = jax.device_get(state.ema_params)
            best = jax.tree.map(lambda b, e: np.where(improved.reshape((-1,) + (1,) * (e.ndim - 1)), e, b), best, ema)
            self.save_best(step, best, stopping.state())
        return best, metrics, bool(improved.all())

    # ------------------------------------------------------------ checkpoints
    def _metadata(self, kind: str, step: int, es: dict) -> dict:
        n_train = len(self.train_gs)
        per_epoch = steps_per_epoch(n_train, self.config.data.batch_size)
        shift = {str(z): float(v) for z, v in enumerate(self.normalisation.shift) if v != 0}
        return {
            "format": CHECKPOINT_FORMAT,
            "kind": kind,
            "step": int(step),
            "config": config_to_dict(self.config),
            "versions": _versions(),
            "units": {**UNITS, "positions": "Å", "normalisation.shift": "eV/atom", "normalisation.scale": "eV"},
            "model": {"cutoff": float(self.model.cutoff), "needs_triplets": bool(self.model.needs_triplets),
                      "species": None if self.model.species is None else [int(z) for z in self.model.species],
                      "strategy": None if self.model.hybrid is None else self.model.hybrid.strategy.name,
                      "part": self.static.part},
            "normalisation": {"shift": shift, "scale": float(self.normalisation.scale)},
            "rng": {"init_keys": self.init_keys.tolist(), "data_keys": self.data_keys.tolist()},
            "data_order": {"epoch": step // per_epoch, "position": step % per_epoch, "steps_per_epoch": per_epoch,
                           "n_train": n_train, "shuffle": self.config.data.shuffle},
            "early_stopping": es,
            "datasets": {"train": self.train_set.fingerprint(),
                         "valid": None if self.valid_set is None else self.valid_set.fingerprint()},
            "buckets": [list(b) for b in self.buckets.buckets],
            "n_shards": self.n_shards,
            "time": time.time(),
        }

    def _normalisation_tree(self) -> dict:
        return {"shift": self.normalisation.shift, "scale": self.normalisation.scale}

    def save_last(self, step, state, best, history, es) -> None:
        """Write ``checkpoints/last`` after keeping the one before as ``checkpoints/previous``."""
        tree = {"state": state, "best": best, "history": history, "normalisation": self._normalisation_tree()}
        last = os.path.join(self.ckpt_dir, "last")
        ckpt.keep_previous(last, os.path.join(self.ckpt_dir, "previous"))
        ckpt.save_checkpoint(last, tree, self._metadata("last", step, es))
        self.saved_step = int(step)

    def save_best(self, step, best, es) -> None:
        tree = {"params": best, "normalisation": self._normalisation_tree()}
        ckpt.save_checkpoint(os.path.join(self.ckpt_dir, "best"), tree, self._metadata("best", step, es))

    # ------------------------------------------------------------------ loop
    def _batches(self, start_step: int):
        """The data feed: ``(t, indices, shape key, placed batch)`` of every step from ``start_step``."""
        cfg = self.config
        n_train = len(self.train_gs)
        for t in range(start_step, cfg.run.max_steps):
            idx = batch_indices(self.data_keys, t, n_train, cfg.data.batch_size, self.n_shards, cfg.data.shuffle)
            batch = collate(self.train_gs, idx, self.buckets)
            yield t, idx, _shape_key(batch), place(batch, self.sh_batch)

    def loop(self, start_step: int, state: TrainState, best, history: dict, es: dict, callback) -> TrainResult:
        rc, total = self.config.run, self.config.run.max_steps
        step_fn = _train_step(self.static)
        cache_before = _cache_size(step_fn)
        stopping = _EarlyStopping(es, rc.patience, rc.min_delta, self.sh_state)
        progress = _Progress(self.log, history, self.config, start_step, len(self.train_gs))
        stream = prefetch(self._batches(start_step), self.config.data.prefetch)
        shapes_seen: set = set()
        valid_metrics: dict = {}
        metrics_are_best = False
        t0 = t1 = None
        first = step = start_step
        stopped = interrupted = False
        sigint = _StopOnSigint()
        try:
            with sigint:
                for t, idx, key, batch in stream:
                    state, loss, ok = step_fn(state, batch, self.norm_dev, stopping.active_dev)
                    shapes_seen.add(key)
                    progress.add(t, idx, loss, ok)
                    step = t + 1
                    if t0 is None:  # throughput counts from the end of the first (compiling) step
                        jax.block_until_ready(loss)
                        t0, first = time.perf_counter(), step
                    interrupted = sigint.requested
                    do_eval = self.valid_gs is not None and (step % rc.eval_every == 0 or step == total)
                    do_ckpt = step % rc.checkpoint_every == 0 or step == total or interrupted
                    if step % rc.log_every == 0 or do_eval or do_ckpt:
                        progress.flush(step, stopping.active)
                    if do_eval:
                        best, valid_metrics, metrics_are_best = self._validate(step, state, best, stopping, progress)
                    if not stopping.active.any():
                        stopped = do_ckpt = True
                    if do_ckpt:
                        kept = best if self.valid_gs is not None else jax.device_get(state.ema_params)
                        self.save_last(step, state, kept, progress.history(self.dtype), stopping.state())
                    if interrupted:
                        raise TrainingInterrupted(step, os.path.join(self.ckpt_dir, "last.npz"))
                    if callback is not None:
                        callback(step, state)
                    if stopped:
                        break
                progress.flush(step, stopping.active)
            jax.block_until_ready(state)
            t1 = time.perf_counter()
        except NonFiniteError as err:
            saved = None if self.saved_step is None else os.path.join(self.ckpt_dir, "last.npz")
            raise NonFiniteError(err.step, err.members, err.structures, saved, self.saved_step) from None
        finally:
            stream.close()
            progress.close(self.run_dir)

        if self.valid_gs is None:
            best = jax.device_get(state.ema_params)
        elif not metrics_are_best:
            # An earlier evaluation kept some member's best, or no step ran (a finished run resumed):
            # report the metrics of the model that is returned, not of the last EMA state.
            valid_metrics = self.evaluate(best)[1]
        n_compiled = _cache_size(step_fn) - cache_before if cache_before >= 0 else len(shapes_seen)
        rate = (step - first) / (t1 - t0) if t0 is not None and step > first and t1 > t0 else float("nan")
        self.log.append({"step": step, "summary": True, "n_compilations": n_compiled,
                         "buckets_used": len(shapes_seen), "n_buckets": len(self.buckets.buckets),
                         "steps_per_second": rate, "stopped_early": stopped,
                         "model": "best" if self.valid_gs is not None else "final (no validation data)"})
        return TrainResult(
            params=jax.device_get(state.params), ema_params=jax.device_get(state.ema_params), best_params=best,
            normalisation=self.normalisation, model=self.model, history=progress.history(self.dtype),
            valid_metrics=valid_metrics, n_compilations=n_compiled, shapes_seen=frozenset(shapes_seen),
            buckets=self.buckets, steps_per_second=rate, stopped_early=stopped, run_dir=self.run_dir,
        )


def _evaluate_graphs(static, params, norm, gs: GraphSet, buckets, batch_size: int, n_shards: int, sharding, loss_config):
    fn = _eval_step(static)
    ls_total, ms_total = None, None
    for idx in sequential_batches(len(gs), batch_size, n_shards):
        batch = jax.tree.map(lambda x: x[0], collate(gs, [idx], buckets))
        ls, ms = jax.device_get(fn(params, place(batch, sharding), norm))
        if ls_total is None:
            ls_total, ms_total = ls, ms
        else:
            ls_total = jax.tree.map(np.add, ls_total, ls)
            ms_total = jax.tree.map(np.add, ms_total, ms)
    penalty = _penalty(static.model) if static.part == "total" else 0.0
    loss = np.asarray(total_loss(ls_total, loss_config, penalty))
    return loss, metrics_from_sums(ms_total)


def _initial_es(n: int) -> dict:
    return {"best_loss": [float("inf")] * n, "bad_evals": [0] * n, "best_step": [0] * n, "active": [True] * n}


#: Run folder of the first stage (the physics fit) of a sequential hybrid, inside the run folder.
PHYSICS_STAGE = "physics_stage"


def _stages(model: GraphModel, run_dir: str):
    """``[(run_dir, part, trainable)]`` of the stages a model trains in: one, or two for a
    sequential hybrid whose physics term has parameters (physics alone, then the rest)."""
    parts = model.hybrid
    if parts is None or not parts.strategy.physics_first:
        return [(run_dir, "total", None)]
    groups = {"learned", "mix"} if parts.strategy.mix_init is not None else {"learned"}
    return [(os.path.join(run_dir, PHYSICS_STAGE), "physics", frozenset({"physics"})),
            (run_dir, "total", frozenset(groups))]


def _first_graph(gs: GraphSet) -> Batch:
    """The first structure of ``gs`` as one padded, unbatched graph: what ``init`` needs to shape parameters."""
    size = (int(gs.n_node[0]), max(int(gs.n_edge[0]), 1), 1, int(gs.n_triplet[0]))
    example = collate(gs, [[np.array([0])]], PaddingBuckets((Bucket(size[0] + 1, size[1] + 1, 2, size[3]),)))
    return jax.tree.map(lambda x: x[0, 0], example)


def _has_physics_params(model: GraphModel, train: Dataset, config: TrainConfig) -> bool:
    physics = model.hybrid.physics
    gs = GraphSet(Dataset(train.structures[:1]), model.cutoff, model.needs_triplets, model.species, _np_dtype(config))
    example = _first_graph(gs)
    shapes = jax.eval_shape(lambda k: physics.init(k, example.graph, example.triplets), jax.random.PRNGKey(0))
    return bool(jax.tree.leaves(shapes))


def has_run(run_dir: str) -> bool:
    """Whether ``run_dir`` holds a run's checkpoint (``last`` or ``previous``; of either stage of a sequential hybrid)."""
    return any(ckpt.checkpoint_exists(os.path.join(d, "checkpoints", name))
               for d in (run_dir, os.path.join(run_dir, PHYSICS_STAGE)) for name in ("last", "previous"))


def _remove_orphans(run_dir: str) -> None:
    """Temporary files a killed run left in its folder (the writes themselves are atomic)."""
    for folder in (run_dir, os.path.join(run_dir, "checkpoints")):
        ckpt.remove_orphan_temporaries(folder)


def load_last(run_dir: str) -> tuple[dict, dict]:
    """``(arrays, metadata)`` of the run's latest readable checkpoint: ``checkpoints/last``, or
    ``checkpoints/previous`` when ``last`` is missing or torn.

    A fallback warns (``RuntimeWarning``) naming the unreadable file, and ``previous`` is linked over
    ``last`` so the next checkpoint keeps it as its predecessor.

    Raises:
        FileNotFoundError: neither exists.
        CheckpointError: ``last`` is unreadable and ``previous`` missing or unreadable (both named).
    """
    folder = os.path.join(run_dir, "checkpoints")
    last, previous = os.path.join(folder, "last"), os.path.join(folder, "previous")
    try:
        return ckpt.load_checkpoint(last)
    except (FileNotFoundError, ckpt.CheckpointError) as err:
        first = err
    try:
        arrays, meta = ckpt.load_checkpoint(previous)
    except FileNotFoundError:
        raise first from None
    except ckpt.CheckpointError as err:
        raise ckpt.CheckpointError(f"{first}; and {err}", True) from None
    warnings.warn(f"{first}; resuming from {previous}.npz (step {meta.get('step')}) instead", RuntimeWarning,
                  stacklevel=3)
    ckpt.keep_previous(previous, last)
    return arrays, meta


def _start_run(run_dir: str, config: TrainConfig) -> None:
    if _stage_has_run(run_dir):
        raise FileExistsError(f"{run_dir} already holds a run; continue it with resume() or train into another folder")
    os.makedirs(run_dir, exist_ok=True)
    _remove_orphans(run_dir)
    save_config(config, os.path.join(run_dir, "config.yaml"))
    log = os.path.join(run_dir, "metrics.jsonl")
    if os.path.exists(log):
        os.remove(log)


def _fit_stage(model, train, valid, config, run_dir, normalisation, part, trainable, start, callback) -> TrainResult:
    _start_run(run_dir, config)
    run = _Run(model, train, valid, config, run_dir, normalisation, part=part, trainable=trainable,
               start_params=start)
    state = run.initial_state()
    n = config.run.n_seeds
    history = {"train_loss": np.zeros((0, n), run.dtype), "valid_step": [], "valid_loss": []}
    return run.loop(0, state, jax.device_get(state.ema_params), history, _initial_es(n), callback)


def fit(model: GraphModel, train: Dataset, valid: Dataset | None, config: TrainConfig, run_dir: str, *,
        normalisation: EnergyNormalisation | None = None, callback: Callable | None = None) -> TrainResult:
    """Train ``config.run.n_seeds`` members of ``model`` on ``train`` (vmapped), validating on ``valid``.

    Args:
        model: any :class:`~hybridpot.potential.GraphModel`: a network, a physics term, or a hybrid
            of :mod:`hybridpot.hybrid` (``additive``, ``aphynity``, ``sequential``, ``physinet``, ...),
            whose strategy says how it trains (see the module).
        train: training structures (energies eV, forces eV/Å, stress eV/Å³ if used).
        valid: validation structures for EMA evaluation, early stopping and the best checkpoint (or None).
        config: :class:`~hybridpot.train.config.TrainConfig`.
        run_dir: run folder (created; must not hold a previous run's ``checkpoints/last``).
        normalisation: the per-element shift ``[119]`` eV/atom and scale eV of the learned part;
            default: fitted on the training set as ``config.normalisation`` says, to E − E_physics
            for a hybrid (:func:`hybridpot.train.fit_energy_normalisation`).
        callback: ``callback(step, state)`` after every step (may raise to stop the run).
    Returns:
        :class:`TrainResult` (of the last stage for a sequential hybrid).
    Raises:
        NonFiniteError: on a non-finite loss or gradient.
    """
    stages = _stages(model, run_dir)
    if len(stages) == 2 and not _has_physics_params(model, train, config):
        stages = stages[1:]  # a fixed physics term: nothing to fit first
    start = None
    result = None
    for stage_dir, part, trainable in stages:
        result = _fit_stage(model, train, valid, config, stage_dir, normalisation, part, trainable, start, callback)
        if part == "physics":
            start, normalisation = {"physics": result.best_params["physics"]}, result.normalisation
    return result


def resume(run_dir: str, model: GraphModel, train: Dataset, valid: Dataset | None, *,
           callback: Callable | None = None) -> TrainResult:
    """Continue the run in ``run_dir`` from ``checkpoints/last`` exactly where it stopped (from
    ``checkpoints/previous``, with a warning, when ``last`` is missing or torn: :func:`load_last`).

    The config, normalisation, RNG keys, data order, optimiser/EMA state, early-stopping state and
    loss history come from the checkpoint; the datasets must be the ones the run started with
    (checked by fingerprint). Rows of ``metrics.jsonl`` after the checkpoint are dropped. A
    sequential hybrid stopped in its physics stage finishes that stage, then runs the second.
    """
    stages = _stages(model, run_dir)
    if len(stages) == 2 and not _stage_has_run(run_dir):
        physics_dir = stages[0][0]
        if not _stage_has_run(physics_dir):
            raise FileNotFoundError(f"{run_dir}: no checkpoint to resume from")
        first = _resume_stage(physics_dir, model, train, valid, "physics", stages[0][2], callback)
        config = config_from_dict(load_last(physics_dir)[1]["config"])
        return _fit_stage(model, train, valid, config, run_dir, first.normalisation, "total", stages[1][2],
                          {"physics": first.best_params["physics"]}, callback)
    part, trainable = stages[-1][1], stages[-1][2]
    return _resume_stage(run_dir, model, train, valid, part, trainable, callback)


def _stage_has_run(run_dir: str) -> bool:
    return any(ckpt.checkpoint_exists(os.path.join(run_dir, "checkpoints", n)) for n in ("last", "previous"))


def _resume_stage(run_dir, model, train, valid, part, trainable, callback) -> TrainResult:
    if not _stage_has_run(run_dir):
        raise FileNotFoundError(f"{run_dir}: no checkpoint to resume from (checkpoints/last.npz)")
    _remove_orphans(run_dir)
    arrays, meta = load_last(run_dir)
    if meta.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{run_dir}: unknown checkpoint format {meta.get('format')!r}")
    config = config_from_dict(meta["config"])
    fp = meta["datasets"]
    if train.fingerprint() != fp["train"] or (None if valid is None else valid.fingerprint()) != fp["valid"]:
        raise ValueError(f"{run_dir}: the datasets differ from the ones the run was started with")
    norm = EnergyNormalisation(arrays["normalisation/shift"], arrays["normalisation/scale"])
    run = _Run(model, train, valid, config, run_dir, norm, part=part, trainable=trainable)
    if run.init_keys.tolist() != meta["rng"]["init_keys"] or run.data_keys.tolist() != meta["rng"]["data_keys"]:
        raise ValueError(f"{run_dir}: RNG keys in the checkpoint do not match its config")
    template = jax.device_get(run.initial_state())
    state = place(ckpt.unflatten_like(template, arrays, "state/"), run.sh_state)
    best = ckpt.unflatten_like(template.ema_params, arrays, "best/")
    history = {"train_loss": arrays["history/train_loss"], "valid_step": arrays["history/valid_step"].tolist(),
               "valid_loss": list(arrays["history/valid_loss"])}
    step = int(meta["step"])
    run.saved_step = step
    run.log.truncate_after(step)
    return run.loop(step, state, best, history, meta["early_stopping"], callback)


def load_best(run_dir: str) -> tuple[Any, EnergyNormalisation, dict]:
    """``(params [n_seeds, ...] as a dict of named arrays, normalisation, metadata)`` of the run's model.

    That is ``checkpoints/best``; for a run without validation data (which has no best), the EMA
    parameters of its latest checkpoint (:func:`load_last`): the final state of a finished run.
    The parameters come back as ``{name: array}``; rebuild the pytree with
    :func:`hybridpot.train.unflatten_like` and a template from ``model.init``.

    Raises:
        FileNotFoundError: no best checkpoint (a run with validation data stopped before its first
            evaluation) and no checkpoint at all.
    """
    best = os.path.join(run_dir, "checkpoints", "best")
    if ckpt.checkpoint_exists(best) or not _stage_has_run(run_dir):
        arrays, meta = ckpt.load_checkpoint(best)
        prefix = "params/"
    else:
        arrays, meta = load_last(run_dir)
        if meta["datasets"]["valid"] is not None:
            raise FileNotFoundError(f"{best}.npz does not exist: the run stopped before its first evaluation "
                                    f"(step {meta['step']}, run.eval_every={meta['config']['run']['eval_every']})")
        prefix = "best/"
    params = {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}
    return params, EnergyNormalisation(arrays["normalisation/shift"], arrays["normalisation/scale"]), meta


def _graphs_for(model, dataset, dtype, batch_size, n_buckets=3):
    gs = GraphSet(dataset, model.cutoff, model.needs_triplets, model.species, dtype)
    return gs, make_buckets([gs], batch_size, n_buckets, 1.5)


def _device_normalisation(potential, dtype) -> EnergyNormalisation:
    n = potential.normalisation
    return EnergyNormalisation(jnp.asarray(np.asarray(n.shift), dtype), jnp.asarray(np.asarray(n.scale), dtype))


def evaluate(potential, dataset: Dataset, config: TrainConfig) -> dict:
    """Loss and MAE/RMSE of every member of ``potential`` on ``dataset``: ``{name: [n_members]}``.

    Args:
        potential: the assembled potential with stacked params ``[n_members, ...]``: a
            :class:`~hybridpot.potentials.Potential`, ``TrainResult.potential`` or a
            :class:`~hybridpot.potentials.TrainedPotential` (anything with ``model``, ``params``,
            ``normalisation``).
        dataset: labelled structures.
        config: its ``loss`` and ``data.batch_size``, ``run.dtype`` are used.

    Units: :data:`~hybridpot.train.losses.UNITS`; ``"loss"`` is the training loss of ``config.loss``.
    Force metrics cover the structures with force labels; on a dataset without any, the forces are
    not computed (no backward pass) and no force metrics are returned.
    """
    dtype = _np_dtype(config)
    model = potential.model
    gs, buckets = _graphs_for(model, dataset, dtype, config.data.batch_size)
    has_stress = any(s.stress is not None for s in dataset.structures)
    static = _Static(model, config.loss, OptimConfig(), 0, config.loss.stress_weight > 0 or has_stress,
                     _has_forces(dataset))
    loss, metrics = _evaluate_graphs(static, _cast(potential.params, dtype), _device_normalisation(potential, dtype),
                                     gs, buckets, config.data.batch_size, 1, None, config.loss)
    return {"loss": loss, **metrics}


def predict(potential, dataset: Dataset, *, batch_size: int = 16, dtype=np.float32) -> dict:
    """Energies and forces of every member of ``potential`` (as :func:`evaluate`) on ``dataset``.

    Returns:
        ``{"energy": [n_members, n_struct] eV, "forces": list over structures of [n_members, n_i, 3] eV/Å}``.
    """
    model = potential.model
    gs, buckets = _graphs_for(model, dataset, dtype, batch_size)
    fn = _predict_step(_Static(model, LossConfig(), OptimConfig(), 1, False, True))
    norm = _device_normalisation(potential, dtype)
    params = _cast(potential.params, dtype)
    n_members = jax.tree.leaves(params)[0].shape[0]
    energy = np.zeros((n_members, len(gs)))
    forces = [None] * len(gs)

    def store(idx, pred):
        pred = jax.device_get(pred)
        start = 0
        for j, i in enumerate(idx[0]):
            n = gs.n_node[i]
            energy[:, i] = pred.energy[:, 0, j]
            forces[i] = pred.forces[:, 0, start : start + n]
            start += n

    pending = None
    for idx in sequential_batches(len(gs), batch_size, 1):
        batch = jax.tree.map(lambda x: x[0], collate(gs, [idx], buckets))
        running = (idx, fn(params, batch, norm))  # dispatched: the next batch is collated while it runs
        if pending is not None:
            store(*pending)
        pending = running
    if pending is not None:
        store(*pending)
    return {"energy": energy, "forces": forces}


def errors_by_config_type(dataset: Dataset, predictions: dict) -> dict:
    """MAE and RMSE of every member per configuration type (``Structure.config_type``): what part of
    the data a potential gets wrong.

    Args:
        dataset: the labelled structures of ``predictions``.
        predictions: :func:`predict` of a potential on ``dataset``.
    Returns:
        ``{config_type: {"n_structures": int, "energy_mae", "energy_rmse", "energy_per_atom_mae",
        "energy_per_atom_rmse", "forces_mae", "forces_rmse": [n_members]}}`` in eV, eV/atom, eV/Å
        (force components, over the structures with force labels), sorted by name; structures
        without a type are grouped under ``"(none)"``.
    """
    groups: dict[str, list[int]] = {}
    for k, s in enumerate(dataset.structures):
        groups.setdefault("(none)" if s.config_type is None else s.config_type, []).append(k)
    out = {}
    for name in sorted(groups):
        idx = groups[name]
        n_atoms = np.array([len(dataset.structures[k].numbers) for k in idx], np.float64)
        de = predictions["energy"][:, idx] - np.array([dataset.structures[k].energy for k in idx])
        row = {"n_structures": len(idx)}
        for q, d in (("energy", de), ("energy_per_atom", de / n_atoms)):
            row[f"{q}_mae"], row[f"{q}_rmse"] = np.abs(d).mean(axis=1), np.sqrt((d**2).mean(axis=1))
        labelled = [k for k in idx if dataset.structures[k].forces is not None]
        if labelled:
            df = np.concatenate([(predictions["forces"][k] - dataset.structures[k].forces).reshape(
                predictions["energy"].shape[0], -1) for k in labelled], axis=1)
            row["forces_mae"], row["forces_rmse"] = np.abs(df).mean(axis=1), np.sqrt((df**2).mean(axis=1))
        out[name] = row
    return out
