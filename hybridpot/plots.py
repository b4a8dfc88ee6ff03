"""Plots of trained potentials (matplotlib, Agg backend): parity, error histograms, learning curves,
dimers, uncertainty calibration.

Every function draws into ``ax`` when given (and returns it), else into a new figure that it
saves to ``path`` (PNG) when given and returns. Units are those of hybridpot: Å, eV, eV/Å.
"""

from __future__ import annotations

import os
from typing import Sequence

import matplotlib

matplotlib.use("Agg", force=False)

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def _axes(ax, figsize=(4.5, 4.0)):
    if ax is not None:
        return ax.figure, ax
    fig, ax = plt.subplots(figsize=figsize)
    return fig, ax


def _finish(fig, ax, path, owned: bool):
    if not owned:
        return ax
    fig.tight_layout()
    if path is not None:
        os.makedirs(os.path.dirname(os.path.abspath(os.fspath(path))), exist_ok=True)
        fig.savefig(path, dpi=110)
        plt.close(fig)
    return fig


def _members(predicted) -> np.ndarray:
    """Predictions as ``[n_members, n]``."""
    p = np.asarray(predicted, np.float64)
    return p[None] if p.ndim == 1 else p.reshape(p.shape[0], -1)


def parity_plot(reference, predicted, *, quantity: str = "energy", unit: str = "eV", groups=None, ax=None,
                path=None):
    """Predicted against reference values, with MAE and RMSE in the legend.

    Args:
        reference: ``[n]`` reference values (any shape; flattened).
        predicted: ``[n]`` or ``[n_members, n]`` (ensemble: the mean, with ±1 std error bars).
        quantity, unit: axis labels (e.g. ``"forces"``, ``"eV/Å"``).
        groups: ``[n]`` labels (e.g. each value's config_type): one colour and one MAE per label.
        ax: draw here; else a new figure (saved to ``path`` if given).

    Returns:
        The figure (new figure) or ``ax``.
    """
    ref = np.asarray(reference, np.float64).ravel()
    pred = _members(predicted)
    if pred.shape[1] != ref.shape[0]:
        raise ValueError(f"parity_plot: {ref.shape[0]} reference values but {pred.shape[1]} predictions")
    labels = np.full(ref.shape, "", object) if groups is None else np.asarray(groups, object).ravel()
    if labels.shape != ref.shape:
        raise ValueError(f"parity_plot: {ref.shape[0]} reference values but {labels.shape[0]} group labels")
    owned = ax is None
    fig, ax = _axes(ax)
    mean = pred.mean(axis=0)
    for name in sorted(set(labels.tolist())):
        sel = labels == name
        err = mean[sel] - ref[sel]
        label = (f"{name}: " if name else "") + f"MAE {np.abs(err).mean():.3g} {unit}" + \
            ("\n" if not name else ", ") + f"RMSE {np.sqrt((err**2).mean()):.3g} {unit}"
        if pred.shape[0] > 1:
            ax.errorbar(ref[sel], mean[sel], yerr=pred[:, sel].std(axis=0), fmt="o", ms=3, alpha=0.6,
                        elinewidth=0.8, label=label)
        else:
            ax.plot(ref[sel], mean[sel], "o", ms=3, alpha=0.6, label=label)
    lo, hi = float(min(ref.min(), mean.min())), float(max(ref.max(), mean.max()))
    pad = 0.05 * (hi - lo or 1.0)
    ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], "k--", lw=0.8)
    ax.set_xlabel(f"reference {quantity} ({unit})")
    ax.set_ylabel(f"predicted {quantity} ({unit})")
    ax.legend(loc="upper left", fontsize=8 if groups is None else 6)
    ax.set_aspect("equal", adjustable="datalim")
    return _finish(fig, ax, path, owned)


def error_histogram(reference, predicted, *, quantity: str = "energy", unit: str = "eV", bins: int = 50,
                    ax=None, path=None):
    """Histogram of prediction − reference (ensemble: of the member mean).

    Args: as :func:`parity_plot`, plus ``bins``.
    """
    ref = np.asarray(reference, np.float64).ravel()
    pred = _members(predicted)
    err = pred.mean(axis=0) - ref
    owned = ax is None
    fig, ax = _axes(ax)
    ax.hist(err, bins=bins, alpha=0.8)
    ax.axvline(0.0, color="k", lw=0.8)
    ax.set_xlabel(f"{quantity} error ({unit})")
    ax.set_ylabel("count")
    ax.set_title(f"mean {err.mean():.3g}, std {err.std():.3g} {unit}", fontsize=9)
    return _finish(fig, ax, path, owned)


def calibration_plot(error, sigma, *, scales: Sequence[float] = (1.0,), quantity: str = "force component",
                     ax=None, path=None):
    """Calibration curve of an ensemble's spread: observed against expected fraction of errors
    inside the central Gaussian interval (:func:`hybridpot.uncertainty.calibration_curve`), one
    line per σ scale (e.g. 1 and the recalibrated s), with the miscalibration area in the legend.

    Args:
        error: ``[n]`` prediction − reference; ``sigma``: ``[n]`` predicted std, same unit.
        scales: σ factors to draw.
        quantity: what the errors are of (title).
        ax, path: as :func:`parity_plot`.
    """
    from hybridpot.uncertainty.calibration import calibration_curve

    owned = ax is None
    fig, ax = _axes(ax)
    sigma = np.asarray(sigma, np.float64)
    for s in scales:
        expected, observed = calibration_curve(error, s * sigma)
        area = float(np.mean(np.abs(observed - expected)))
        ax.plot(expected, observed, "o-", ms=3, label=f"σ × {s:.3g}: area {area:.3f}")
    ax.plot([0, 1], [0, 1], "k--", lw=0.8)
    ax.set_xlabel("expected fraction inside interval")
    ax.set_ylabel("observed fraction")
    ax.set_title(f"calibration ({quantity})", fontsize=9)
    ax.legend(loc="upper left", fontsize=8)
    ax.set_aspect("equal")
    return _finish(fig, ax, path, owned)


def learning_curve(source, path):
    """Training and validation loss against step of a run (its folder or ``metrics.jsonl``), as a PNG.

    Uses the trainer's own plot (:func:`hybridpot.train.logging.plot_learning_curve`); returns ``path``.
    """
    from hybridpot.train.logging import MetricsLog, plot_learning_curve

    source = os.fspath(source)
    log = os.path.join(source, "metrics.jsonl") if os.path.isdir(source) else source
    if not os.path.isfile(log):
        raise FileNotFoundError(f"no metrics log at {log}")
    rows = MetricsLog(log).read()
    if not any("train_loss" in r for r in rows):
        raise ValueError(f"{log}: no training-loss rows to plot")
    plot_learning_curve(rows, os.fspath(path))
    return path


def _atomic_number(element) -> int:
    from ase.data import atomic_numbers

    if isinstance(element, str) and not element.isdigit():
        if element not in atomic_numbers:
            raise ValueError(f"unknown element symbol {element!r}")
        return int(atomic_numbers[element])
    return int(element)


def dimer_energies(potential, element_a, element_b, r) -> dict:
    """Energies of the dimer A–B at distances ``r``, split into the physics and learned parts.

    Args:
        potential: a :class:`~hybridpot.potentials.TrainedPotential`.
        element_a, element_b: atomic numbers or symbols.
        r: ``[n_r]`` distances, Å (> 0.1).

    Returns:
        ``{"r": [n_r] Å, "total", "learned", "physics": [n_members, n_r] eV}``, the parts as the
        strategy combines them (total = physics + learned, except for PhysiNet's k, l), the
        learned part including the per-element shifts; the physics part is per member too
        (a trainable physics term).
    """
    import jax

    from hybridpot.graph import batch_graphs, build_graph, build_triplets

    numbers = np.array([_atomic_number(element_a), _atomic_number(element_b)], np.int32)
    potential.check_species(numbers, "the dimer")
    r = np.asarray(r, np.float64)
    dtype = np.float64 if jax.config.read("jax_enable_x64") else np.float32
    graphs = [build_graph(np.array([[0.0, 0.0, 0.0], [x, 0.0, 0.0]]), numbers, potential.cutoff, dtype=dtype)
              for x in r]
    graph = batch_graphs(graphs)
    triplets = build_triplets(graph) if potential.needs_triplets else None
    params = jax.tree.map(lambda x: np.asarray(x, dtype) if np.issubdtype(np.asarray(x).dtype, np.floating) else x,
                          potential.params)
    out = {"r": r}
    for part in ("total", "learned", "physics"):
        e = jax.jit(jax.vmap(potential.energy_fn(part), in_axes=(0, None, None)))(params, graph, triplets)
        out[part] = np.asarray(e, np.float64)
    return out


def dimer_curve(potential, element_a, element_b, *, r: Sequence[float] | None = None, ax=None, path=None):
    """Dimer curve of any potential with its physics and learned parts drawn separately.

    Args:
        potential: a :class:`~hybridpot.potentials.TrainedPotential`.
        element_a, element_b: atomic numbers or symbols.
        r: distances, Å (default 200 points from 0.5 Å to the cutoff + 0.5 Å).
        ax, path: as :func:`parity_plot`.

    Ensembles show the member mean and a ±1 std band. Energies in eV.
    """
    if r is None:
        r = np.linspace(0.5, potential.cutoff + 0.5, 200)
    data = dimer_energies(potential, element_a, element_b, r)
    owned = ax is None
    fig, ax = _axes(ax, figsize=(5.5, 4.0))
    x = data["r"]
    for key, style in (("total", "-"), ("learned", "--")):
        mean, std = data[key].mean(axis=0), data[key].std(axis=0)
        line, = ax.plot(x, mean, style, label=key)
        if data[key].shape[0] > 1:
            ax.fill_between(x, mean - std, mean + std, color=line.get_color(), alpha=0.2)
    if potential.physics is not None:
        ax.plot(x, data["physics"].mean(axis=0), ":", label=f"physics ({potential.physics['kind']})")
    ax.axvline(potential.cutoff, color="grey", lw=0.6)
    shown = [data["total"].mean(axis=0), data["learned"].mean(axis=0)]
    finite = np.concatenate(shown + ([data["physics"].mean(axis=0)] if potential.physics is not None else []))
    lo, hi = np.percentile(finite, [2, 90])
    ax.set_ylim(lo - 0.2 * (hi - lo + 1e-9), hi + 0.5 * (hi - lo + 1e-9))
    ax.set_xlabel("r (Å)")
    ax.set_ylabel("energy (eV)")
    ax.set_title(f"dimer {element_a}–{element_b} ({potential.model_kind})", fontsize=9)
    ax.legend(fontsize=8)
    return _finish(fig, ax, path, owned)


def evaluation_plots(potential, dataset, out_dir, *, batch_size: int = 16, predictions: dict | None = None) -> list[str]:
    """Parity plots and error histograms of energy per atom (eV/atom) and force components (eV/Å)
    (the force plots over the structures with force labels, left out when none has any); the
    parity plots colour each configuration type apart when the structures have types.

    Args:
        potential: a :class:`~hybridpot.potentials.TrainedPotential`.
        dataset: labelled :class:`~hybridpot.train.Dataset`.
        out_dir: folder for ``parity_energy.png``, ``parity_forces.png``, ``errors_energy.png``,
            ``errors_forces.png``.
        predictions: :func:`hybridpot.train.predict` of ``potential`` on ``dataset`` if already
            computed (else computed here).

    Returns:
        The paths written.
    """
    import jax

    from hybridpot.train import predict

    dtype = np.float64 if jax.config.read("jax_enable_x64") else np.float32
    pred = predictions if predictions is not None else predict(potential, dataset, batch_size=batch_size, dtype=dtype)
    structures = dataset.structures
    n_atoms = np.array([len(s.numbers) for s in structures], np.float64)
    e_ref = np.array([s.energy for s in structures]) / n_atoms
    e_pred = pred["energy"] / n_atoms[None]
    typed = any(s.config_type is not None for s in structures)
    kinds = np.array([str(s.config_type) for s in structures], object)
    quantities = [("energy", e_ref, e_pred, "energy per atom", "eV/atom", kinds if typed else None)]
    labelled = [k for k, s in enumerate(structures) if s.forces is not None]
    if labelled:
        f_ref = np.concatenate([structures[k].forces.ravel() for k in labelled])
        f_pred = np.concatenate([pred["forces"][k].reshape(pred["forces"][k].shape[0], -1) for k in labelled], axis=1)
        f_kinds = np.concatenate([np.full(structures[k].forces.size, kinds[k], object) for k in labelled])
        quantities.append(("forces", f_ref, f_pred, "force component", "eV/Å", f_kinds if typed else None))
    out = []
    for name, ref, p, quantity, unit, groups in quantities:
        path = os.path.join(os.fspath(out_dir), f"parity_{name}.png")
        parity_plot(ref, p, quantity=quantity, unit=unit, groups=groups, path=path)
        out.append(path)
        path = os.path.join(os.fspath(out_dir), f"errors_{name}.png")
        error_histogram(ref, p, quantity=quantity, unit=unit, path=path)
        out.append(path)
    return out
