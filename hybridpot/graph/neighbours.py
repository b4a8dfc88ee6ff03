"""Full (both-direction) neighbour lists with periodic image shifts, computed by vesin.

Edge e has receiver i = ``receivers[e]``, sender j = ``senders[e]`` and Cartesian shift
``shifts[e]`` (Å) such that the edge vector is

    R_j − R_i + shift_e,   shift_e = n_e @ cell  (n_e ∈ ℤ³ the cell offsets),

and |R_j − R_i + shift_e| < cutoff. Both directions of every pair are present, periodic images
of the same atom are included (i == j with shift ≠ 0) and the self pair (i == j, shift 0) is not.
"""

from __future__ import annotations

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


def neighbour_list(positions, cutoff: float, cell=None, pbc=None):
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
    box = cell if pbc.any() else np.zeros((3, 3))
    calculator = vesin.NeighborList(cutoff=float(cutoff), full_list=True)
    i, j, offsets = calculator.compute(
        points=positions, box=box, periodic=pbc.tolist(), quantities="ijS"
    )
    i = np.asarray(i, dtype=np.int64)
    j = np.asarray(j, dtype=np.int64)
    offsets = np.asarray(offsets, dtype=np.int64).reshape(-1, 3)
    order = np.lexsort((offsets[:, 2], offsets[:, 1], offsets[:, 0], j, i))
    i, j, offsets = i[order], j[order], offsets[order]
    shifts = offsets.astype(np.float64) @ cell
    return j.astype(np.int32), i.astype(np.int32), shifts
