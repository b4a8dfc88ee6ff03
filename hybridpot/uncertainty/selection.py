r"""Which unlabelled configurations to label next: high uncertainty, but not all alike.

Picking the k most uncertain frames of an MD run tends to pick k neighbouring frames of one
excursion. :func:`select_uncertain_diverse` keeps the ``oversample·k`` most uncertain candidates
and picks k of them by farthest-point sampling in a structure fingerprint space, starting from
the most uncertain one (the batch-mode selection of e.g. Zaverkin et al., Digital Discovery 1,
605 (2022), with a simple fingerprint).

:func:`pair_distance_fingerprint` is that fingerprint: for every element pair (s, t), a
Gaussian-smeared histogram of the interatomic distances below ``cutoff``, per atom,

.. math::
    h_{st}(r_b) = \frac{1}{N} \sum_{i: Z_i = s} \sum_{j \ne i: Z_j = t,\, r_{ij} < r_c}
                  e^{-(r_{ij} - r_b)^2 / 2w^2},

a model-independent descriptor of composition and local order (Å grid, dimensionless values).
Any other ``[n, d]`` feature matrix (e.g. mean Behler–Parrinello descriptors) can be passed instead.
"""

from __future__ import annotations

import numpy as np

from hybridpot._checks import check_finite
from hybridpot.graph.neighbours import neighbour_list
from hybridpot.models.descriptors import pair_index_table


def pair_distance_fingerprint(positions, numbers, species, *, cutoff: float = 5.0, n_bins: int = 24,
                              width: float | None = None, cell=None, pbc=None) -> np.ndarray:
    """Element-pair distance histogram of one structure (see the module docstring).

    Args:
        positions: ``[n, 3]`` Å.
        numbers: ``[n]`` atomic numbers, each in ``species``.
        species: atomic numbers of the element pairs, e.g. ``(13, 28)``.
        cutoff: largest distance, Å.
        n_bins: grid points in (0, cutoff].
        width: Gaussian width w, Å (default: the grid spacing).
        cell, pbc: periodic cell (rows, Å) and flags, as in :func:`hybridpot.graph.neighbour_list`.

    Returns:
        ``[S(S+1)/2 · n_bins]``, pair blocks in the order (0,0), (0,1), …, (1,1), …
    """
    numbers = np.asarray(numbers)
    species = tuple(int(z) for z in species)
    unknown = sorted(set(numbers.tolist()) - set(species))
    if unknown:
        raise ValueError(f"elements {unknown} are not in species {list(species)}")
    grid = np.linspace(cutoff / n_bins, cutoff, n_bins)
    width = float(grid[1] - grid[0]) if width is None else float(width)
    s_count = len(species)
    index = {z: k for k, z in enumerate(species)}
    pair = pair_index_table(s_count)
    senders, receivers, shifts = neighbour_list(positions, cutoff, cell, pbc)
    pos = np.asarray(positions, np.float64)
    r = np.linalg.norm(pos[senders] - pos[receivers] + shifts, axis=1)
    spec = np.array([index[int(z)] for z in numbers], np.int64)
    block = pair[spec[receivers], spec[senders]] if r.size else np.zeros(0, np.int64)
    out = np.zeros((s_count * (s_count + 1) // 2, n_bins))
    np.add.at(out, block, np.exp(-0.5 * ((r[:, None] - grid[None, :]) / width) ** 2))
    return out.reshape(-1) / max(len(numbers), 1)


def farthest_point_order(features, start: int, k: int) -> np.ndarray:
    """``[k]`` indices of rows of ``features`` ``[n, d]`` by greedy farthest-point sampling from
    row ``start``: each next row maximises its Euclidean distance to the rows already taken."""
    x = np.asarray(features, np.float64)
    if x.ndim != 2:
        raise ValueError(f"features must have shape [n, d], got {list(x.shape)}")
    check_finite("features", x)
    n = x.shape[0]
    if not 0 <= start < n:
        raise ValueError(f"start {start} out of range for {n} rows")
    k = min(int(k), n)
    chosen = [int(start)]
    dist = np.linalg.norm(x - x[start], axis=1)
    dist[start] = -np.inf
    while len(chosen) < k:
        nxt = int(np.argmax(dist))
        chosen.append(nxt)
        dist = np.minimum(dist, np.linalg.norm(x - x[nxt], axis=1))
        dist[chosen] = -np.inf
    return np.asarray(chosen, np.int64)


def select_uncertain_diverse(uncertainty, features, k: int, *, oversample: float = 4.0) -> np.ndarray:
    """``[k]`` indices to label: farthest-point sampling (in ``features`` ``[n, d]``) among the
    ``ceil(oversample·k)`` candidates with the largest ``uncertainty`` ``[n]``, starting from the
    most uncertain. ``oversample=1`` gives the top k; a large value, pure diversity.

    Features are standardised (per column, over the pool) first, so every column counts alike.
    """
    u = np.asarray(uncertainty, np.float64).reshape(-1)
    x = np.asarray(features, np.float64)
    if x.ndim != 2 or x.shape[0] != u.size:
        raise ValueError(f"features must have shape [{u.size}, d] to match uncertainty, got {list(x.shape)}")
    check_finite("uncertainty", u)
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if oversample < 1:
        raise ValueError(f"oversample must be >= 1, got {oversample}")
    n_pool = min(u.size, int(np.ceil(oversample * k)))
    pool = np.argsort(-u, kind="stable")[:n_pool]
    xp = x[pool]
    spread = xp.std(axis=0)
    xp = (xp - xp.mean(axis=0)) / np.where(spread > 0, spread, 1.0)
    return pool[farthest_point_order(xp, 0, k)]
