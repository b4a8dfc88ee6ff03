"""Short-range robustness: compress one C–H bond of ethanol from equilibrium to 0.2 Å.

Trains DimeNet++ with and without the ZBL term on the bundled 200 rMD17 ethanol frames (same
network, seeds and budget), then moves one H atom along its C–H bond and plots the energy of both
models against the C–H distance (docs/figures/md17_short_range.png). The training frames hold
C–H distances of about 1.0–1.2 Å only, so everything below is extrapolation.

    nice -n 15 python experiments/md17/short_range.py --max-steps 300
"""

from __future__ import annotations

import argparse
import json
import os

import numpy as np


def compress_bond(positions: np.ndarray, i: int, j: int, distances: np.ndarray) -> np.ndarray:
    """``[n_d, A, 3]`` Å: copies of ``positions`` with atom j moved along the i→j bond to each distance (Å)."""
    u = positions[j] - positions[i]
    u = u / np.linalg.norm(u)
    out = np.repeat(positions[None], len(distances), axis=0)
    out[:, j] = positions[i] + distances[:, None] * u
    return out


def nearest_hydrogen(numbers: np.ndarray, positions: np.ndarray, carbon: int = 0) -> int:
    """Index of the H atom closest to atom ``carbon``."""
    h = np.flatnonzero(numbers == 1)
    return int(h[np.argmin(np.linalg.norm(positions[h] - positions[carbon], axis=1))])


def train_pair(frames, max_steps: int, n_seeds: int, run_dir: str, **hyper):
    """Train DimeNet++ without and with ZBL on ``frames`` (all as training data); return
    ``{name: potential}`` (:class:`hybridpot.potentials.Potential` with the best parameters)."""
    from hybridpot.models import dimenet_pp
    from hybridpot.potentials import EnergyNormalisation, dimezblnet, structure_energies, zbl_term
    from hybridpot.train import TrainConfig, fit, fit_energy_normalisation
    from hybridpot.train.config import DataConfig, LossConfig, NormalisationConfig, OptimConfig, RunConfig

    data = frames.to_dataset()
    species = tuple(sorted(set(frames.numbers.tolist())))
    force_rms = float(np.sqrt(np.mean(frames.forces**2)))
    zbl_e = structure_energies(zbl_term(5.0, "envelope"), frames.positions, frames.numbers)
    config = TrainConfig(
        data=DataConfig(batch_size=16, n_buckets=1, prefetch=2),
        loss=LossConfig(energy_per_atom=False, forces_weight=100.0),
        optim=OptimConfig(name="amsgrad", learning_rate=2e-3, warmup_steps=20, decay="cosine", final_lr_fraction=0.05),
        normalisation=NormalisationConfig(shift=False, scale=False),
        run=RunConfig(n_seeds=n_seeds, max_steps=max_steps, eval_every=max_steps, checkpoint_every=max_steps, progress=False),
    )
    out = {}
    for zbl in (False, True):
        mu = fit_energy_normalisation([frames.numbers] * frames.n_frames, frames.energy, fit_scale=False,
                                      physics_energies=zbl_e if zbl else None).shift
        # DimezblNet++ = additive(ZBL, DimeNet++); μ and the force-RMS scale act on the network only
        model = dimezblnet(species, **hyper) if zbl else dimenet_pp(species, **hyper)
        result = fit(model, data, None, config, os.path.join(run_dir, "zbl" if zbl else "nozbl"),
                     normalisation=EnergyNormalisation(mu, np.asarray(force_rms)))
        out["DimeNet++ + ZBL" if zbl else "DimeNet++"] = result.potential
    return out


def scan(potential, numbers, positions) -> np.ndarray:
    """``[n_seeds, n_d]`` eV: energies of the structures ``positions [n_d, A, 3]`` under every member of
    ``potential`` (a :class:`hybridpot.potentials.Potential`)."""
    from hybridpot.train import Dataset, Structure, predict

    ds = Dataset([Structure(p, numbers, 0.0, np.zeros_like(p)) for p in positions])
    return predict(potential, ds, batch_size=8)["energy"]


def main(argv=None):
    """Train, scan, plot, and print the energies (JSON)."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--max-steps", type=int, default=300)
    p.add_argument("--n-seeds", type=int, default=2)
    p.add_argument("--run-dir", default="runs/md17_short_range")
    p.add_argument("--png", default="docs/figures/md17_short_range.png")
    args = p.parse_args(argv)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from hybridpot.io import bundled_md17

    frames = bundled_md17()
    models = train_pair(frames, args.max_steps, args.n_seeds, args.run_dir, emb_size=16, out_emb_size=32,
                        int_emb_size=8, num_blocks=2)
    eq = frames.positions[0]
    h = nearest_hydrogen(frames.numbers, eq)
    r0 = float(np.linalg.norm(eq[h] - eq[0]))
    distances = np.linspace(0.2, r0, 40)
    structures = compress_bond(eq, 0, h, distances)
    fig, ax = plt.subplots(figsize=(5.5, 4))
    result = {"distances": distances.tolist(), "r0": r0}
    for name, potential in models.items():
        e = scan(potential, frames.numbers, structures)
        e = e - e[:, -1:]
        result[name] = e.tolist()
        for k, row in enumerate(e):
            ax.plot(distances, row, color="C1" if "ZBL" in name else "C0", label=name if k == 0 else None)
    ax.set_yscale("symlog", linthresh=1.0)
    ax.set_xlabel("C–H distance (Å)")
    ax.set_ylabel("E − E(equilibrium) (eV)")
    ax.set_title(f"ethanol, one C–H bond compressed ({args.n_seeds} seeds, {args.max_steps} steps)")
    ax.legend()
    fig.tight_layout()
    os.makedirs(os.path.dirname(args.png), exist_ok=True)
    fig.savefig(args.png, dpi=120)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
