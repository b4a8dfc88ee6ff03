"""MACE on aspirin: hybridpot's MACE-like model (JAX) against mace-torch's ``MACE`` and hybridpot's DimeNet++, same run.

The two MACE models have the same sizes: ``--channels`` C (default 32) of every hidden irrep up to
``--lmax`` L (default 1: ``Cx0e + Cx1o``; the last layer keeps the scalars only), edge spherical
harmonics up to l = 3, 2 interactions, correlation 3 (body order 4), 8 Bessel functions with the
p = 6 polynomial envelope, r_c 5 Å, radial MLP 64-64-64 (SiLU), last readout 16x0e (SiLU), the
same average neighbour count n̄ (of the benchmark frames), no atomic reference energies.
``mace-torch``: ``mace.modules.MACE`` with ``RealAgnosticInteractionBlock`` first, then
``RealAgnosticResidualInteractionBlock``; hybridpot: ``hybridpot.models.mace``. DimeNet++ of
hybridpot has the published sizes (``HYPER`` of ``dimenet_pyg.py``). All float32, batch 32 rMD17
aspirin frames, loss = MSE(E) + 100·MSE(F) with forces −∂E/∂R, Adam. Measured per model:

* parameters (trainable; the two MACE definitions differ in detail, so the counts are not equal:
  see below);
* training steps/s (energy + forces; hybridpot: ``hybridpot.train.fit`` with its host data
  pipeline, one epoch of ``--n-frames`` but at least 3 steps, compilation excluded; mace-torch: a
  plain PyTorch loop over ``--torch-steps`` pre-collated batches after two untimed ones: the
  first, and the second, on which TorchScript's profiling executor specialises e3nn's scripted code);
* inference structures/s (energy and forces of the ``--n-frames`` frames; hybridpot:
  ``hybridpot.train.predict``, second call; mace-torch: ``model(batch, compute_force=True)`` after
  one untimed batch);
* compilations of the hybridpot training step over the run (``TrainResult.n_compilations``);
* seconds from the framework's import to the end of the first training step (JAX and hybridpot
  are imported once, and that import time is counted in both hybridpot rows; torch and
  ``mace.modules`` likewise in the mace-torch row);
* torch runs with ``torch.set_num_threads(os.cpu_count())``; XLA's CPU client uses every core.

mace-torch's input is built here with plain torch, as its data loader would hand it over
(neighbour lists computed before the timed loop, as ``mace``'s ``AtomicData`` does at data-set
load): every ordered pair closer than r_c in one molecule (``dimenet_pyg._radius_graph``),
``edge_index`` = (sender, receiver), zero shifts, one-hot ``node_attrs`` over (H, C, O),
``batch`` / ``ptr``. Targets as in ``dimenet_pyg.py``: (E − mean E) / F_rms and F / F_rms.

Where the MACE definitions differ (same hyper-parameters, not the same function): mace-torch's
messages carry every l ≤ 3 of the spherical harmonics into the product basis and contract it with
its symmetric contraction (reduced Clebsch–Gordan basis), hybridpot keeps l ≤ L in the messages and
contracts the full tensor-product powers with element-dependent linear maps (more weights: with
C 32, L 1, 122,512 parameters against mace-torch's 93,520, 64,512 of them in the product basis
against 10,944; with C 8, 27,952 against 29,728); mace-torch's first layer maps its message by an
element-dependent tensor product and has no residual self-connection, hybridpot's has one; the
radial MLPs, readouts and embeddings are the same kind in both. So equal sizes, not equal
parameter counts or FLOPs: the ratios compare the two implementations of MACE as each defines it.

Environment (beside hybridpot; the CPU torch wheel, since plain ``torch`` resolves to a CUDA build):
``pip install torch==2.13.0 mace-torch==0.3.16`` (the ``bench`` extra), then

    python benchmarks/equivariant_mace.py --n-frames 128 --torch-steps 4 --json runs/equivariant_mace.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from dimenet_pyg import FORCES_WEIGHT, HYPER, _radius_graph, bench_hybridpot  # the PyG benchmark's sizes, graph, timing

CUTOFF = 5.0
#: The shared sizes of both MACE models (hybridpot keyword names; mace-torch's in mace_torch_model).
MACE_SIZES = dict(sh_lmax=3, num_interactions=2, correlation=3, cutoff=CUTOFF, num_radial=8, envelope_p=6,
                  radial_hidden=(64, 64, 64), readout_hidden=16)


def average_neighbours(frames) -> float:
    """n̄ of the message normalisation: mean neighbours per atom within r_c over the frames."""
    from hybridpot.graph import build_graph
    from hybridpot.models import average_neighbour_count

    return average_neighbour_count([build_graph(r, frames.numbers, CUTOFF) for r in frames.positions])


def hidden_irreps(channels: int, lmax: int) -> str:
    """``Cx0e + Cx1o + …`` up to lmax: the hidden irreps of both MACE models, in e3nn notation."""
    return " + ".join(f"{channels}x{l}{'e' if l % 2 == 0 else 'o'}" for l in range(lmax + 1))


def mace_torch_model(species, channels: int, lmax: int, avg_num_neighbors: float):
    """``mace.modules.MACE`` with the sizes of MACE_SIZES (float32, zero atomic energies)."""
    import torch  # noqa: I001  (mace before e3nn: mace's import lets torch.load read e3nn's constants.pt)
    from mace import modules
    from e3nn import o3

    s = MACE_SIZES
    return modules.MACE(
        r_max=s["cutoff"], num_bessel=s["num_radial"], num_polynomial_cutoff=s["envelope_p"], max_ell=s["sh_lmax"],
        interaction_cls=modules.interaction_classes["RealAgnosticResidualInteractionBlock"],
        interaction_cls_first=modules.interaction_classes["RealAgnosticInteractionBlock"],
        num_interactions=s["num_interactions"], num_elements=len(species),
        hidden_irreps=o3.Irreps(hidden_irreps(channels, lmax)), MLP_irreps=o3.Irreps(f"{s['readout_hidden']}x0e"),
        atomic_energies=np.zeros(len(species)), avg_num_neighbors=avg_num_neighbors, atomic_numbers=list(species),
        correlation=s["correlation"], gate=torch.nn.functional.silu, radial_MLP=list(s["radial_hidden"]),
    )


def mace_batch(frames, idx, species, e_mean: float, f_rms: float) -> dict:
    """mace-torch's input dict for the frames ``idx`` (plain torch), with normalised targets
    ``energy`` [n_graph] and ``forces`` [n_node, 3]."""
    import torch

    n_atoms, n = len(frames.numbers), len(idx)
    pos = torch.tensor(frames.positions[idx].reshape(-1, 3), dtype=torch.float32)
    batch = torch.arange(n).repeat_interleave(n_atoms)
    edge_index = _radius_graph(pos, CUTOFF, batch)  # (sender j, receiver i)
    kinds = torch.tensor([list(species).index(z) for z in frames.numbers]).repeat(n)
    return {
        "positions": pos, "node_attrs": torch.nn.functional.one_hot(kinds, len(species)).to(torch.float32),
        "edge_index": edge_index, "shifts": torch.zeros(edge_index.shape[1], 3),
        "unit_shifts": torch.zeros(edge_index.shape[1], 3), "cell": torch.zeros(3 * n, 3), "batch": batch,
        "ptr": torch.arange(n + 1) * n_atoms,
        "energy": torch.tensor((frames.energy[idx] - e_mean) / f_rms, dtype=torch.float32),
        "forces": torch.tensor(frames.forces[idx].reshape(-1, 3) / f_rms, dtype=torch.float32),
    }


def bench_mace_torch(frames, batch_size: int, lr: float, steps: int, channels: int, lmax: int,
                     avg_num_neighbors: float) -> dict:
    """A plain PyTorch training loop and inference with mace-torch's MACE; timings in seconds."""
    t_import = time.perf_counter()
    import mace.modules  # noqa: F401  (its import, e3nn's included, counts in the first-step time)
    import torch

    torch.set_num_threads(os.cpu_count())
    torch.set_default_dtype(torch.float32)
    torch.manual_seed(0)
    species = tuple(sorted(set(frames.numbers.tolist())))
    model = mace_torch_model(species, channels, lmax, avg_num_neighbors)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    e_mean, f_rms = frames.energy.mean(), np.sqrt(np.mean(frames.forces**2))

    def batches(count):
        """``count`` consecutive batches (wrapping around the frames)."""
        return [mace_batch(frames, np.arange(k * batch_size, (k + 1) * batch_size) % frames.n_frames, species,
                           e_mean, f_rms) for k in range(count)]

    def step(data):
        """One Adam step on MSE(E) + 100·MSE(F)."""
        data = dict(data, positions=data["positions"].clone())  # a fresh leaf: grad of this step only
        out = model(data, training=True, compute_force=True)
        loss = (torch.mean((out["energy"] - data["energy"]) ** 2)
                + FORCES_WEIGHT * torch.mean((out["forces"] - data["forces"]) ** 2))
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    train_batches = batches(steps + 2)
    step(train_batches[0])
    first = time.perf_counter() - t_import
    step(train_batches[1])  # TorchScript's profiling executor (e3nn's code) specialises on the 2nd call
    t0 = time.perf_counter()
    for data in train_batches[2:]:
        step(data)
    train = steps / (time.perf_counter() - t0)
    n_infer = -(-frames.n_frames // batch_size)
    infer_batches = batches(n_infer)
    model(dict(infer_batches[0], positions=infer_batches[0]["positions"].clone()), compute_force=True)  # warm-up
    t0 = time.perf_counter()
    for data in infer_batches:
        model(dict(data, positions=data["positions"].clone()), training=False, compute_force=True)
    infer = n_infer * batch_size / (time.perf_counter() - t0)
    return dict(parameters=sum(p.numel() for p in model.parameters() if p.requires_grad), train_steps_per_s=train,
                infer_structures_per_s=infer, compilations=None, timed_steps=steps, first_step_s=first,
                threads=torch.get_num_threads(), device=f"cpu (torch {torch.__version__}, mace-torch "
                f"{_version('mace-torch')}, {torch.get_num_threads()} threads)")


def _version(package: str) -> str:
    """The installed version of ``package``."""
    from importlib.metadata import version

    return version(package)


def print_table(rows: dict, args, avg_n: float) -> None:
    """The markdown table: one column per model, the ratio hybridpot MACE / mace-torch."""
    ours, peer, dimenet = rows["hybridpot MACE"], rows["mace-torch MACE"], rows.get("hybridpot DimeNet++")
    print(f"\nCPU: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, load average "
          f"{os.getloadavg()[0]:.1f}; hybridpot on {ours['device']}; mace-torch on {peer['device']}")
    print(f"MACE ({hidden_irreps(args.channels, args.lmax)}, sh l ≤ 3, 2 interactions, correlation 3, "
          f"n̄ = {avg_n:.2f}), aspirin, batch {args.batch_size}, float32, energy + forces\n")
    head = "| quantity | hybridpot MACE (JAX) | mace-torch MACE | ratio (hybridpot / mace-torch) |"
    print(head + (" hybridpot DimeNet++ |" if dimenet else ""))
    print("|---|---|---|---|" + ("---|" if dimenet else ""))

    def line(name, key, fmt, ratio=True):
        """One row of the table."""
        cells = [ours[key], peer[key]] + ([dimenet[key]] if dimenet else [])
        text = ["–" if c is None else format(c, fmt) for c in cells]
        r = f"{ours[key] / peer[key]:.2f}×" if ratio and peer[key] else ""
        print(f"| {name} | {text[0]} | {text[1]} | {r} |" + (f" {text[2]} |" if dimenet else ""))

    line("parameters", "parameters", ",d")
    line("training steps/s", "train_steps_per_s", ".3g")
    line("inference structures/s", "infer_structures_per_s", ".3g")
    line("import → first trained step (s)", "first_step_s", ".1f")
    line("timed training steps", "timed_steps", "d", ratio=False)
    line("compilations of the training step", "compilations", "d", ratio=False)
    print(f"\ntorch threads: {peer['threads']} (torch.set_num_threads(os.cpu_count())). The parameter counts "
          "differ because the two MACE definitions differ in detail (module docstring), not in their sizes.")


def main(argv=None):
    """Run the models, print a markdown table, write the rows as JSON if asked."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n-frames", type=int, default=128, help="aspirin frames: the training epoch and the inference set")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--channels", type=int, default=32, help="C: multiplicity of every hidden irrep")
    p.add_argument("--lmax", type=int, default=1, help="L: highest l of the hidden features")
    p.add_argument("--torch-steps", type=int, default=4, help="timed mace-torch steps (after two untimed ones)")
    p.add_argument("--hybridpot-steps", type=int, default=None,
                   help="hybridpot training steps (default: one epoch, at least 3)")
    p.add_argument("--learning-rate", type=float, default=1e-4)
    p.add_argument("--skip-dimenet", action="store_true", help="leave out hybridpot's DimeNet++")
    p.add_argument("--json", default=None, help="write the rows as JSON here")
    args = p.parse_args(argv)

    t0 = time.perf_counter()
    import hybridpot.models
    import hybridpot.train
    from hybridpot.io.md17 import load_md17

    t_import = time.perf_counter() - t0
    frames = load_md17("aspirin").select(np.arange(args.n_frames))
    species = tuple(sorted(set(frames.numbers.tolist())))
    avg_n = average_neighbours(frames)
    steps = args.hybridpot_steps or max(3, -(-frames.n_frames // args.batch_size))
    builds = {"hybridpot MACE": lambda: hybridpot.models.mace(species, channels=args.channels, lmax=args.lmax,
                                                              avg_num_neighbors=avg_n, **MACE_SIZES)}
    if not args.skip_dimenet:
        builds["hybridpot DimeNet++"] = lambda: hybridpot.models.dimenet_pp(species, **HYPER)
    rows = {name: bench_hybridpot(build, frames, args.batch_size, args.learning_rate, steps, t_import)
            for name, build in builds.items()}
    rows["mace-torch MACE"] = bench_mace_torch(frames, args.batch_size, args.learning_rate, args.torch_steps,
                                               args.channels, args.lmax, avg_n)
    print_table(rows, args, avg_n)
    if args.json:
        setup = dict(n_frames=args.n_frames, batch_size=args.batch_size, channels=args.channels, lmax=args.lmax,
                     avg_num_neighbors=avg_n, cpu_count=os.cpu_count())
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps([dict(model=name, **setup, **row) for name, row in rows.items()],
                                              indent=2) + "\n")


if __name__ == "__main__":
    main()
