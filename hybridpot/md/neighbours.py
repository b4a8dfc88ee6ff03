"""Neighbour lists for molecular dynamics: reused between steps, padded with headroom.

:class:`PaddedGraphBuilder` turns a sequence of configurations of the *same* atoms into graphs
of fixed padded size, so a compiled energy function is reused step after step:

* **Verlet skin.** Candidate pairs are searched (vesin) within ``cutoff + skin`` and kept while
  no atom has moved more than ``skin / 2`` since the search and the cell, pbc and atomic numbers
  are unchanged. Each step keeps only the candidates closer than ``cutoff`` (a numpy filter), so
  the graph is exactly the one :func:`hybridpot.graph.build_graph` would give, for any model.
* **Headroom.** The padded edge (and triplet) capacity is ``headroom`` × the count when it is
  (re)sized; it only grows, and a new size means one new compilation. Nodes are padded to
  ``n_atoms + 1`` (or, with ``pad_nodes``, to a node capacity that grows the same way, for a
  system whose atom count changes, such as a LAMMPS subdomain with its ghosts) and graphs to 2
  (the structure and one padding graph), in the layout of :mod:`hybridpot.graph.batch`.
"""

from __future__ import annotations

import math

import jax
import jraph
import numpy as np

from hybridpot._checks import check_finite, check_shape
from hybridpot.graph import build_triplets, pad_triplets
from hybridpot.graph.neighbours import check_cell, neighbour_list, normalise_pbc
from hybridpot.validation import check_cell_for_cutoff, check_close_pairs


class PaddedGraphBuilder:
    """Fixed-size padded graphs of one system along a trajectory (host-side numpy).

    Args:
        cutoff: model cutoff, Å.
        skin: Verlet skin, Å (≥ 0; 0 searches every step).
        headroom: capacity factor (≥ 1) applied when the edge/triplet capacity is (re)sized.
        needs_triplets: also build padded triplets.
        dtype: float dtype of positions, shifts and cell.
        pad_nodes: pad nodes to a capacity grown with ``headroom`` (else to ``n_atoms + 1``).

    Attributes:
        n_searches: neighbour searches done (the rest reused the candidate list).
        n_resizes: times the padded capacity changed (each is a new shape).
    """

    def __init__(self, cutoff: float, skin: float = 0.5, headroom: float = 1.25, needs_triplets: bool = False,
                 dtype=np.float64, pad_nodes: bool = False):
        if not cutoff > 0:
            raise ValueError(f"cutoff must be > 0 Å, got {cutoff}")
        if not skin >= 0:
            raise ValueError(f"skin must be >= 0 Å, got {skin}")
        if not headroom >= 1:
            raise ValueError(f"headroom must be >= 1, got {headroom}")
        self.cutoff, self.skin, self.headroom = float(cutoff), float(skin), float(headroom)
        self.needs_triplets = needs_triplets
        self.dtype = np.dtype(dtype)
        self.n_searches = 0
        self.n_resizes = 0
        self._ref = None  # (positions, cell, pbc, numbers) of the last search
        self._candidates = None  # (senders, receivers, shifts)
        self._edge_capacity = 0
        self._triplet_capacity = 0
        self._node_capacity = 0
        self.pad_nodes = bool(pad_nodes)

    def invalidate(self) -> None:
        """Search again at the next call (the atoms were renumbered: same count, other order)."""
        self._ref = None

    def _needs_search(self, positions, cell, pbc, numbers) -> bool:
        if self._ref is None:
            return True
        ref_pos, ref_cell, ref_pbc, ref_numbers = self._ref
        if ref_pos.shape != positions.shape or not np.array_equal(ref_numbers, numbers):
            return True
        if not np.array_equal(ref_pbc, pbc) or not np.array_equal(ref_cell, cell):
            return True
        moved = np.max(np.linalg.norm(positions - ref_pos, axis=1)) if len(positions) else 0.0
        return bool(moved > 0.5 * self.skin)

    def _grow(self, current: int, needed: int) -> int:
        if needed <= current:
            return current
        self.n_resizes += 1
        return max(needed, int(math.ceil(self.headroom * needed)))

    def __call__(self, positions, numbers, cell=None, pbc=None):
        """The padded graph (and triplets) of one configuration.

        Args:
            positions: ``[n, 3]`` Å.
            numbers: ``[n]`` atomic numbers.
            cell: ``[3, 3]`` Å (rows are lattice vectors) or None.
            pbc: ``[3]`` bool or None.

        Returns:
            ``(graph, triplets)``: a ``jraph.GraphsTuple`` of numpy arrays with ``n_node = n + 1``,
            ``n_edge`` = the edge capacity, 2 graphs; ``triplets`` padded, or None.

        Raises:
            ValueError: positions that are not ``[n, 3]`` and finite, a bad cell, or two atoms closer
                than :data:`hybridpot.validation.MIN_DISTANCE` (the checks of
                :mod:`hybridpot.validation`, as for :func:`hybridpot.graph.build_graph`).
        """
        positions = np.asarray(positions, np.float64)
        check_shape("positions", positions, (None, 3))
        check_finite("positions", positions)
        numbers = np.asarray(numbers, np.int32)
        pbc = normalise_pbc(pbc)
        cell = check_cell(cell, pbc) if cell is not None else np.zeros((3, 3))
        if not pbc.any():
            cell = np.zeros((3, 3))
        if self._needs_search(positions, cell, pbc, numbers):
            check_cell_for_cutoff(cell, pbc, self.cutoff)
            self._candidates = neighbour_list(positions, self.cutoff + self.skin, cell, pbc)
            self._ref = (positions.copy(), cell.copy(), pbc.copy(), numbers.copy())
            self.n_searches += 1
        senders, receivers, shifts = self._candidates
        vectors = positions[senders] - positions[receivers] + shifts
        d2 = np.einsum("ij,ij->i", vectors, vectors)
        keep = d2 < self.cutoff**2
        senders, receivers, shifts = senders[keep], receivers[keep], shifts[keep]
        check_close_pairs(np.sqrt(d2[keep]), receivers, senders, "the atoms")
        n, n_edge = len(numbers), int(keep.sum())
        self._edge_capacity = self._grow(self._edge_capacity, n_edge + 1)
        graph = jraph.GraphsTuple(
            nodes={"positions": positions.astype(self.dtype), "atomic_numbers": numbers},
            edges={"shifts": shifts.astype(self.dtype)},
            globals={"cell": cell.astype(self.dtype)[None], "pbc": pbc[None]},
            senders=senders.astype(np.int32), receivers=receivers.astype(np.int32),
            n_node=np.array([n], np.int32), n_edge=np.array([n_edge], np.int32),
        )
        triplets = None
        if self.needs_triplets:
            triplets = build_triplets(graph)
            n_triplet = int(np.asarray(triplets.kj).shape[0])
            self._triplet_capacity = self._grow(self._triplet_capacity, n_triplet)
            triplets = pad_triplets(triplets, self._triplet_capacity, padding_edge=n_edge, n_graph=2)
            triplets = jax.tree.map(np.asarray, triplets)
        if self.pad_nodes:
            self._node_capacity = self._grow(self._node_capacity, n + 1)
        padded = jraph.pad_with_graphs(graph, self._node_capacity if self.pad_nodes else n + 1, self._edge_capacity, 2)
        return padded, triplets
