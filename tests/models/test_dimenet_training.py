"""DimeNet++ trained with hybridpot.train: a few frames overfitted, and the ZBL hybrid stays
repulsive and monotonic when a C–H bond is compressed far below anything in the training data."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hybridpot.graph import build_graph, build_triplets
from hybridpot.io import bundled_md17
from hybridpot.potentials import (
    EnergyNormalisation,
    assembled_terms,
    dimezblnet,
    structure_energies,
    zbl_term,
)
from hybridpot.train import TrainConfig, fit, fit_energy_normalisation
from hybridpot.train.config import (
    DataConfig,
    LossConfig,
    NormalisationConfig,
    OptimConfig,
    RunConfig,
)

TINY = dict(emb_size=16, out_emb_size=16, int_emb_size=8, basis_emb_size=4, num_blocks=1, num_spherical=3,
            num_radial=4, num_dense_output=1, num_after_skip=1)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """The ZBL hybrid trained on 4 ethanol frames (float64, full batch, 600 Adam steps)."""
    frames = bundled_md17().select(np.arange(4))
    numbers = frames.numbers
    zbl = structure_energies(zbl_term(5.0, "envelope"), frames.positions, numbers)
    mu = fit_energy_normalisation([numbers] * 4, frames.energy, fit_scale=False, physics_energies=zbl).shift
    rms = float(np.sqrt(np.mean(frames.forces**2)))
    model = dimezblnet((1, 6, 8), param_dtype=jnp.float64, **TINY)
    config = TrainConfig(
        data=DataConfig(batch_size=4, n_buckets=1, shuffle=False, prefetch=0),
        loss=LossConfig(energy_per_atom=False, forces_weight=1.0),
        optim=OptimConfig(learning_rate=1e-2, warmup_steps=20, decay="cosine", final_lr_fraction=0.01, ema_decay=None),
        normalisation=NormalisationConfig(shift=False, scale=False),
        run=RunConfig(max_steps=600, eval_every=600, checkpoint_every=600, log_every=50, dtype="float64", progress=False),
    )
    result = fit(model, frames.to_dataset(), None, config, str(tmp_path_factory.mktemp("dimenet_fit")),
                 normalisation=EnergyNormalisation(mu, np.asarray(rms)))
    params = jax.tree.map(lambda x: x[0], result.params)
    return model, params, frames, result


def test_few_frames_are_overfitted(trained):
    """The training loss falls by orders of magnitude (to near zero) on 4 frames."""
    _, _, frames, result = trained
    loss = np.asarray(result.history["train_loss"])[:, 0]
    assert np.all(np.isfinite(loss))
    assert loss[-1] < 1e-3 * loss[0], (loss[0], loss[-1])


def test_zbl_hybrid_repulsive_and_monotonic_under_compression(trained):
    """One C–H bond compressed from 0.9 Å to 0.2 Å: energy rises monotonically and steeply."""
    model, params, frames, result = trained
    pos, numbers = frames.positions[0], frames.numbers
    h = 3 + int(np.argmin(np.linalg.norm(pos[3:] - pos[0], axis=1)))  # H nearest to C0
    u = (pos[h] - pos[0]) / np.linalg.norm(pos[h] - pos[0])
    distances = np.linspace(0.2, 0.9, 15)
    energies = []
    for r in distances:
        p = pos.copy()
        p[h] = pos[0] + r * u
        g = build_graph(p, numbers, 5.0)
        energies.append(float(assembled_terms(model, params, result.normalisation, g, build_triplets(g)).total[0]))
    energies = np.array(energies)
    assert np.all(np.diff(energies) < 0), energies  # repulsive: E decreases as the bond opens
    assert energies[0] - energies[-1] > 10.0  # eV: a wall, not a plateau
