"""DimeNet++ on aspirin: hybridpot (JAX) against PyTorch Geometric's ``DimeNetPlusPlus``, same run.

Both models use the published DimeNet++ hyper-parameters (emb 128, out-emb 256, int-emb 64,
basis-emb 8, 4 blocks, 7 spherical, 6 radial, r_c 5 Å, envelope exponent 5, 1 / 2 residual
layers, 3 output layers), float32, batch 32 rMD17 aspirin frames, loss = MSE(E) + 100·MSE(F) with
forces −∂E/∂R (Adam). Measured:

* training steps/s (energy + forces; hybridpot: ``hybridpot.train.fit`` with its host data
  pipeline, compilation excluded; PyG: a plain PyTorch loop on pre-collated batches, first step
  excluded);
* inference structures/s (energy and forces; hybridpot: ``hybridpot.train.predict``, second call);
* compilations of the hybridpot training step over one full epoch (``TrainResult.n_compilations``);
* seconds from the framework's import to the end of the first training step. hybridpot's runs in
  two fresh processes sharing a new persistent compilation cache folder, as the command line
  uses one: the first compiles and fills the cache, the second loads from it.
  Both count the imports of JAX and hybridpot and loading the frames; PyG's counts ``import
  torch`` on;
* a bound that holds for both: XLA's FLOP count of one training step (gradient of the energy +
  forces loss) divided by the rate of this device's dominant matrix product ([n_edge, 128] ×
  [128, 128], float32) gives the fastest step the hardware allows, whatever the framework.

On CPU, PyG's compiled extensions (torch_cluster, torch_sparse) are absent, so only PyG's
``radius_graph`` and ``triplets`` are replaced by plain-torch functions with the same semantics
(all neighbours within the cutoff, edge j → i, triplets k → j → i without k = i).

    python benchmarks/dimenet_pyg.py --n-frames 128 --pyg-steps 3
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time

import numpy as np

HYPER = dict(emb_size=128, out_emb_size=256, int_emb_size=64, basis_emb_size=8, num_blocks=4, num_spherical=7,
             num_radial=6, envelope_p=6, num_before_skip=1, num_after_skip=2, num_dense_output=3)
FORCES_WEIGHT = 100.0


def train_config(batch_size: int, lr: float, steps: int):
    """hybridpot's TrainConfig of this benchmark: ``steps`` Adam steps on E + F, no EMA."""
    from hybridpot.train import TrainConfig
    from hybridpot.train.config import DataConfig, LossConfig, NormalisationConfig, OptimConfig, RunConfig

    return TrainConfig(
        data=DataConfig(batch_size=batch_size, n_buckets=1, shuffle=True, prefetch=2),
        loss=LossConfig(kind="mse", energy_per_atom=False, forces_weight=FORCES_WEIGHT),
        optim=OptimConfig(name="adam", learning_rate=lr, ema_decay=None),
        normalisation=NormalisationConfig(shift=True, scale=True),
        run=RunConfig(max_steps=steps, eval_every=steps, checkpoint_every=steps, log_every=1, progress=False),
    )


def fit_timed(model, dataset, config):
    """``hybridpot.train.fit`` in a temporary run folder: its result and the ``time.perf_counter()``
    at the end of its first step."""
    import jax

    from hybridpot.train import fit

    first = {}

    def callback(step, state):
        """Note the end of the first step."""
        jax.block_until_ready(state.params)
        first.setdefault("t", time.perf_counter())

    with tempfile.TemporaryDirectory() as run_dir:
        result = fit(model, dataset, None, config, run_dir, callback=callback)
    return result, first["t"]


def bench_hybridpot(build, frames, batch_size: int, lr: float, steps: int, t_import: float = 0.0) -> dict:
    """Train ``steps`` steps of the model ``build()`` with hybridpot.train.fit and predict the frames;
    ``first_step_s``: seconds from the call to the end of the first step (no compilation cache),
    plus ``t_import`` (s)."""
    t_start = time.perf_counter()
    import jax

    from hybridpot.potentials import Potential
    from hybridpot.train import predict

    data = frames.to_dataset()
    result, t_first = fit_timed(build(), data, train_config(batch_size, lr, steps))
    leaves = jax.tree.leaves(result.params)  # [n_members, ...] each
    potential = Potential(result.model, result.params, result.normalisation)
    predict(potential, data, batch_size=batch_size)  # compile
    t0 = time.perf_counter()
    predict(potential, data, batch_size=batch_size)
    infer = frames.n_frames / (time.perf_counter() - t0)
    return dict(parameters=sum(x.size for x in leaves) // leaves[0].shape[0], train_steps_per_s=result.steps_per_second,
                infer_structures_per_s=infer, compilations=result.n_compilations, timed_steps=steps - 1,
                first_step_s=t_import + t_first - t_start, device=f"{jax.devices()[0].platform} (jax {jax.__version__})")


def first_step(cache: str, n_frames: int, batch_size: int, lr: float) -> float:
    """(Run in a fresh process.) Seconds from here, before JAX is imported, to the end of the first
    training step of DimeNet++ on ``n_frames`` aspirin frames, with the persistent compilation
    cache in the folder ``cache``."""
    t_start = time.perf_counter()
    from hybridpot.cli import enable_compile_cache

    enable_compile_cache(cache)
    from hybridpot.io.md17 import load_md17
    from hybridpot.models import dimenet_pp

    frames = load_md17("aspirin").select(np.arange(n_frames))
    model = dimenet_pp(tuple(sorted(set(frames.numbers.tolist()))), **HYPER)
    _, t_first = fit_timed(model, frames.to_dataset(), train_config(batch_size, lr, 1))
    return t_first - t_start


def first_step_runs(n_frames: int, batch_size: int, lr: float) -> tuple[float, float]:
    """:func:`first_step` in two fresh processes sharing a new cache folder: (cold s, warm s)."""
    times = []
    with tempfile.TemporaryDirectory() as cache:
        for _ in range(2):
            argv = [sys.executable, __file__, "--first-step-cache", cache, "--n-frames", str(n_frames),
                    "--batch-size", str(batch_size), "--learning-rate", str(lr)]
            done = subprocess.run(argv, capture_output=True, text=True, check=True)
            times.append(float(done.stdout.split("FIRST_STEP_S")[-1]))
    return times[0], times[1]


def batch_programs(frames, batch_size: int):
    """DimeNet++ (published sizes) on the first ``batch_size`` frames, collated as the trainer
    does: ``(params, batch, forces_fn, loss)``, with ``forces_fn(params, graph) -> (energy
    [n_graph] eV, forces [n_node, 3] eV/Å)`` and ``loss(params)`` the E + F training loss."""
    import jax
    import jax.numpy as jnp

    from hybridpot.models import dimenet_pp
    from hybridpot.potential import energy_and_forces
    from hybridpot.train import GraphSet, collate, make_buckets

    model = dimenet_pp(tuple(sorted(set(frames.numbers.tolist()))), **HYPER)
    gs = GraphSet(frames.to_dataset(np.arange(batch_size)), model.cutoff, True, model.species, np.float32)
    batch = jax.tree.map(lambda x: jnp.asarray(x[0, 0]),
                         collate(gs, [[np.arange(batch_size)]], make_buckets([gs], batch_size, 1, 1.5)))
    params = model.init(jax.random.PRNGKey(0), batch.graph, batch.triplets)
    forces_fn = energy_and_forces(lambda p, g: model.energy(p, g, batch.triplets))

    def loss(p):
        e, f = forces_fn(p, batch.graph)
        return jnp.mean((e - batch.energy) ** 2) + FORCES_WEIGHT * jnp.mean((f - batch.forces) ** 2)

    return params, batch, forces_fn, loss


def step_bound(frames, batch_size: int) -> dict:
    """XLA's FLOP count of one training-step gradient, the rate of the [n_edge, 128] × [128, 128]
    matrix product on this device (FLOP/s), and their ratio: the fastest step at that rate (s);
    also the compiled energy + forces program alone on one batch (structures/s, best of 6 calls)."""
    import jax
    import jax.numpy as jnp

    params, batch, forces_fn, loss = batch_programs(frames, batch_size)
    cost = jax.jit(jax.grad(loss)).lower(params).compile().cost_analysis()
    flops = float((cost[0] if isinstance(cost, list) else cost)["flops"])
    n_edge = batch.graph.senders.shape[0]
    x, w = jnp.ones((n_edge, HYPER["emb_size"])), jnp.ones((HYPER["emb_size"],) * 2)
    matmul = jax.jit(jnp.matmul)
    jax.block_until_ready(matmul(x, w))
    reps = 50
    t0 = time.perf_counter()
    for _ in range(reps):
        out = matmul(x, w)
    jax.block_until_ready(out)
    rate = reps * 2 * n_edge * HYPER["emb_size"] ** 2 / (time.perf_counter() - t0)
    infer = jax.jit(forces_fn).lower(params, batch.graph).compile()
    jax.block_until_ready(infer(params, batch.graph))
    calls = []
    for _ in range(6):
        t0 = time.perf_counter()
        jax.block_until_ready(infer(params, batch.graph))
        calls.append(time.perf_counter() - t0)
    return dict(flops=flops, rate=rate, min_step_s=flops / rate, program_structures_per_s=batch_size / min(calls))


def _radius_graph(x, r, batch=None, loop=False, max_num_neighbors=32, flow="source_to_target", num_workers=1,
                  batch_size=None):
    """Plain-torch ``radius_graph``: every pair closer than r in the same graph, edge_index [2, E]
    = (source j, target i); no neighbour cap (the hybridpot convention)."""
    import torch

    if batch is None:
        batch = torch.zeros(x.size(0), dtype=torch.long, device=x.device)
    with torch.no_grad():
        d = torch.cdist(x, x)
        mask = (d < r) & (batch[:, None] == batch[None, :])
        if not loop:
            mask.fill_diagonal_(False)
        i, j = mask.nonzero(as_tuple=True)  # i = target (centre), j = source (neighbour)
    return torch.stack([j, i], dim=0)


def _triplets(edge_index, num_nodes: int):
    """Plain-torch version of PyG's DimeNet ``triplets`` (same outputs and order semantics)."""
    import torch

    row, col = edge_index  # j -> i
    n_edge = row.size(0)
    order = torch.argsort(col, stable=True)  # incoming edges grouped by target node
    counts = torch.bincount(col, minlength=num_nodes)
    ptr = torch.cumsum(counts, 0) - counts
    num_triplets = counts[row]  # incoming edges k -> j for every edge j -> i
    idx_ji = torch.arange(n_edge, device=row.device).repeat_interleave(num_triplets)
    start = (torch.cumsum(num_triplets, 0) - num_triplets).repeat_interleave(num_triplets)
    offset = torch.arange(idx_ji.size(0), device=row.device) - start
    idx_kj = order[ptr[row].repeat_interleave(num_triplets) + offset]
    idx_i, idx_j, idx_k = col[idx_ji], row[idx_ji], row[idx_kj]
    mask = idx_i != idx_k
    return col, row, idx_i[mask], idx_j[mask], idx_k[mask], idx_kj[mask], idx_ji[mask]


def bench_pyg(frames, batch_size: int, lr: float, steps: int) -> dict:
    """A plain PyTorch training loop and inference with PyG's DimeNetPlusPlus."""
    t_import = time.perf_counter()
    import torch
    from torch_geometric.nn.models import dimenet as pyg_dimenet

    pyg_dimenet.radius_graph = _radius_graph
    pyg_dimenet.triplets = _triplets
    torch.manual_seed(0)
    h = HYPER
    model = pyg_dimenet.DimeNetPlusPlus(
        hidden_channels=h["emb_size"], out_channels=1, num_blocks=h["num_blocks"], int_emb_size=h["int_emb_size"],
        basis_emb_size=h["basis_emb_size"], out_emb_channels=h["out_emb_size"], num_spherical=h["num_spherical"],
        num_radial=h["num_radial"], cutoff=5.0, max_num_neighbors=1000, envelope_exponent=h["envelope_p"] - 1,
        num_before_skip=h["num_before_skip"], num_after_skip=h["num_after_skip"], num_output_layers=h["num_dense_output"],
    )
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    n_atoms = len(frames.numbers)
    e_mean, f_rms = frames.energy.mean(), np.sqrt(np.mean(frames.forces**2))

    def batch(k):
        idx = np.arange(k * batch_size, (k + 1) * batch_size) % frames.n_frames
        z = torch.tensor(np.tile(frames.numbers, len(idx)), dtype=torch.long)
        pos = torch.tensor(frames.positions[idx].reshape(-1, 3), dtype=torch.float32)
        b = torch.arange(len(idx)).repeat_interleave(n_atoms)
        e = torch.tensor((frames.energy[idx] - e_mean) / f_rms, dtype=torch.float32)
        f = torch.tensor(frames.forces[idx].reshape(-1, 3) / f_rms, dtype=torch.float32)
        return z, pos, b, e, f

    def step(z, pos, b, e, f):
        pos = pos.clone().requires_grad_(True)
        energy = model(z, pos, b).squeeze(-1)
        forces = -torch.autograd.grad(energy.sum(), pos, create_graph=True)[0]
        loss = torch.mean((energy - e) ** 2) + FORCES_WEIGHT * torch.mean((forces - f) ** 2)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    batches = [batch(k) for k in range(steps + 1)]
    step(*batches[0])
    first = time.perf_counter() - t_import
    t0 = time.perf_counter()
    for bt in batches[1:]:
        step(*bt)
    train = steps / (time.perf_counter() - t0)
    n_infer = -(-frames.n_frames // batch_size)
    infer_batches = [batch(k) for k in range(n_infer)]
    t0 = time.perf_counter()
    for z, pos, b, _, _ in infer_batches:
        pos = pos.clone().requires_grad_(True)
        energy = model(z, pos, b)
        torch.autograd.grad(energy.sum(), pos)
    infer = n_infer * batch_size / (time.perf_counter() - t0)
    return dict(train_steps_per_s=train, infer_structures_per_s=infer, first_step_s=first,
                device=f"cpu (torch {torch.__version__}, {torch.get_num_threads()} threads)")


def main(argv=None):
    """Run both, print a markdown table."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n-frames", type=int, default=128, help="aspirin frames: one hybridpot epoch, and the inference set")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--pyg-steps", type=int, default=4)
    p.add_argument("--learning-rate", type=float, default=1e-4)
    p.add_argument("--first-step-cache", help=argparse.SUPPRESS)  # the child process of first_step_runs
    args = p.parse_args(argv)
    if args.first_step_cache:
        print("FIRST_STEP_S", first_step(args.first_step_cache, args.n_frames, args.batch_size, args.learning_rate))
        return

    from hybridpot.io.md17 import load_md17
    from hybridpot.models import dimenet_pp

    frames = load_md17("aspirin").select(np.arange(args.n_frames))
    species = tuple(sorted(set(frames.numbers.tolist())))
    epoch = -(-frames.n_frames // args.batch_size)
    cold, warm = first_step_runs(args.n_frames, args.batch_size, args.learning_rate)
    ours = bench_hybridpot(lambda: dimenet_pp(species, **HYPER), frames, args.batch_size, args.learning_rate, epoch)
    peer = bench_pyg(frames, args.batch_size, args.learning_rate, args.pyg_steps)
    bound = step_bound(frames, args.batch_size)
    print(f"\nCPU: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, load average "
          f"{os.getloadavg()[0]:.1f}; hybridpot on {ours['device']}; PyG on {peer['device']}")
    print(f"DimeNet++ (published sizes), aspirin, batch {args.batch_size}, float32, energy + forces\n")
    print("| quantity | hybridpot (JAX) | PyG DimeNetPlusPlus | ratio (hybridpot / PyG) |")
    print("|---|---|---|---|")
    for key, name in (("train_steps_per_s", "training steps/s"), ("infer_structures_per_s", "inference structures/s")):
        print(f"| {name} | {ours[key]:.3g} | {peer[key]:.3g} | {ours[key] / peer[key]:.2f}× |")
    for name, secs in (("first run, compiles", cold), ("second run, compile cache", warm)):
        print(f"| import → first trained step, {name} (s) | {secs:.1f} | {peer['first_step_s']:.1f} | "
              f"{secs / peer['first_step_s']:.2f}× |")
    print(f"| compilations over one epoch ({ours['timed_steps'] + 1} steps) | {ours['compilations']} | – (eager) | |")
    best = 1.0 / bound["min_step_s"]
    print(f"\nOne training step: {bound['flops'] / 1e9:.1f} GFLOP (XLA's count); the [n_edge, 128] × [128, 128] "
          f"product runs at {bound['rate'] / 1e9:.1f} GFLOP/s here, so no framework trains faster than about "
          f"{best:.3g} steps/s on this device ({best / peer['train_steps_per_s']:.2f}× PyG's rate).")
    print(f"hybridpot's compiled energy + forces program alone, one batch: "
          f"{bound['program_structures_per_s']:.3g} structures/s (best of 6 calls).")


if __name__ == "__main__":
    main()
