"""Structures with reference labels → padded graph batches: shuffling, buckets, prefetch.

Pipeline (all host-side numpy, so nothing here compiles):

1. :class:`Dataset`: structures with energy (eV), forces (eV/Å) and optional stress (eV/Å³).
2. :class:`GraphSet`: one graph per structure (``hybridpot.graph.build_graph`` with the model's
   cutoff), triplet counts when the model needs triplets, sizes for bucket choice.
3. :func:`make_buckets`: a few :class:`~hybridpot.graph.PaddingBuckets` sizes for the largest
   possible sub-batch, so a run compiles at most ``n_buckets`` times.
4. :func:`collate`: structure indices ``[n_seeds][n_shards][k]`` → one :class:`Batch` with leading
   axes ``[n_seeds, n_shards]``, every sub-batch padded to the *same* bucket (the smallest that
   fits them all).
5. :func:`epoch_order` / :func:`batch_indices`: the data order, a pure function of a PRNG key and
   the epoch (so a run resumes exactly), and :func:`prefetch`: a background thread.
"""

from __future__ import annotations

import queue
import threading
from typing import Iterator, NamedTuple, Sequence

import jax
import jraph
import numpy as np

from hybridpot.graph import PaddingBuckets, build_graph, build_triplets, pad_triplets
from hybridpot.graph.triplets import Triplets
from hybridpot.structures import Dataset
from hybridpot.validation import check_atomic_numbers


class Batch(NamedTuple):
    """Padded graphs with their labels. Leading axes (e.g. ``[n_seeds, n_shards]``) come first.

    Attributes:
        graph: ``jraph.GraphsTuple`` padded to a bucket (padding nodes have atomic number 0).
        triplets: :class:`~hybridpot.graph.Triplets` padded to the bucket, or None.
        energy: ``[n_graph]`` eV (0 for padding graphs).
        forces: ``[n_node, 3]`` eV/Å (0 where absent).
        has_forces: ``[n_graph]`` bool.
        stress: ``[n_graph, 3, 3]`` eV/Å³ (0 where absent).
        has_stress: ``[n_graph]`` bool.
        n_atoms: ``[n_graph]`` atoms per graph (float, 0 for padding).
        index: ``[n_graph]`` int, structure index in its dataset (−1 for padding).
    """

    graph: jraph.GraphsTuple
    triplets: Triplets | None
    energy: np.ndarray
    forces: np.ndarray
    has_forces: np.ndarray
    stress: np.ndarray
    has_stress: np.ndarray
    n_atoms: np.ndarray
    index: np.ndarray


class GraphSet:
    """Graphs (numpy) and labels of a :class:`Dataset`, built once for a model's cutoff.

    Args:
        dataset: the structures.
        cutoff: Å.
        needs_triplets: count triplets per structure (for bucket sizes).
        species: allowed atomic numbers (None: any); others raise ``ValueError`` naming them.
        dtype: float dtype of positions, cell, shifts and labels.
    """

    def __init__(self, dataset: Dataset, cutoff: float, needs_triplets: bool = False,
                 species: Sequence[int] | None = None, dtype=np.float32):
        self.dataset = dataset
        self.needs_triplets = needs_triplets
        self.dtype = np.dtype(dtype)
        for k, s in enumerate(dataset.structures):
            check_atomic_numbers(s.numbers, species, f"structure {k}")
        self.graphs = []
        n_triplet = []
        for k, s in enumerate(dataset.structures):
            try:
                g = build_graph(s.positions, s.numbers, cutoff, cell=s.cell, pbc=s.pbc, dtype=np.float64, host=True)
            except ValueError as err:
                raise ValueError(f"structure {k}: {err}") from err
            g = g._replace(
                nodes={"positions": s.positions.astype(self.dtype), "atomic_numbers": g.nodes["atomic_numbers"]},
                edges={"shifts": g.edges["shifts"].astype(self.dtype)},
                globals={"cell": g.globals["cell"].astype(self.dtype), "pbc": g.globals["pbc"],
                         "charge": np.array([s.charge], self.dtype)},  # total charge, e (learned charges)
            )
            self.graphs.append(g)
            n_triplet.append(int(np.asarray(build_triplets(g).kj).shape[0]) if needs_triplets else 0)
        self.n_node = np.array([len(s.numbers) for s in dataset.structures])
        self.n_edge = np.array([int(g.n_edge[0]) for g in self.graphs])
        self.n_triplet = np.array(n_triplet)
        self.energy = np.array([s.energy for s in dataset.structures], self.dtype)

    def __len__(self) -> int:
        return len(self.graphs)


def make_buckets(sets: Sequence[GraphSet], per_shard: int, n_buckets: int, ratio: float) -> PaddingBuckets:
    """Buckets for sub-batches of up to ``per_shard`` structures from any of ``sets``.

    The largest bucket holds the ``per_shard`` largest structures (nodes, edges, triplets counted
    separately), the others shrink by ``ratio``; every bucket has ``per_shard + 1`` graphs.
    """
    def top(values):
        return int(np.sort(values)[::-1][:per_shard].sum())

    n_node = np.concatenate([s.n_node for s in sets])
    n_edge = np.concatenate([s.n_edge for s in sets])
    n_trip = np.concatenate([s.n_triplet for s in sets])
    return PaddingBuckets.geometric(
        top(n_node), max(top(n_edge), 1), per_shard + 1, max_n_triplet=top(n_trip),
        n_buckets=n_buckets, ratio=ratio,
    )


def _empty_graph(like: jraph.GraphsTuple) -> jraph.GraphsTuple:
    return jax.tree.map(lambda x: np.zeros((0,) + x.shape[1:], x.dtype), like)


def _sub_batch(gs: GraphSet, idx: np.ndarray):
    graphs = [gs.graphs[i] for i in idx]
    graph = jraph.batch_np(graphs) if graphs else _empty_graph(gs.graphs[0])
    return graph


def collate(gs: GraphSet, indices: Sequence[Sequence[np.ndarray]], buckets: PaddingBuckets) -> Batch:
    """Pad and stack sub-batches ``indices[a][b]`` (structure indices) into a :class:`Batch`.

    All sub-batches are padded to the smallest bucket that fits every one of them; the result has
    leading axes ``[len(indices), len(indices[0])]``.
    """
    flat = [np.asarray(i, dtype=np.int64) for row in indices for i in row]
    sizes = np.array([[gs.n_node[i].sum(), gs.n_edge[i].sum(), len(i), gs.n_triplet[i].sum()] for i in flat])
    bucket = buckets.choose(*(int(v) for v in sizes.max(axis=0)))
    parts = []
    for idx in flat:
        graph = _sub_batch(gs, idx)
        real_edge = int(np.sum(graph.n_edge))
        padded = jraph.pad_with_graphs(graph, bucket.n_node, bucket.n_edge, bucket.n_graph)
        triplets = None
        if gs.needs_triplets:
            triplets = pad_triplets(build_triplets(graph), bucket.n_triplet, padding_edge=real_edge, n_graph=bucket.n_graph)
        ng, nn = bucket.n_graph, bucket.n_node
        energy = np.zeros(ng, gs.dtype)
        forces = np.zeros((nn, 3), gs.dtype)
        has_forces = np.zeros(ng, bool)
        stress = np.zeros((ng, 3, 3), gs.dtype)
        has_stress = np.zeros(ng, bool)
        n_atoms = np.zeros(ng, gs.dtype)
        index = np.full(ng, -1, np.int64)
        start = 0
        for j, i in enumerate(idx):
            s = gs.dataset.structures[i]
            n = len(s.numbers)
            energy[j], n_atoms[j], index[j] = s.energy, n, i
            if s.forces is not None:
                forces[start : start + n], has_forces[j] = s.forces, True
            if s.stress is not None:
                stress[j], has_stress[j] = s.stress, True
            start += n
        parts.append(Batch(padded, triplets, energy, forces, has_forces, stress, has_stress, n_atoms, index))
    n_a, n_b = len(indices), len(indices[0])
    stacked = jax.tree.map(lambda *xs: np.stack(xs).reshape((n_a, n_b) + xs[0].shape), *parts)
    return stacked


def epoch_order(data_key: np.ndarray, epoch: int, n: int, shuffle: bool = True) -> np.ndarray:
    """``[n]`` permutation of the structures for ``epoch``: a pure function of the key data and epoch."""
    if not shuffle:
        return np.arange(n)
    key = np.asarray(data_key, dtype=np.uint32).ravel().tolist()
    return np.random.default_rng(key + [int(epoch)]).permutation(n)


def steps_per_epoch(n: int, batch_size: int) -> int:
    """Optimisation steps per pass over ``n`` structures (the last batch may be smaller)."""
    return -(-n // batch_size)


def batch_indices(data_keys: Sequence[np.ndarray], step: int, n: int, batch_size: int, n_shards: int,
                  shuffle: bool = True) -> list[list[np.ndarray]]:
    """Structure indices ``[n_seeds][n_shards][k]`` of global step ``step`` (0-based).

    Each member's epoch order comes from its data key; the batch of ``batch_size`` is split into
    ``n_shards`` near-equal contiguous parts.
    """
    per_epoch = steps_per_epoch(n, batch_size)
    epoch, pos = divmod(int(step), per_epoch)
    out = []
    for key in data_keys:
        order = epoch_order(key, epoch, n, shuffle)
        chunk = order[pos * batch_size : (pos + 1) * batch_size]
        out.append(np.array_split(chunk, n_shards))
    return out


def sequential_batches(n: int, batch_size: int, n_shards: int) -> list[list[np.ndarray]]:
    """Fixed-order sub-batch indices ``[n_batches][n_shards][k]`` for evaluation."""
    return [np.array_split(np.arange(s, min(s + batch_size, n)), n_shards) for s in range(0, n, batch_size)]


_DONE = object()


def prefetch(iterator: Iterator, size: int) -> Iterator:
    """Run ``iterator`` in a background thread, ``size`` items ahead (0: in the caller's thread).

    Items arrive in order; an exception in the producer is re-raised in the consumer. Closing the
    returned generator (or dropping it) stops the thread.
    """
    if size <= 0:
        yield from iterator
        return
    q: queue.Queue = queue.Queue(maxsize=size)
    stop = threading.Event()

    def produce():
        try:
            for item in iterator:
                while not stop.is_set():
                    try:
                        q.put((True, item), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put((True, _DONE))
        except BaseException as err:  # noqa: BLE001 - handed to the consumer
            q.put((False, err))

    thread = threading.Thread(target=produce, daemon=True, name="hybridpot-prefetch")
    thread.start()
    try:
        while True:
            ok, item = q.get()
            if not ok:
                raise item
            if item is _DONE:
                return
            yield item
    finally:
        stop.set()
        while thread.is_alive():
            try:
                q.get_nowait()
            except queue.Empty:
                pass
            thread.join(timeout=0.05)
