"""Graph-potential training throughput against the number of vmapped seeds (ensemble members).

Trains the library's pair-MLP potential (``hybridpot.models.pair_mlp``: Gaussian basis ×
species embedding → 16-16 SiLU MLP, cosine cutoff 4 Å, float32) on EMT-labelled Cu/Al cells and
clusters with :func:`hybridpot.train.fit`, energy + force loss, batch of 8 structures, for
1, 4 and 16 members in one vmapped program. The peer is the same trainer run one member at a
time, one after another (its member-steps/s is that of the 1-member run). Timings exclude
compilation (the trainer times from the end of the first step) and include the host-side data
pipeline (one padded batch per member per step, prefetched by a background thread).

Run: ``python benchmarks/graph_training_seeds.py [--steps 100] [--seeds 1 4 16]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile

import jax

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "train"))

from train_helpers import emt_structures  # noqa: E402

from hybridpot.models.pair_mlp import pair_mlp_model  # noqa: E402

from hybridpot.train import config_from_dict, fit  # noqa: E402


def steps_per_second(n_seeds: int, steps: int, train) -> float:
    """Optimisation steps/s of one vmapped run of ``n_seeds`` members (compilation excluded)."""
    cfg = config_from_dict({
        "data": {"batch_size": 8, "n_buckets": 1, "prefetch": 4},
        "optim": {"learning_rate": 3e-3},
        "run": {"max_steps": steps, "n_seeds": n_seeds, "dtype": "float32", "log_every": 10,
                "eval_every": steps, "checkpoint_every": steps, "progress": False},
    })
    with tempfile.TemporaryDirectory() as run_dir:
        return fit(pair_mlp_model(dtype=jax.numpy.float32), train, None, cfg, run_dir).steps_per_second


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 4, 16])
    args = parser.parse_args()

    train = emt_structures(n_bulk=48, n_cluster=16, seed=0)
    rates = {n: steps_per_second(n, args.steps, train) for n in sorted(set(args.seeds) | {1})}
    device = jax.devices()[0]
    print(f"device: {device.platform} ({device.device_kind}), {os.cpu_count()} CPU cores; "
          f"jax {jax.__version__}; python {platform.python_version()}")
    print(f"{len(train)} structures, batch 8, {args.steps} steps, float32")
    print()
    print("| seeds | vmapped steps/s | member-steps/s (vmapped) | member-steps/s (one after another) | speed-up |")
    print("|---|---|---|---|---|")
    for n in args.seeds:
        member = rates[n] * n
        print(f"| {n} | {rates[n]:.1f} | {member:.1f} | {rates[1]:.1f} | {member / rates[1]:.2f}× |")


if __name__ == "__main__":
    main()
