"""The minibatch trainer of graph potentials: vmapped seeds, EMA, early stopping, resumable runs.

One compiled step trains every ensemble member at once: parameters and optimiser state carry a
leading ``[n_seeds]`` axis, batches ``[n_seeds, n_shards, ...]`` (member i sees its own data
order; ``n_shards`` > 1 splits a batch over devices). A step is compiled once per padding bucket,
and the compiled steps are shared by every run in the process with the same model and config.

Run folder::

    config.yaml          the full config
    metrics.jsonl        one row per logging interval and per evaluation
    learning_curve.png   train/valid loss against step
    checkpoints/last.{npz,json}   written every ``checkpoint_every`` steps and at the end
    checkpoints/best.{npz,json}   EMA parameters of each member at its best validation loss

Loss and gradients that are not finite stop the run with :class:`NonFiniteError` naming the step,
the member and the structures of its batch; the update of that step is not applied and no
checkpoint is written after it, so the last checkpoint holds the last good state.
"""

from __future__ import annotations

import functools
import os
import platform
import time
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from hybridpot.graph import Bucket, PaddingBuckets
from hybridpot.graph.batch import graph_mask
from hybridpot.models.base import GraphModel
from hybridpot.potential import energy_and_forces, energy_forces_stress
from hybridpot.train import checkpoint as ckpt
from hybridpot.train.config import LossConfig, OptimConfig, TrainConfig, config_from_dict, config_to_dict, save_config
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
from hybridpot.train.losses import UNITS, Predictions, loss_sums, metric_sums, metrics_from_sums, total_loss
from hybridpot.train.normalisation import EnergyNormalisation, fit_energy_normalisation, normalised_energy
from hybridpot.train.optimizers import ema_init, ema_update, make_optimizer, make_schedule
from hybridpot.train.parallel import local_mesh, place, shardings

#: ``physics_energy(graph, triplets) -> [n_graph]`` eV: a fixed (untrained) physics term.
PhysicsEnergy = Callable[[Any, Any], jax.Array]

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
        history: ``train_loss [n_steps, n_seeds]``, ``valid_step [n_evals]``,
            ``valid_loss [n_evals, n_seeds]``.
        valid_metrics: last validation metrics, ``{name: [n_seeds]}`` in :data:`UNITS`.
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
    history: dict
    valid_metrics: dict
    n_compilations: int
    shapes_seen: frozenset
    buckets: Any
    steps_per_second: float
    stopped_early: bool
    run_dir: str


class NonFiniteError(RuntimeError):
    """A non-finite loss or gradient; ``step`` (1-based), ``members`` and ``structures`` say where."""

    def __init__(self, step: int, members: list, structures: list):
        self.step, self.members, self.structures = step, members, structures
        parts = "; ".join(f"member {m}: structures {s}" for m, s in zip(members, structures))
        super().__init__(
            f"non-finite loss or gradient at step {step} ({parts}). The update was not applied; "
            "the last checkpoint holds the last good state."
        )


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
    """Everything that fixes the compiled program (hashable: the key of the compile cache)."""

    model: GraphModel
    physics: PhysicsEnergy | None
    loss: LossConfig
    optim: OptimConfig
    total_steps: int
    with_stress: bool
    with_forces: bool


def _predict(static: _Static, params, norm: EnergyNormalisation, batch: Batch) -> Predictions:
    trip = batch.triplets

    def energy_fn(p, g):
        e = normalised_energy(static.model.energy(p, g, trip), g, norm)
        if static.physics is not None:
            e = e + static.physics(g, trip).astype(e.dtype)
        return e

    if static.with_stress:
        pred = Predictions(*energy_forces_stress(energy_fn)(params, batch.graph))
    elif static.with_forces:
        pred = Predictions(*energy_and_forces(energy_fn)(params, batch.graph))
    else:  # energy-only labels: no backward pass through the model
        pred = Predictions(jnp.where(graph_mask(batch.graph), energy_fn(params, batch.graph), 0.0), None)
    if static.physics is not None:
        # the learned part s·E_model of the hybrid: total − physics − per-element shift (the
        # physics term is a cheap closed form; a second pass through the model would not be)
        g = batch.graph
        shift = normalised_energy(jnp.zeros_like(pred.energy), g, norm)
        learned = pred.energy - shift - static.physics(g, trip).astype(pred.energy.dtype)
        pred = pred._replace(learned=jnp.where(graph_mask(g), learned, 0.0))
    return pred


def _shard_sums(static: _Static, params, norm, batch: Batch):
    """Loss and metric sums over the ``[n_shards]`` sub-batches of one member's batch."""

    def one(b):
        pred = _predict(static, params, norm, b)
        return loss_sums(pred, b, static.loss), metric_sums(pred, b)

    ls, ms = _vmap(one)(batch)
    return jax.tree.map(lambda x: x.sum(0), ls), jax.tree.map(lambda x: x.sum(0), ms)


@functools.lru_cache(maxsize=64)
def _train_step(static: _Static):
    tx = make_optimizer(static.optim, max(static.total_steps, 1))

    def loss_fn(params, norm, batch):
        return total_loss(_shard_sums(static, params, norm, batch)[0], static.loss)

    def one_member(state: TrainState, batch: Batch, norm, active):
        loss, grads = jax.value_and_grad(loss_fn)(state.params, norm, batch)
        ok = jnp.isfinite(loss) & jnp.isfinite(optax.tree.norm(grads))
        updates, opt_state = tx.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        ema = ema_update(state.ema_params, params, state.step, static.optim.ema_decay)
        new = TrainState(params, opt_state, ema, state.step + 1, state.healthy)
        go = active & state.healthy & ok
        out = jax.tree.map(lambda n, o: jnp.where(go, n, o), new, state)
        return out._replace(healthy=state.healthy & (ok | ~active)), loss, ok

    return jax.jit(_vmap(one_member, in_axes=(0, 0, None, 0)))


@functools.lru_cache(maxsize=64)
def _init_fn(model: GraphModel, optim: OptimConfig, total_steps: int, dtype: str):
    tx = make_optimizer(optim, max(total_steps, 1))

    def init(keys, example: Batch) -> TrainState:
        params = jax.vmap(lambda k: model.init(k, example.graph, example.triplets))(keys)
        params = _cast(params, jnp.dtype(dtype))
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
    return static._replace(optim=OptimConfig(), total_steps=0, with_stress=with_stress, with_forces=with_forces)


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

    import hybridpot

    import jaxlib

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


class _Run:
    """State and loop of one run (internal; use :func:`fit` and :func:`resume`)."""

    def __init__(self, model: GraphModel, train: Dataset, valid: Dataset | None, config: TrainConfig,
                 run_dir: str, physics: PhysicsEnergy | None, normalisation: EnergyNormalisation | None = None):
        self.model, self.config, self.run_dir, self.physics = model, config, run_dir, physics
        if config.loss.learned_weight > 0 and physics is None:
            raise ValueError("loss.learned_weight penalises the learned part of a hybrid: it needs physics_energy")
        self.dtype = _np_dtype(config)
        rc = config.run
        self.mesh, n_dev = None, 1
        if rc.parallel != "none":
            self.mesh = local_mesh()
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
        if with_forces and not _has_forces(train):
            raise ValueError("loss.forces_weight > 0 but no training structure has forces; "
                             "set loss.forces_weight=0 to train on energies only")
        self.static = _Static(model, physics, config.loss, config.optim, _schedule_steps(config.optim, rc.max_steps),
                              with_stress, with_forces)
        has_stress = any(s.stress is not None for s in (valid.structures if valid is not None else []))
        self.eval_static = _eval_static(self.static, with_stress or has_stress, _has_forces(valid))
        self.normalisation = normalisation if normalisation is not None else self._fit_normalisation()
        self.norm_dev = place(EnergyNormalisation(jnp.asarray(self.normalisation.shift, self.dtype),
                                                  jnp.asarray(self.normalisation.scale, self.dtype)), self.sh_rep)
        self.log = MetricsLog(os.path.join(run_dir, "metrics.jsonl"))
        self.ckpt_dir = os.path.join(run_dir, "checkpoints")

    # ----------------------------------------------------------------- setup
    def _fit_normalisation(self) -> EnergyNormalisation:
        nc = self.config.normalisation
        s = self.train_set.structures
        phys_e = phys_f = None
        if self.physics is not None and (nc.shift or nc.scale):
            phys_e, phys_f = self._physics_labels()
        return fit_energy_normalisation(
            [x.numbers for x in s], np.array([x.energy for x in s]), [x.forces for x in s],
            physics_energies=phys_e, physics_forces=phys_f, fit_shift=nc.shift, fit_scale=nc.scale,
        )

    def _physics_labels(self):
        physics = self.physics

        @jax.jit
        def fn(batch):
            return jax.vmap(lambda b: energy_and_forces(lambda p, g: physics(g, b.triplets))(None, b.graph))(batch)

        gs = self.train_gs
        energies, forces = np.zeros(len(gs)), [None] * len(gs)
        for idx in sequential_batches(len(gs), self.per_shard, 1):
            batch = collate(gs, [idx], self.buckets)
            e, f = jax.device_get(fn(jax.tree.map(lambda x: x[0], batch)))
            start = 0
            for j, i in enumerate(idx[0]):
                n = gs.n_node[i]
                energies[i], forces[i] = e[0, j], f[0, start : start + n]
                start += n
        return energies, forces

    def initial_state(self) -> TrainState:
        gs = self.train_gs
        size = (int(gs.n_node[0]), max(int(gs.n_edge[0]), 1), 1, int(gs.n_triplet[0]))
        example = collate(gs, [[np.array([0])]], PaddingBuckets((Bucket(size[0] + 1, size[1] + 1, 2, size[3]),)))
        init = _init_fn(self.model, self.static.optim, self.static.total_steps, np.dtype(self.dtype).name)
        state = init(jnp.asarray(self.init_keys), jax.tree.map(lambda x: x[0, 0], example))
        return place(state, self.sh_state)

    # ------------------------------------------------------------ evaluation
    def evaluate(self, params) -> tuple[np.ndarray, dict]:
        """Validation loss ``[n_seeds]`` and metrics of ``params`` (stacked) on the valid set."""
        return _evaluate_graphs(self.eval_static, params, self.norm_dev, self.valid_gs, self.buckets,
                                self.config.data.batch_size, self.n_shards, self.sh_eval, self.config.loss)

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
                      "species": None if self.model.species is None else [int(z) for z in self.model.species]},
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

    def save_last(self, step, state, best, history, es) -> None:
        tree = {"state": state, "best": best, "history": history,
                "normalisation": {"shift": self.normalisation.shift, "scale": self.normalisation.scale}}
        ckpt.save_checkpoint(os.path.join(self.ckpt_dir, "last"), tree, self._metadata("last", step, es))

    def save_best(self, step, best, es) -> None:
        tree = {"params": best, "normalisation": {"shift": self.normalisation.shift, "scale": self.normalisation.scale}}
        ckpt.save_checkpoint(os.path.join(self.ckpt_dir, "best"), tree, self._metadata("best", step, es))

    # ------------------------------------------------------------------ loop
    def loop(self, start_step: int, state: TrainState, best, history: dict, es: dict, callback) -> TrainResult:
        cfg, rc = self.config, self.config.run
        total, bs = rc.max_steps, cfg.data.batch_size
        n_train = len(self.train_gs)
        per_epoch = steps_per_epoch(n_train, bs)
        step_fn = _train_step(self.static)
        cache_before = _cache_size(step_fn)
        schedule = make_schedule(cfg.optim, total)
        active = np.asarray(es["active"], bool)
        active_dev = place(jnp.asarray(active), self.sh_state)
        shapes_seen: set = set()
        valid_metrics: dict = {}
        pending: list = []
        postfix: dict = {}
        train_loss = [np.asarray(history["train_loss"])]
        valid_steps, valid_loss = list(history["valid_step"]), list(history["valid_loss"])

        def produce():
            for t in range(start_step, total):
                idx = batch_indices(self.data_keys, t, n_train, bs, self.n_shards, cfg.data.shuffle)
                batch = collate(self.train_gs, idx, self.buckets)
                yield t, idx, _shape_key(batch), place(batch, self.sh_batch)

        def make_history():
            return {"train_loss": np.concatenate(train_loss) if len(train_loss) > 1 else train_loss[0],
                    "valid_step": np.asarray(valid_steps, np.int64),
                    "valid_loss": np.asarray(valid_loss, self.dtype).reshape(-1, rc.n_seeds)}

        def flush(step):
            if not pending:
                return
            losses = np.stack([np.asarray(jax.device_get(p[2])) for p in pending])
            oks = np.stack([np.asarray(jax.device_get(p[3])) for p in pending])
            bad = ~oks & active[None, :]
            if bad.any():
                k = int(np.argmax(bad.any(axis=1)))
                t, idx = pending[k][0], pending[k][1]
                members = np.flatnonzero(bad[k]).tolist()
                raise NonFiniteError(t + 1, members, [sorted(np.concatenate(idx[m]).tolist()) for m in members])
            train_loss.append(losses)
            row = {"step": step, "epoch": step / per_epoch, "lr": float(schedule(step - 1)),
                   "train_loss": losses.mean(axis=0)}
            self.log.append(row)
            postfix["loss"] = f"{float(losses[-1][active].mean() if active.any() else losses[-1].mean()):.4g}"
            bar.set_postfix(postfix, refresh=False)
            pending.clear()

        bar = progress_bar(total, start_step, rc.progress)
        stream = prefetch(produce(), cfg.data.prefetch)
        t0 = t1 = None
        first = start_step
        step = start_step
        stopped = False
        try:
            for t, idx, key, batch in stream:
                state, loss, ok = step_fn(state, batch, self.norm_dev, active_dev)
                shapes_seen.add(key)
                pending.append((t, idx, loss, ok))
                step = t + 1
                bar.update(1)
                if t0 is None:
                    jax.block_until_ready(loss)
                    t0, first = time.perf_counter(), step
                do_eval = self.valid_gs is not None and (step % rc.eval_every == 0 or step == total)
                do_ckpt = step % rc.checkpoint_every == 0 or step == total
                if step % rc.log_every == 0 or do_eval or do_ckpt or step == total:
                    flush(step)
                if do_eval:
                    vloss, valid_metrics = self.evaluate(state.ema_params)
                    valid_steps.append(step)
                    valid_loss.append(vloss)
                    improved = active & np.isfinite(vloss) & (vloss < np.asarray(es["best_loss"]) - rc.min_delta)
                    best_loss = np.where(improved, vloss, es["best_loss"])
                    bad_evals = np.where(improved, 0, np.asarray(es["bad_evals"]) + active)
                    best_step = np.where(improved, step, es["best_step"])
                    if rc.patience is not None:
                        active = active & (bad_evals < rc.patience)
                        active_dev = place(jnp.asarray(active), self.sh_state)
                    es = {"best_loss": best_loss.tolist(), "bad_evals": bad_evals.astype(int).tolist(),
                          "best_step": best_step.astype(int).tolist(), "active": active.tolist()}
                    self.log.append({"step": step, "valid_loss": vloss,
                                     **{f"valid_{k}": v for k, v in valid_metrics.items()}})
                    fm = valid_metrics.get("forces_mae")
                    postfix["val"] = f"{float(np.mean(vloss)):.4g}"
                    if fm is not None:
                        postfix["F_mae"] = f"{1000 * float(np.mean(fm)):.1f} meV/Å"
                    bar.set_postfix(postfix, refresh=False)
                    if improved.any():
                        ema = jax.device_get(state.ema_params)
                        best = jax.tree.map(lambda b, e: np.where(improved.reshape((-1,) + (1,) * (e.ndim - 1)), e, b), best, ema)
                        self.save_best(step, best, es)
                if not active.any():
                    stopped = do_ckpt = True
                    flush(step)
                if do_ckpt:
                    kept = best if self.valid_gs is not None else jax.device_get(state.ema_params)
                    self.save_last(step, state, kept, make_history(), es)
                if callback is not None:
                    callback(step, state)
                if stopped:
                    break
            flush(step)
            jax.block_until_ready(state)
            t1 = time.perf_counter()
        finally:
            stream.close()
            bar.close()
            try:
                plot_learning_curve(self.log.read(), os.path.join(self.run_dir, "learning_curve.png"))
            except Exception:  # noqa: BLE001 - a plot must never hide the run's own error
                pass

        if self.valid_gs is None:
            best = jax.device_get(state.ema_params)
        n_compiled = _cache_size(step_fn) - cache_before if cache_before >= 0 else len(shapes_seen)
        rate = (step - first) / (t1 - t0) if t0 is not None and step > first and t1 > t0 else float("nan")
        self.log.append({"step": step, "summary": True, "n_compilations": n_compiled,
                         "buckets_used": len(shapes_seen), "n_buckets": len(self.buckets.buckets),
                         "steps_per_second": rate, "stopped_early": stopped})
        return TrainResult(
            params=jax.device_get(state.params), ema_params=jax.device_get(state.ema_params), best_params=best,
            normalisation=self.normalisation,
            history=make_history(),
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
    loss = np.asarray(total_loss(ls_total, loss_config))
    return loss, metrics_from_sums(ms_total)


def _initial_es(n: int) -> dict:
    return {"best_loss": [float("inf")] * n, "bad_evals": [0] * n, "best_step": [0] * n, "active": [True] * n}


def fit(model: GraphModel, train: Dataset, valid: Dataset | None, config: TrainConfig, run_dir: str, *,
        physics_energy: PhysicsEnergy | None = None, callback: Callable | None = None) -> TrainResult:
    """Train ``config.run.n_seeds`` members of ``model`` on ``train`` (vmapped), validating on ``valid``.

    Args:
        model: a :class:`~hybridpot.models.GraphModel` (``energy(params, graph, triplets) -> [n_graph]`` eV).
        train: training structures (energies eV, forces eV/Å, stress eV/Å³ if used).
        valid: validation structures for EMA evaluation, early stopping and the best checkpoint (or None).
        config: :class:`~hybridpot.train.config.TrainConfig`.
        run_dir: run folder (created; must not hold a previous run's ``checkpoints/last``).
        physics_energy: fixed physics term ``(graph, triplets) -> [n_graph]`` eV added to the model;
            the per-element shift is fitted to E − E_physics (see :mod:`hybridpot.train.normalisation`).
        callback: ``callback(step, state)`` after every step (may raise to stop the run).
    Returns:
        :class:`TrainResult`.
    Raises:
        NonFiniteError: on a non-finite loss or gradient.
    """
    if ckpt.checkpoint_exists(os.path.join(run_dir, "checkpoints", "last")):
        raise FileExistsError(f"{run_dir} already holds a run; use resume() or another folder")
    os.makedirs(run_dir, exist_ok=True)
    save_config(config, os.path.join(run_dir, "config.yaml"))
    log = os.path.join(run_dir, "metrics.jsonl")
    if os.path.exists(log):
        os.remove(log)
    run = _Run(model, train, valid, config, run_dir, physics_energy)
    state = run.initial_state()
    n = config.run.n_seeds
    best = jax.device_get(state.ema_params)
    history = {"train_loss": np.zeros((0, n), run.dtype), "valid_step": [], "valid_loss": []}
    return run.loop(0, state, best, history, _initial_es(n), callback)


def resume(run_dir: str, model: GraphModel, train: Dataset, valid: Dataset | None, *,
           physics_energy: PhysicsEnergy | None = None, callback: Callable | None = None) -> TrainResult:
    """Continue the run in ``run_dir`` from ``checkpoints/last`` exactly where it stopped.

    The config, normalisation, RNG keys, data order, optimiser/EMA state, early-stopping state and
    loss history come from the checkpoint; the datasets must be the ones the run started with
    (checked by fingerprint). Rows of ``metrics.jsonl`` after the checkpoint are dropped.
    """
    arrays, meta = ckpt.load_checkpoint(os.path.join(run_dir, "checkpoints", "last"))
    if meta.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{run_dir}: unknown checkpoint format {meta.get('format')!r}")
    config = config_from_dict(meta["config"])
    fp = meta["datasets"]
    if train.fingerprint() != fp["train"] or (None if valid is None else valid.fingerprint()) != fp["valid"]:
        raise ValueError(f"{run_dir}: the datasets differ from the ones the run was started with")
    norm = EnergyNormalisation(arrays["normalisation/shift"], arrays["normalisation/scale"])
    run = _Run(model, train, valid, config, run_dir, physics_energy, normalisation=norm)
    if run.init_keys.tolist() != meta["rng"]["init_keys"] or run.data_keys.tolist() != meta["rng"]["data_keys"]:
        raise ValueError(f"{run_dir}: RNG keys in the checkpoint do not match its config")
    template = jax.device_get(run.initial_state())
    state = place(ckpt.unflatten_like(template, arrays, "state/"), run.sh_state)
    best = ckpt.unflatten_like(template.ema_params, arrays, "best/")
    history = {"train_loss": arrays["history/train_loss"], "valid_step": arrays["history/valid_step"].tolist(),
               "valid_loss": list(arrays["history/valid_loss"])}
    step = int(meta["step"])
    run.log.truncate_after(step)
    return run.loop(step, state, best, history, meta["early_stopping"], callback)


def load_best(run_dir: str) -> tuple[Any, EnergyNormalisation, dict]:
    """``(params [n_seeds, ...] as a dict of named arrays, normalisation, metadata)`` of ``checkpoints/best``.

    The parameters come back as ``{name: array}``; rebuild the pytree with
    :func:`hybridpot.train.checkpoint.unflatten_like` and a template from ``model.init``.
    """
    arrays, meta = ckpt.load_checkpoint(os.path.join(run_dir, "checkpoints", "best"))
    params = {k[len("params/"):]: v for k, v in arrays.items() if k.startswith("params/")}
    return params, EnergyNormalisation(arrays["normalisation/shift"], arrays["normalisation/scale"]), meta


def _graphs_for(model, dataset, dtype, batch_size, n_buckets=3):
    gs = GraphSet(dataset, model.cutoff, model.needs_triplets, model.species, dtype)
    return gs, make_buckets([gs], batch_size, n_buckets, 1.5)


def evaluate(model: GraphModel, params, normalisation: EnergyNormalisation, dataset: Dataset, config: TrainConfig, *,
             physics_energy: PhysicsEnergy | None = None) -> dict:
    """Loss and MAE/RMSE of stacked ``params`` ``[n_seeds, ...]`` on ``dataset``: ``{name: [n_seeds]}``.

    Units: :data:`~hybridpot.train.losses.UNITS`; ``"loss"`` is the training loss of ``config.loss``.
    Force metrics cover the structures with force labels; on a dataset without any, the forces are
    not computed (no backward pass) and no force metrics are returned.
    """
    dtype = _np_dtype(config)
    gs, buckets = _graphs_for(model, dataset, dtype, config.data.batch_size)
    has_stress = any(s.stress is not None for s in dataset.structures)
    static = _Static(model, physics_energy, config.loss, OptimConfig(), 0, config.loss.stress_weight > 0 or has_stress,
                     _has_forces(dataset))
    norm = EnergyNormalisation(jnp.asarray(normalisation.shift, dtype), jnp.asarray(normalisation.scale, dtype))
    loss, metrics = _evaluate_graphs(static, _cast(params, dtype), norm, gs, buckets, config.data.batch_size, 1, None, config.loss)
    return {"loss": loss, **metrics}


def predict(model: GraphModel, params, normalisation: EnergyNormalisation, dataset: Dataset, *,
            batch_size: int = 16, dtype=np.float32, physics_energy: PhysicsEnergy | None = None) -> dict:
    """Energies and forces of every member on ``dataset``.

    Returns:
        ``{"energy": [n_seeds, n_struct] eV, "forces": list over structures of [n_seeds, n_i, 3] eV/Å}``.
    """
    gs, buckets = _graphs_for(model, dataset, dtype, batch_size)
    static = _Static(model, physics_energy, LossConfig(), OptimConfig(), 1, False, True)
    fn = _predict_step(static)
    norm = EnergyNormalisation(jnp.asarray(normalisation.shift, dtype), jnp.asarray(normalisation.scale, dtype))
    params = _cast(params, dtype)
    n_seeds = jax.tree.leaves(params)[0].shape[0]
    energy = np.zeros((n_seeds, len(gs)))
    forces = [None] * len(gs)
    for idx in sequential_batches(len(gs), batch_size, 1):
        batch = jax.tree.map(lambda x: x[0], collate(gs, [idx], buckets))
        pred = jax.device_get(fn(params, batch, norm))
        start = 0
        for j, i in enumerate(idx[0]):
            n = gs.n_node[i]
            energy[:, i] = pred.energy[:, 0, j]
            forces[i] = pred.forces[:, 0, start : start + n]
            start += n
    return {"energy": energy, "forces": forces}
