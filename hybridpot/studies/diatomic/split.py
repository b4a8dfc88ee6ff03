"""The nested training sets of El Haloui, Thome & Sisourat (2025) for a curve of N points."""

from __future__ import annotations

import numpy as np


def nested_training_sets(n_points: int, n_sets: int = 8, percent_step: int = 5) -> list[np.ndarray]:
    """Nested training-set indices by the paper's quadratic-spacing rule.

    For i = 1..n_sets: total = int(N·percent_step/100)·i; the points still unselected are
    sorted, ``s = linspace(0, sqrt(len(rest) − 1), total − len(selected))`` and the indices
    ``unique(floor(s²))`` of ``rest`` are added. Points are denser at small r, where the curve
    varies most. For N = 164 the first set is [0, 3, 13, 29, 53, 83, 119, 162].

    Args:
        n_points: N, the number of points of the curve (sorted by distance).
        n_sets: number of nested sets (8: 5 %, 10 %, …, 40 %).
        percent_step: percentage step between sets.
    Returns:
        ``n_sets`` sorted index arrays, each containing the previous one.
    """
    if n_points < 2:
        raise ValueError(f"need at least 2 points to split, got {n_points}")
    per_step = int(n_points * percent_step / 100)
    if per_step < 1 or per_step * n_sets >= n_points:
        raise ValueError(f"cannot take {n_sets} nested sets of {percent_step}% steps from {n_points} points")
    selected: set[int] = set()
    sets = []
    for i in range(1, n_sets + 1):
        add = per_step * i - len(selected)
        rest = sorted(set(range(n_points)) - selected)
        s = np.linspace(0.0, np.sqrt(len(rest) - 1), add)
        new = np.unique((s**2).astype(int))
        selected |= {rest[j] for j in new}
        sets.append(np.array(sorted(selected)))
    return sets


def complement_indices(n_points: int, training: np.ndarray) -> np.ndarray:
    """All indices of ``range(n_points)`` not in ``training`` (the paper's test set)."""
    mask = np.ones(n_points, bool)
    mask[training] = False
    return np.nonzero(mask)[0]
