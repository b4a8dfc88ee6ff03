"""Run logs: metrics as JSON lines, a tqdm progress bar, and a learning-curve plot (matplotlib Agg).

``metrics.jsonl`` has one object per logging interval: ``step``, ``epoch``, ``lr``,
``train_loss`` (one value per ensemble member) and, at evaluations, ``valid_loss`` and
``valid_<quantity>_<mae|rmse>`` (units in :data:`hybridpot.train.losses.UNITS`).
"""

from __future__ import annotations

import json
import os
from typing import Sequence

import numpy as np


class MetricsLog:
    """Append-only JSON-lines file of metric rows (flushed after every row)."""

    def __init__(self, path: str):
        self.path = path

    def append(self, row: dict) -> None:
        """Write one row (numpy values become lists/floats)."""
        with open(self.path, "a") as f:
            f.write(json.dumps(row, default=_plain) + "\n")

    def read(self) -> list[dict]:
        """All rows (an unfinished last line, from a killed process, is skipped)."""
        if not os.path.exists(self.path):
            return []
        rows = []
        with open(self.path) as f:
            for line in f:
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError:
                    continue
        return rows

    def truncate_after(self, step: int) -> None:
        """Drop rows with ``row["step"] > step`` (used on resume, so the log has no repeated steps)."""
        from hybridpot._store import atomic_write

        rows = [r for r in self.read() if r.get("step", 0) <= step]
        text = "".join(json.dumps(r) + "\n" for r in rows)
        atomic_write(self.path, lambda f: f.write(text.encode()))


def _plain(x):
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    raise TypeError(f"cannot log {type(x).__name__}")


def progress_bar(total: int, initial: int = 0, enable: bool = True):
    """A tqdm bar over optimisation steps (shows rate and ETA); ``set_postfix`` shows live metrics."""
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, disable=not enable, unit="step", dynamic_ncols=True, leave=True)


def plot_learning_curve(rows: Sequence[dict], path: str, units: str = "") -> None:
    """Training and validation loss against step (log scale, one line per member) as a PNG."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    train = [(r["step"], r["train_loss"]) for r in rows if "train_loss" in r]
    valid = [(r["step"], r["valid_loss"]) for r in rows if "valid_loss" in r]
    for data, label, style in ((train, "train", "-"), (valid, "valid", "o--")):
        if not data:
            continue
        steps = np.array([d[0] for d in data])
        values = np.array([np.atleast_1d(d[1]) for d in data], dtype=float)
        for m in range(values.shape[1]):
            ax.plot(steps, values[:, m], style, color="C0" if label == "train" else "C1",
                    alpha=0.8 if values.shape[1] == 1 else 0.4, label=label if m == 0 else None, ms=3)
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel(f"loss {units}".strip())
    if ax.lines:  # a run stopped before its first row has nothing to label
        ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    from hybridpot._store import atomic_write

    atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=100))
    plt.close(fig)
