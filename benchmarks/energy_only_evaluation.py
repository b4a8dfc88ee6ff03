"""Evaluation of energy-only labels (QM9 properties): energy alone against energy and forces.

Times :func:`hybridpot.train.evaluate` of DimeNet++ on QM9 test molecules two ways: the
structures without forces (``forces=None``, what ``QM9Molecules.to_dataset`` gives: the energy
alone, no backward pass), and the peer, the same structures with zero force labels attached (what
the trainer computed before energy-only labels existed: energy and forces, the forces thrown
away). Both calls build the graphs and triplets of every molecule, as the QM9 study does; each is
timed after a first call that compiles. The energy MAEs of the two must agree.

Run: ``python benchmarks/energy_only_evaluation.py [--n-molecules 2000] [--emb-size 16 ...]``
(reads ``shared/data/qm9`` beside the repository, or ``$HYBRIDPOT_SHARED_DATA``).
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import jax
import numpy as np

from hybridpot.graph import build_graph, build_triplets
from hybridpot.io.qm9 import load_qm9
from hybridpot.models import dimenet_pp
from hybridpot.potentials import Potential, identity_normalisation
from hybridpot.train import Dataset, Structure, evaluate
from hybridpot.train.config import DataConfig, LossConfig, RunConfig, TrainConfig


def timed_evaluate(model, params, dataset, config, reps: int) -> tuple[float, np.ndarray]:
    """Best wall-clock seconds of ``reps`` calls after a compiling one, and the energy MAE ``[n_seeds]``."""
    potential = Potential(model, params, identity_normalisation(np.float32))
    evaluate(potential, dataset, config)  # compiles
    best = np.inf
    for _ in range(reps):
        t0 = time.perf_counter()
        out = evaluate(potential, dataset, config)
        best = min(best, time.perf_counter() - t0)
    return best, np.asarray(out["energy_mae"])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n-molecules", type=int, default=2000)
    p.add_argument("--property", default="U0")
    p.add_argument("--n-seeds", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--reps", type=int, default=2)
    p.add_argument("--emb-size", type=int, default=16)
    p.add_argument("--out-emb-size", type=int, default=32)
    p.add_argument("--int-emb-size", type=int, default=8)
    p.add_argument("--num-blocks", type=int, default=2)
    args = p.parse_args()

    molecules = load_qm9()
    energy_only = molecules.to_dataset(args.property, np.arange(min(args.n_molecules, molecules.n_molecules)))
    with_zero_forces = Dataset([Structure(s.positions, s.numbers, s.energy, np.zeros_like(s.positions))
                                for s in energy_only.structures])
    species = tuple(sorted({int(z) for s in energy_only.structures for z in s.numbers}))
    model = dimenet_pp(species, emb_size=args.emb_size, out_emb_size=args.out_emb_size,
                       int_emb_size=args.int_emb_size, num_blocks=args.num_blocks)
    s0 = energy_only[0]
    graph = build_graph(s0.positions, s0.numbers, model.cutoff, dtype=np.float32)
    keys = jax.random.split(jax.random.PRNGKey(0), args.n_seeds)
    params = jax.vmap(lambda k: model.init(k, graph, build_triplets(graph)))(keys)
    config = TrainConfig(data=DataConfig(batch_size=args.batch_size),
                         loss=LossConfig(kind="mae", energy_per_atom=False, forces_weight=0.0),
                         run=RunConfig(n_seeds=args.n_seeds, dtype="float32"))

    t_energy, mae_energy = timed_evaluate(model, params, energy_only, config, args.reps)
    t_forces, mae_forces = timed_evaluate(model, params, with_zero_forces, config, args.reps)
    np.testing.assert_allclose(mae_energy, mae_forces, rtol=1e-5)

    device = jax.devices()[0]
    print(f"device: {device.platform} ({device.device_kind}), {os.cpu_count()} CPU cores; "
          f"jax {jax.__version__}; python {platform.python_version()}")
    print(f"QM9 {args.property}, {len(energy_only)} molecules, DimeNet++ emb {args.emb_size} / out-emb "
          f"{args.out_emb_size} / int-emb {args.int_emb_size}, {args.num_blocks} blocks, {args.n_seeds} members "
          f"vmapped, batch {args.batch_size}, float32; best of {args.reps} after a compiling call")
    print()
    print("| evaluation | seconds | molecules/s | ratio |")
    print("|---|---|---|---|")
    n = len(energy_only)
    print(f"| energy only (forces=None) | {t_energy:.2f} | {n / t_energy:.0f} | {t_forces / t_energy:.2f}× |")
    print(f"| energy and forces (zero force labels, the peer) | {t_forces:.2f} | {n / t_forces:.0f} | 1.00× |")


if __name__ == "__main__":
    main()
