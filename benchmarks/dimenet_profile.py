"""Where DimeNet++'s CPU time goes, and how far any triplet-side change could take it against PyG.

The programs of ``benchmarks/dimenet_pyg.py`` (DimeNet++ at the published sizes, batch 32 rMD17
aspirin frames, float32): the compiled energy + forces program (inference) and the gradient of
the E + F training loss (the model part of a training step). Printed:

* wall seconds per call (best of ``--calls``) and XLA's busy thread-seconds per call, from a
  ``jax.profiler`` trace of the same calls (more busy threads than one: ops ran side by side);
* the busy time split by the leading size of each op's output (per triplet, per edge, per atom,
  other) and by its kind: matrix products (YNNPACK fusions and dots), gathers, scatters (segment
  sums), element-wise fusions (everything else: activations and their derivatives, products,
  bases);
* the same two programs with every interaction's triplet term ablated (replaced by its own
  per-edge input, so all per-edge and per-atom layers still run): the time no rewrite of the
  triplet term can go below;
* PyG's ``DimeNetPlusPlus`` on the same frames, timed as in ``benchmarks/dimenet_pyg.py``
  (``bench_pyg``), and the ratios of both programs against it. The hybridpot side here is the
  compiled program alone (no data pipeline, no optimiser), so its ratios bound those of the full
  benchmark from above.

    python benchmarks/dimenet_profile.py --n-frames 128 --pyg-steps 3
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import glob
import gzip
import json
import os
import platform
import re
import tempfile
import time

import numpy as np
from dimenet_pyg import batch_programs, bench_pyg, train_config

KINDS = ("matrix product", "gather", "scatter", "element-wise")


@contextlib.contextmanager
def triplet_term_ablated():
    """Inside: each DimeNet/DimeNet++ interaction's triplet sum returns its per-edge input
    ``x_kj`` (same shape) instead of the sum over triplets, so the triplet-sized work is gone."""
    from hybridpot.models.dimenet import InteractionBlock

    original = InteractionBlock.triplet_sum
    InteractionBlock.triplet_sum = lambda self, x_kj, *args, **kwargs: x_kj
    try:
        yield
    finally:
        InteractionBlock.triplet_sum = original


def _instructions(hlo: str) -> dict:
    """Name → (leading output size or None, kind) of every instruction of an optimised HLO text."""
    out = {}
    for line in hlo.splitlines():
        m = re.match(r"\s*(?:ROOT )?%([\w.\-]+) = \(?\w+\[(\d*)", line)  # tuples: their first shape
        op = re.search(r"[\]})] ([\w\-]+)\(", line)
        if not (m and op):
            continue
        (name, lead), op = m.groups(), op.group(1)
        if name.startswith("ynn_fusion") or op == "dot":
            kind = "matrix product"
        elif "scatter" in name:
            kind = "scatter"
        elif "gather" in name:
            kind = "gather"
        else:
            kind = "element-wise"
        out[name] = (int(lead) if lead else None, kind)
    return out


def profile(compiled, args, calls: int, sizes: dict) -> dict:
    """Wall seconds per call (best of ``calls``), busy thread-seconds per call and their split
    ``{(level, kind): s}`` from a jax.profiler trace of ``calls`` calls of ``compiled(*args)``;
    ``sizes``: level name → leading output size (the first level that matches wins)."""
    import jax

    jax.block_until_ready(compiled(*args))
    walls = []
    for _ in range(calls):
        t0 = time.perf_counter()
        jax.block_until_ready(compiled(*args))
        walls.append(time.perf_counter() - t0)
    ops = _instructions(compiled.as_text())
    busy: collections.Counter = collections.Counter()
    with tempfile.TemporaryDirectory() as trace_dir:
        jax.profiler.start_trace(trace_dir)
        for _ in range(calls):
            jax.block_until_ready(compiled(*args))
        jax.profiler.stop_trace()
        (path,) = glob.glob(os.path.join(trace_dir, "plugins", "profile", "*", "*.trace.json.gz"))
        with gzip.open(path) as f:
            events = json.load(f)["traceEvents"]
    for e in events:
        if e.get("ph") == "X" and e.get("name") in ops:
            lead, kind = ops[e["name"]]
            level = next((k for k, n in sizes.items() if n == lead), "other")
            busy[(level, kind)] += e["dur"] * 1e-6 / calls
    return dict(wall=min(walls), busy=sum(busy.values()), split=busy)


def training_bucket(frames, batch_size: int):
    """The padded sizes (``n_node``, ``n_edge``, ``n_triplet``) of the training batches of
    ``hybridpot.train.fit`` on ``frames`` with the data settings of ``benchmarks/dimenet_pyg.py``
    (its ``train_config``: one padding bucket)."""
    from hybridpot.models import dimenet_pp
    from hybridpot.train import GraphSet, make_buckets

    model = dimenet_pp(tuple(sorted(set(frames.numbers.tolist()))))
    gs = GraphSet(frames.to_dataset(), model.cutoff, True, model.species, np.float32)
    data = train_config(batch_size, 1e-4, 1).data
    (bucket,) = make_buckets([gs], batch_size, data.n_buckets, data.bucket_ratio).buckets
    return bucket


def main(argv=None):
    """Profile both programs, with and without the triplet term, and time PyG; print tables."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n-frames", type=int, default=128, help="aspirin frames of PyG's inference timing")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--pyg-steps", type=int, default=3)
    p.add_argument("--calls", type=int, default=3, help="timed and traced calls of each program")
    args = p.parse_args(argv)

    import jax

    from hybridpot.io.md17 import load_md17

    frames = load_md17("aspirin").select(np.arange(args.n_frames))
    rows = {}
    for name, ablate in (("full", False), ("triplet term ablated", True)):
        with triplet_term_ablated() if ablate else contextlib.nullcontext():
            params, batch, forces_fn, loss = batch_programs(frames, args.batch_size)
            infer = jax.jit(forces_fn).lower(params, batch.graph).compile()
            grad = jax.jit(jax.grad(loss)).lower(params).compile()
        sizes = {"per triplet": batch.triplets.kj.shape[0], "per edge": batch.graph.senders.shape[0],
                 "per atom": batch.graph.nodes["atomic_numbers"].shape[0]}
        rows[name] = (profile(infer, (params, batch.graph), args.calls, sizes),
                      profile(grad, (params,), args.calls, sizes))
    peer = bench_pyg(frames, args.batch_size, 1e-4, args.pyg_steps)
    train_bucket = training_bucket(frames, args.batch_size)

    print(f"\nCPU: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, load average "
          f"{os.getloadavg()[0]:.1f}; jax {jax.__version__}; PyG on {peer['device']}")
    print(f"DimeNet++ (published sizes), aspirin, batch {args.batch_size} ({sizes['per atom']} atoms, "
          f"{sizes['per edge']} edges, {sizes['per triplet']} triplets), float32\n")
    print(f"Training batches of any {args.batch_size} of the {args.n_frames} frames (hybridpot.train.fit, one "
          f"padding bucket) are padded to {train_bucket.n_node} atoms, {train_bucket.n_edge} edges and "
          f"{train_bucket.n_triplet} triplets.\n")
    print("| program | wall s/call | busy thread-s/call | busy threads |")
    print("|---|---|---|---|")
    for name, (inf, trn) in rows.items():
        for label, r in (("energy + forces", inf), ("training-loss gradient", trn)):
            print(f"| {label}, {name} | {r['wall']:.3f} | {r['busy']:.3f} | {r['busy'] / r['wall']:.2f} |")

    inf, trn = rows["full"]
    print("\nBusy thread time of the full programs, by the leading size of each op's output and its kind:\n")
    print("| ops | energy + forces (ms) | share | training-loss gradient (ms) | share |")
    print("|---|---|---|---|---|")
    for level in (*sizes, "other"):
        for kind in KINDS:
            a, b = inf["split"].get((level, kind), 0.0), trn["split"].get((level, kind), 0.0)
            if max(a / inf["busy"], b / trn["busy"]) >= 0.005:
                print(f"| {level}, {kind} | {a * 1e3:.0f} | {a / inf['busy']:.0%} | {b * 1e3:.0f} | {b / trn['busy']:.0%} |")

    print("\nAgainst PyG DimeNetPlusPlus (hybridpot: the compiled program alone, best of "
          f"{args.calls} calls; PyG: bench_pyg of benchmarks/dimenet_pyg.py):\n")
    print("| quantity | hybridpot, full | hybridpot, triplet term ablated | PyG | full / PyG | ablated / PyG |")
    print("|---|---|---|---|---|---|")
    for label, i, key in (("inference structures/s", 0, "infer_structures_per_s"),
                          ("training steps/s (gradient only)", 1, "train_steps_per_s")):
        full = (args.batch_size if i == 0 else 1) / rows["full"][i]["wall"]
        ablated = (args.batch_size if i == 0 else 1) / rows["triplet term ablated"][i]["wall"]
        print(f"| {label} | {full:.3g} | {ablated:.3g} | {peer[key]:.3g} | {full / peer[key]:.2f}× | "
              f"{ablated / peer[key]:.2f}× |")


if __name__ == "__main__":
    main()
