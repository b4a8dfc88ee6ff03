"""Structures → ``jraph.GraphsTuple`` (host-side numpy in, ``jnp`` arrays out).

Layout (one graph, ``n_graph = 1``)::

    nodes   = {"positions": [n_node, 3] Å float, "atomic_numbers": [n_node] int32}
    edges   = {"shifts": [n_edge, 3] Å float}        # Cartesian image shift, zeros for molecules
    globals = {"cell": [1, 3, 3] Å, "pbc": [1, 3] bool}   # cell rows are lattice vectors
    senders, receivers: [n_edge] int32               # edge vector R[senders] − R[receivers] + shift

The cell is stored as zeros when no direction is periodic.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import jraph
import numpy as np

from hybridpot._checks import check_finite, check_positive, check_shape
from hybridpot.graph.neighbours import check_cell, neighbour_list, normalise_pbc
from hybridpot.validation import MIN_DISTANCE, check_atomic_numbers, check_cell_for_cutoff, check_close_pairs


def _atomic_numbers(atomic_numbers, n: int) -> np.ndarray:
    """Atomic numbers as ``[n] int32``; accepts integers or chemical symbols known to ASE."""
    a = np.asarray(atomic_numbers)
    if a.ndim != 1 or a.shape[0] != n:
        raise ValueError(
            f"atomic_numbers must have shape [{n}] to match positions [{n}, 3], got {list(a.shape)}"
        )
    if a.dtype.kind in "US":
        from ase.data import atomic_numbers as symbol_to_z

        unknown = [str(s) for s in a if str(s) not in symbol_to_z or symbol_to_z[str(s)] == 0]
        if unknown:
            raise ValueError(f"unknown element symbol(s) {sorted(set(unknown))}")
        return np.array([symbol_to_z[str(s)] for s in a], dtype=np.int32)
    return check_atomic_numbers(a, None, "atomic_numbers")


def _closest_edge(positions, senders, receivers, shifts, chunk: int = 1 << 20) -> tuple[int, float]:
    """(edge, its length in Å) of the shortest edge, a chunk of edges at a time (bounded memory)."""
    best, best_sq = 0, np.inf
    for start in range(0, len(senders), chunk):
        part = slice(start, start + chunk)
        vectors = positions[senders[part]] - positions[receivers[part]] + shifts[part]
        sq = np.einsum("ij,ij->i", vectors, vectors)
        k = int(np.argmin(sq))
        if sq[k] < best_sq:
            best, best_sq = start + k, float(sq[k])
    return best, float(np.sqrt(best_sq))


def build_graph(
    positions,
    atomic_numbers,
    cutoff: float,
    cell=None,
    pbc=None,
    *,
    min_distance: float = MIN_DISTANCE,
    dtype=None,
    host: bool = False,
) -> jraph.GraphsTuple:
    """One structure as a single-graph ``GraphsTuple`` with a full neighbour list.

    Args:
        positions: ``[n_node, 3]`` Å, finite.
        atomic_numbers: ``[n_node]`` integers in 1..118 (or element symbols).
        cutoff: neighbour cutoff, Å, > 0.
        cell: ``[3, 3]`` Å, rows are lattice vectors; required when any ``pbc``; ``None`` for molecules.
        pbc: ``[3]`` bool or a bool; ``None`` → non-periodic.
        min_distance: Å; raise if two atoms (or an atom and a periodic image) are closer.
        dtype: float dtype of positions/shifts/cell; default: that of ``positions`` when it is a
            floating numpy array, else float64 (stored as float32 by jnp unless x64 is enabled).
        host: numpy arrays (with the dtypes JAX would give them) instead of device arrays, for
            batching on the host: no transfer to the device and back.

    Returns:
        ``jraph.GraphsTuple`` with the layout in the module docstring.

    Raises:
        ValueError: naming the problem (shape, NaN/inf, unknown element, cutoff, cell, close atoms).

    Warns:
        hybridpot.validation.InputWarning: a periodic cell far smaller than the cutoff.
    """
    if dtype is None:
        p = np.asarray(positions)
        dtype = p.dtype if p.dtype.kind == "f" else np.float64
    positions = np.asarray(positions, dtype=np.float64)
    check_shape("positions", positions, (None, 3))
    check_finite("positions", positions)
    n = positions.shape[0]
    numbers = _atomic_numbers(atomic_numbers, n)
    check_positive("cutoff", cutoff)
    check_finite("cutoff", np.asarray(cutoff, dtype=np.float64))
    pbc = normalise_pbc(pbc)
    cell = check_cell(cell, pbc)
    if not pbc.any():
        cell = np.zeros((3, 3))
    check_cell_for_cutoff(cell, pbc, cutoff)
    senders, receivers, shifts = neighbour_list(positions, cutoff, cell, pbc)

    if len(senders):
        # the shortest edge, found a chunk at a time (bounded memory); one message for all callers
        k, distance = _closest_edge(positions, senders, receivers, shifts)
        check_close_pairs([distance], receivers[k:k + 1], senders[k:k + 1], min_distance=min_distance)

    graph = jraph.GraphsTuple(
        nodes={"positions": positions.astype(dtype), "atomic_numbers": np.asarray(numbers)},
        edges={"shifts": shifts.astype(dtype)},
        senders=np.asarray(senders, dtype=np.int32),
        receivers=np.asarray(receivers, dtype=np.int32),
        globals={"cell": cell.astype(dtype)[None], "pbc": np.asarray(pbc)[None]},
        n_node=np.asarray([n], dtype=np.int32),
        n_edge=np.asarray([len(senders)], dtype=np.int32),
    )
    if host:
        return jax.tree.map(lambda x: x.astype(jax.dtypes.canonicalize_dtype(x.dtype), copy=False), graph)
    return jax.tree.map(jnp.asarray, graph)


def graph_from_atoms(atoms, cutoff: float, **kwargs) -> jraph.GraphsTuple:
    """``build_graph`` for an ASE ``Atoms`` (positions, numbers, cell, pbc); ``kwargs`` go to it."""
    return build_graph(
        atoms.get_positions(),
        atoms.get_atomic_numbers(),
        cutoff,
        cell=np.asarray(atoms.get_cell()),
        pbc=np.asarray(atoms.get_pbc()),
        **kwargs,
    )
