"""Losses, metrics, normalisation and optimiser pieces; padding never counts."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from train_helpers import emt_data  # noqa: F401  (fixture)

from hybridpot.graph import PaddingBuckets
from hybridpot.potentials import EnergyNormalisation, normalised_energy
from hybridpot.train import (
    Dataset,
    GraphSet,
    LossConfig,
    OptimConfig,
    Predictions,
    collate,
    elementwise_loss,
    ema_update,
    fit_energy_normalisation,
    make_optimizer,
    make_schedule,
    metrics_from_sums,
)
from hybridpot.train.losses import loss_sums, metric_sums, total_loss


def test_elementwise_losses():
    d = jnp.array([-2.0, -0.5, 0.0, 0.1, 3.0])
    np.testing.assert_allclose(elementwise_loss(d, "mse"), d**2)
    np.testing.assert_allclose(elementwise_loss(d, "mae"), jnp.abs(d))
    h = elementwise_loss(d, "huber", 1.0)
    np.testing.assert_allclose(h, [1.5, 0.125, 0.0, 0.005, 2.5])
    with pytest.raises(ValueError, match="l2"):
        elementwise_loss(d, "l2")


def _predictions(batch, rng):
    """Random predictions with garbage in the padding (which must not count)."""
    return Predictions(
        jnp.asarray(batch.energy + rng.normal(size=batch.energy.shape)),
        jnp.asarray(batch.forces + rng.normal(size=batch.forces.shape)),
        jnp.asarray(batch.stress + rng.normal(size=batch.stress.shape)),
    )


def test_padding_is_excluded_and_metrics_match_numpy(emt_data):
    train, _ = emt_data
    gs = GraphSet(train, 4.0, dtype=np.float64)
    idx = np.array([0, 3, 17, 19])  # bulk (with stress) and clusters
    small = PaddingBuckets.geometric(int(gs.n_node[idx].sum()), int(gs.n_edge[idx].sum()), 5, n_buckets=1)
    big = PaddingBuckets(((200, 2000, 9),))
    rng = np.random.default_rng(0)
    results = []
    for buckets in (small, big):
        batch = jax.tree.map(lambda x: x[0, 0], collate(gs, [[idx]], buckets))
        real_g = batch.index >= 0
        real_n = batch.graph.nodes["atomic_numbers"] > 0
        pred = _predictions(batch, rng)
        # corrupt padding predictions: they must not matter
        pred = Predictions(jnp.where(real_g, pred.energy, 1e6), jnp.where(real_n[:, None], pred.forces, 1e6),
                           jnp.where(real_g[:, None, None], pred.stress, 1e6))
        sums = metric_sums(pred, batch)
        m = metrics_from_sums(jax.device_get(sums))
        de = np.asarray(pred.energy - batch.energy)[real_g]
        df = np.asarray(pred.forces - batch.forces)[real_n]
        hs = batch.has_stress & real_g
        ds = np.asarray(pred.stress - batch.stress)[hs]
        np.testing.assert_allclose(m["energy_mae"], np.abs(de).mean())
        np.testing.assert_allclose(m["energy_rmse"], np.sqrt((de**2).mean()))
        np.testing.assert_allclose(m["energy_per_atom_mae"], np.abs(de / batch.n_atoms[real_g]).mean())
        np.testing.assert_allclose(m["forces_rmse"], np.sqrt((df**2).mean()))
        np.testing.assert_allclose(m["stress_mae"], np.abs(ds).mean())
        cfg = LossConfig(energy_weight=2.0, forces_weight=3.0, stress_weight=5.0, energy_per_atom=False)
        loss = total_loss(loss_sums(pred, batch, cfg), cfg)
        expected = 2 * (de**2).mean() + 3 * (df**2).mean() + 5 * (ds**2).mean()
        np.testing.assert_allclose(loss, expected, rtol=1e-12)
        results.append((de, df))
    # same real residuals whichever bucket: rng draws differ, so compare structure only
    assert results[0][0].shape == results[1][0].shape and results[0][1].shape == results[1][1].shape


def test_structures_without_forces_count_only_for_energy(emt_data):
    train, _ = emt_data
    unlabelled = {3, 19}
    data = Dataset([dataclasses.replace(s, forces=None) if k in unlabelled else s for k, s in enumerate(train)])
    gs = GraphSet(data, 4.0, dtype=np.float64)
    idx = np.array([0, 3, 17, 19])
    batch = jax.tree.map(lambda x: x[0, 0], collate(gs, [[idx]], PaddingBuckets(((200, 2000, 9),))))
    pred = _predictions(batch, np.random.default_rng(1))
    m = metrics_from_sums(jax.device_get(metric_sums(pred, batch)))
    node_structure = np.repeat(np.append(idx, -1), np.append(gs.n_node[idx], 200 - gs.n_node[idx].sum()))
    labelled = np.isin(node_structure, [0, 17])
    df = np.asarray(pred.forces - batch.forces)[labelled]
    np.testing.assert_allclose(m["forces_mae"], np.abs(df).mean(), rtol=1e-12)
    de = np.asarray(pred.energy - batch.energy)[batch.index >= 0]
    np.testing.assert_allclose(m["energy_mae"], np.abs(de).mean(), rtol=1e-12)  # all four count for energy
    # energy-only predictions (no backward pass): no force term in the loss or the metrics
    energy_only = pred._replace(forces=None)
    cfg = LossConfig(energy_weight=1.0, forces_weight=10.0, energy_per_atom=False)
    assert "forces" not in loss_sums(energy_only, batch, cfg) and "forces" not in metric_sums(energy_only, batch)
    np.testing.assert_allclose(total_loss(loss_sums(energy_only, batch, cfg), cfg), (de**2).mean())


def test_normalisation_recovers_per_element_energies():
    rng = np.random.default_rng(0)
    mu = {13: -3.5, 29: -4.25, 8: 1.0}
    numbers = [rng.choice([8, 13, 29], size=rng.integers(2, 9)) for _ in range(30)]
    e = np.array([sum(mu[z] for z in n) for n in numbers])
    phys = rng.normal(size=30)
    forces = [rng.normal(scale=0.3, size=(len(n), 3)) for n in numbers]
    norm = fit_energy_normalisation(numbers, e + phys, forces, physics_energies=phys)
    for z, v in mu.items():
        assert norm.shift[z] == pytest.approx(v, abs=1e-10)
    assert norm.shift[0] == 0 and norm.shift[1] == 0
    rms = np.sqrt(np.mean(np.concatenate([f.ravel() for f in forces]) ** 2))
    assert float(norm.scale) == pytest.approx(rms)
    off = fit_energy_normalisation(numbers, e, forces, fit_shift=False, fit_scale=False)
    assert np.all(off.shift == 0) and float(off.scale) == 1.0
    # structures without forces do not count for the scale; none at all is an error
    partial = [f if k % 3 else None for k, f in enumerate(forces)]
    rms_partial = np.sqrt(np.mean(np.concatenate([f.ravel() for f in partial if f is not None]) ** 2))
    assert float(fit_energy_normalisation(numbers, e, partial).scale) == pytest.approx(rms_partial)
    with pytest.raises(ValueError, match="normalisation.scale=false"):
        fit_energy_normalisation(numbers, e, [None] * len(numbers))


def test_normalised_energy_adds_shift_per_atom(emt_data):
    train, _ = emt_data
    gs = GraphSet(train, 4.0, dtype=np.float64)
    batch = jax.tree.map(lambda x: x[0, 0], collate(gs, [[np.array([0, 18])]], PaddingBuckets(((40, 400, 4),))))
    shift = np.zeros(119)
    shift[13], shift[29] = -1.0, -2.0
    model = jnp.arange(4.0)
    e = normalised_energy(model, batch.graph, EnergyNormalisation(shift, np.asarray(3.0)))
    for j, i in enumerate([0, 18]):
        z = train[i].numbers
        assert float(e[j]) == pytest.approx(3.0 * j - np.sum(z == 13) - 2 * np.sum(z == 29))
    assert float(e[2]) == pytest.approx(6.0) and float(e[3]) == pytest.approx(9.0)  # padding: no atoms


def test_schedules_and_optimisers():
    cfg = OptimConfig(learning_rate=1e-2, warmup_steps=10, decay="cosine", final_lr_fraction=0.1)
    s = make_schedule(cfg, 110)
    assert float(s(0)) == 0.0 and float(s(5)) == pytest.approx(5e-3)
    assert float(s(10)) == pytest.approx(1e-2) and float(s(110)) == pytest.approx(1e-3)
    e = make_schedule(OptimConfig(learning_rate=1e-2, decay="exponential", final_lr_fraction=0.1), 100)
    assert float(e(50)) == pytest.approx(1e-2 * 0.1**0.5, rel=1e-5) and float(e(100)) == pytest.approx(1e-3, rel=1e-5)
    params = {"w": jnp.ones(3)}
    for name in ("adam", "amsgrad", "adamw"):
        extra = {"weight_decay": 1e-3} if name == "adamw" else {}
        tx = make_optimizer(OptimConfig(name=name, clip_norm=1e-3, **extra), 10)
        updates, _ = tx.update({"w": jnp.full(3, 1e6)}, tx.init(params), params)
        assert np.all(np.isfinite(updates["w"])) and np.all(np.asarray(updates["w"]) < 0)


def test_ema_update():
    ema, p = {"w": jnp.zeros(2)}, {"w": jnp.ones(2)}
    # step 0: d = min(0.99, 1/10) = 0.1
    np.testing.assert_allclose(ema_update(ema, p, 0, 0.99)["w"], 0.9)
    np.testing.assert_allclose(ema_update(ema, p, 10**6, 0.5)["w"], 0.5)
    assert ema_update(ema, p, 3, None) is p
