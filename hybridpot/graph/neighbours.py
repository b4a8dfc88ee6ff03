"""Full (both-direction) neighbour lists with periodic image shifts, computed by vesin.

Edge e has receiver i = ``receivers[e]``, sender j = ``senders[e]`` and Cartesian shift
``shifts[e]`` (Å) such that the edge vector is

    R_j − R_i + shift_e,   shift_e = n_e @ cell  (n_e ∈ ℤ³ the cell offsets),

and |R_j − R_i + shift_e| < cutoff. Both directions of every pair are present, periodic images
of the same atom are included (i == j with shift ≠ 0) and the self pair (i == j, shift 0) is not.
"""

from __future__ import annotations

import os

import numpy as np
import vesin

from hybridpot._checks import check_finite, check_positive, check_shape


def normalise_pbc(pbc) -> np.ndarray:
    """``pbc`` as a ``[3]`` bool array: ``None`` → all False, a bool → broadcast to 3 directions."""
    if pbc is None:
        return np.zeros(3, dtype=bool)
    a = np.asarray(pbc)
    if a.ndim == 0:
        return np.full(3, bool(a))
    check_shape("pbc", a, (3,))
    return a.astype(bool)


def check_cell(cell, pbc: np.ndarray) -> np.ndarray:
    """Validate ``cell`` ([3, 3] Å, rows are lattice vectors) against ``pbc``; return it as float64.

    ``None`` gives the zero cell, allowed only when no direction is periodic. A cell used with any
    periodic direction must be finite and non-singular (vesin needs an invertible box, also for
    mixed pbc: give the non-periodic direction a non-zero vector, e.g. with ``atoms.center(vacuum=...)``).
    """
    if cell is None:
        if pbc.any():
            raise ValueError(f"pbc={pbc.tolist()} needs a cell, got cell=None")
        return np.zeros((3, 3))
    cell = np.asarray(cell, dtype=np.float64)
    check_shape("cell", cell, (3, 3))
    check_finite("cell", cell)
    if pbc.any():
        volume = abs(np.linalg.det(cell))
        scale = float(np.prod(np.linalg.norm(cell, axis=1)))
        if scale == 0.0 or volume <= 1e-10 * scale:
            raise ValueError(
                f"cell is singular (volume {volume:.3g} Å³) but pbc={pbc.tolist()}; a periodic "
                "structure needs three linearly independent lattice vectors (rows of cell)"
            )
    return cell


#: Atoms per chunk of a streamed neighbour search (:func:`neighbour_list`).
CHUNK_ATOMS = 50_000

#: Bytes per directed edge while a streamed list is assembled: the chunks (int32 i, j and int16
#: cell offsets, 14 B) and the result (int32 senders, receivers and float64 shifts, 32 B).
BYTES_PER_EDGE = 46


def available_memory() -> int:
    """Bytes of memory available to a new allocation (``MemAvailable`` of /proc/meminfo, else free pages)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def estimate_edges(positions, cutoff: float, cell=None, pbc=None) -> int:
    """Directed edges a neighbour list of cutoff ``cutoff`` Å will roughly hold: n · ρ · 4/3 π r_c³.

    ρ is the number density in the cell (periodic directions) and in the bounding box, widened
    by the cutoff, along the others: exact on average for a uniform system.
    """
    positions = np.asarray(positions, dtype=np.float64)
    pbc = normalise_pbc(pbc)
    n = positions.shape[0]
    if n == 0:
        return 0
    cell = check_cell(cell, pbc)
    if pbc.any():
        inv = np.linalg.inv(cell)
        spacing = 1.0 / np.linalg.norm(inv, axis=0)
        frac = positions @ inv
        lengths = np.where(pbc, spacing, np.ptp(frac, axis=0) * spacing + cutoff)
    else:
        lengths = np.ptp(positions, axis=0) + cutoff
    density = n / float(np.prod(lengths))
    return int(n * min(density * 4.0 / 3.0 * np.pi * cutoff**3, n))


def _check_fits(n_edge: int, n_atoms: int, cutoff: float, what: str) -> None:
    need, free = n_edge * BYTES_PER_EDGE, available_memory()
    if need > free:
        raise MemoryError(
            f"the neighbour list of {n_atoms} atoms within {cutoff} Å {what} {n_edge:.3g} edges, about "
            f"{need / 2**30:.1f} GiB, but only {free / 2**30:.1f} GiB are available; use fewer atoms, a smaller "
            "cutoff, or a machine with more memory"
        )


def _vesin_pairs(points, cutoff: float, box, periodic):
    """vesin's full list: (i, j, S) as int64 arrays, S ``[n, 3]`` the cell offsets."""
    calculator = vesin.NeighborList(cutoff=float(cutoff), full_list=True)
    i, j, offsets = calculator.compute(points=points, box=box, periodic=list(periodic), quantities="ijS")
    return (np.asarray(i, dtype=np.int64), np.asarray(j, dtype=np.int64),
            np.asarray(offsets, dtype=np.int64).reshape(-1, 3))


def _slab_coordinate(positions, cell, pbc):
    """The direction the streamed search cuts into slabs: (coordinate [n], Å per unit, its lattice
    index or None, periodic): the widest lattice direction (fractional coordinate), or for a
    molecule the Cartesian axis of largest extent."""
    if pbc.any():
        inv = np.linalg.inv(cell)
        spacing = 1.0 / np.linalg.norm(inv, axis=0)
        frac = positions @ inv
        width = np.where(pbc, spacing, np.ptp(frac, axis=0) * spacing)
        d = int(np.argmax(width))
        return frac[:, d], float(spacing[d]), d, bool(pbc[d])
    d = int(np.argmax(np.ptp(positions, axis=0)))
    return positions[:, d], 1.0, None, False


def _streamed_pairs(positions, cutoff: float, cell, pbc, chunk_atoms: int):
    """The list of :func:`neighbour_list` searched slab by slab (None when the system cannot be cut:
    a periodic direction thinner than two cutoffs). Returns (i, j, offsets) sorted by (i, j, offsets)."""
    n = positions.shape[0]
    coord, unit, d, periodic = _slab_coordinate(positions, cell, pbc)
    halo = cutoff / unit
    if periodic and halo >= 0.5:
        return None
    wrap = np.floor(coord).astype(np.int64) if periodic else np.zeros(n, np.int64)
    coord = coord - wrap
    points_all = positions - wrap[:, None] * cell[d] if periodic else positions
    lo, hi = (0.0, 1.0) if periodic else (float(coord.min()), float(np.nextafter(coord.max(), np.inf)))
    n_slab = max(1, min(-(-n // chunk_atoms), int((hi - lo) / halo)))
    edges = np.linspace(lo, hi, n_slab + 1)
    slab_periodic = pbc.copy()
    if d is not None:
        slab_periodic[d] = False
    box = cell if pbc.any() else np.zeros((3, 3))
    images = (-1, 0, 1) if periodic else (0,)
    chunks, counts = [], np.zeros(n, np.int64)
    for a, b in zip(edges[:-1], edges[1:]):
        core = np.flatnonzero((coord >= a) & (coord < b))
        if core.size == 0:
            continue
        index, image = [core], [np.zeros(core.size, np.int64)]
        for k in images:
            c = coord + k
            near = np.flatnonzero((c >= a - halo) & (c < b + halo) & ~((k == 0) & (coord >= a) & (coord < b)))
            index.append(near)
            image.append(np.full(near.size, k, np.int64))
        index, image = np.concatenate(index), np.concatenate(image)
        points = points_all[index] + (image[:, None] * cell[d] if periodic else 0.0)
        i, j, offsets = _vesin_pairs(points, cutoff, box, slab_periodic)
        keep = i < core.size
        i, j, offsets = i[keep], j[keep], offsets[keep]
        gi, gj = index[i], index[j]
        if periodic:
            offsets[:, d] += image[j] - wrap[gj] + wrap[gi]
        order = np.lexsort((offsets[:, 2], offsets[:, 1], offsets[:, 0], gj, gi))
        small = np.int16 if offsets.size == 0 or np.abs(offsets).max() < 2**15 else np.int64
        chunks.append((gi[order].astype(np.int32), gj[order].astype(np.int32), offsets[order].astype(small)))
        counts += np.bincount(gi, minlength=n)
        del i, j, offsets, gi, gj, order, points
    return chunks, counts


def neighbour_list(positions, cutoff: float, cell=None, pbc=None, *, chunk_atoms: int | None = None):
    """All directed pairs closer than ``cutoff``, with periodic image shifts.

    Args:
        positions: ``[n_node, 3]`` Å.
        cutoff: Å, > 0.
        cell: ``[3, 3]`` Å, rows are lattice vectors; ``None`` for a molecule.
        pbc: ``[3]`` bool or a single bool; ``None`` means no periodicity. Mixed pbc is supported.

    Returns:
        ``(senders, receivers, shifts)`` as numpy arrays: ``senders, receivers: [n_edge] int32``,
        ``shifts: [n_edge, 3]`` Å float64 with edge vector ``R[senders] − R[receivers] + shifts``.
        Sorted by receiver, then sender, then integer cell offset (deterministic).

    Above ``chunk_atoms`` atoms (default :data:`CHUNK_ATOMS`) the search streams: the system is cut
    into slabs along its widest direction and vesin searches one slab (with a halo of one cutoff)
    at a time, so memory holds ≈ 46 bytes per edge (:data:`BYTES_PER_EDGE`) rather than vesin's
    and the sort's temporaries for all edges at once; the list is the same.

    Raises:
        MemoryError: naming the atoms, cutoff, estimated edges and GiB needed and available, when
            the list would not fit in the available memory (checked before the search, by
            :func:`estimate_edges`, and before the result is allocated).
    """
    positions = np.asarray(positions, dtype=np.float64)
    check_shape("positions", positions, (None, 3))
    check_finite("positions", positions)
    check_positive("cutoff", cutoff)
    pbc = normalise_pbc(pbc)
    cell = check_cell(cell, pbc)
    n = positions.shape[0]
    if n == 0:
        return np.zeros(0, np.int32), np.zeros(0, np.int32), np.zeros((0, 3))
    chunk_atoms = CHUNK_ATOMS if chunk_atoms is None else int(chunk_atoms)
    _check_fits(estimate_edges(positions, cutoff, cell, pbc), n, cutoff, "would hold about")
    streamed = _streamed_pairs(positions, cutoff, cell, pbc, chunk_atoms) if n > chunk_atoms else None
    if streamed is None:
        i, j, offsets = _vesin_pairs(positions, cutoff, cell if pbc.any() else np.zeros((3, 3)), pbc)
        order = np.lexsort((offsets[:, 2], offsets[:, 1], offsets[:, 0], j, i))
        i, j, offsets = i[order], j[order], offsets[order]
        return j.astype(np.int32), i.astype(np.int32), offsets.astype(np.float64) @ cell
    chunks, counts = streamed
    n_edge = int(counts.sum())
    _check_fits(n_edge, n, cutoff, "holds")
    start = np.concatenate([[0], np.cumsum(counts)[:-1]])
    senders = np.empty(n_edge, np.int32)
    receivers = np.empty(n_edge, np.int32)
    shifts = np.empty((n_edge, 3))
    while chunks:
        i, j, offsets = chunks.pop(0)
        first = np.searchsorted(i, i, side="left")  # rows of one receiver are contiguous within a chunk
        dest = start[i] + np.arange(i.size) - first
        senders[dest], receivers[dest], shifts[dest] = j, i, offsets @ cell
    return senders, receivers, shifts
