"""The diatomic hybrid study (El Haloui, Thome & Sisourat 2025, and beyond), end to end.

Data → nested splits → every model trained over states × fractions × seeds in one compiled
program per model → test RMSE, recovered Morse parameters, Franck–Condon factors → report.
"""

from __future__ import annotations

import platform
import time
from pathlib import Path
from typing import Iterable

import jax
import jax.numpy as jnp
import numpy as np
from tqdm.auto import tqdm

from hybridpot.io import (
    DiatomicCurves,
    bundled_h2_curves,
    load_curves,
    reference_h2_curves,
)
from hybridpot.spectroscopy import franck_condon_grid
from hybridpot.studies.diatomic import evaluation as ev
from hybridpot.studies.diatomic import report
from hybridpot.studies.diatomic.protocols import (
    FRACTIONS_PERCENT,
    MODELS,
    STATES,
    Protocol,
    get_protocol,
)
from hybridpot.studies.diatomic.run_store import RunStore, unit_fingerprint
from hybridpot.studies.diatomic.split import complement_indices, nested_training_sets
from hybridpot.studies.diatomic.training import (
    MORSE,
    Curves,
    PhysicsTerm,
    pad_training_sets,
    predict,
    train_model,
)
from hybridpot.units import HARTREE_TO_INV_CM

#: The paper's seeds (network initialisation); more seeds continue from 100.
PAPER_SEEDS = (2, 4, 10, 22, 23, 28, 29, 30, 32, 42, 52)
#: Seeds of the quick profile unless given: the first three of the paper's.
QUICK_SEEDS = 3
#: The study keeps points with r below this (Å), as the paper does: 164 points on its grid.
MAX_DISTANCE_ANGSTROM = 20.0
#: Models whose physics term is a Morse curve whose parameters are compared.
MORSE_MODELS = ("morse", "aphynity", "aphynity_adaptive", "sequential", "physinet")
#: How runs are grouped into compiled programs: one per model (every state × fraction × seed;
#: the GPU layout), or one per model × state × fraction (every seed; exact training-set size and
#: step count, so no padded points or masked steps: the faster layout on a CPU).
BATCHING = ("model", "fraction")


def seed_list(n: int) -> list[int]:
    """The first ``n`` of the paper's 11 seeds, continued with 100, 101, … when ``n`` > 11."""
    if n < 1:
        raise ValueError(f"need at least one seed, got {n}")
    return list(PAPER_SEEDS[:n]) + [100 + i for i in range(max(0, n - len(PAPER_SEEDS)))]


def load_study_curves(data: str | Path) -> DiatomicCurves:
    """``"bundled"`` (the project's FCI curves), ``"reference"`` (the paper's, from shared/data)
    or a path to a curve file whose first two state columns are X and EF (Å, hartree)."""
    if data == "bundled":
        return bundled_h2_curves()
    if data == "reference":
        return reference_h2_curves()
    curves = load_curves(Path(data))
    names = list(curves.energy_hartree)
    if not {"X", "EF"} <= set(names):
        if len(names) < 2:
            raise ValueError(f"{data}: need two state columns (X, EF), found {len(names)}")
        energies = {"X": curves.energy_hartree[names[0]], "EF": curves.energy_hartree[names[1]]}
        curves = curves._replace(energy_hartree=energies)
    return curves


def run_diatomic_study(
    protocol: str = "improved",
    states: Iterable[str] = STATES,
    quick: bool = False,
    seeds: int | None = None,
    out: str | Path | None = "results/diatomic",
    data: str | Path = "bundled",
    models: Iterable[str] = MODELS,
    physics: PhysicsTerm = MORSE,
    progress: bool = True,
    batching: str = "model",
    resume: bool = True,
) -> dict:
    """Run the diatomic study and write its report.

    Args:
        protocol: ``"paper"`` or ``"improved"`` (see :mod:`.protocols`).
        states: any of ``"X"``, ``"EF"``; the Franck–Condon metric needs both.
        quick: the short profile (smoke test, about a minute on a 2-core CPU; see
            :func:`~hybridpot.studies.diatomic.protocols.get_protocol`).
        seeds: number of seeds (network initialisations); None: the paper's 11, or
            ``QUICK_SEEDS`` with ``quick``.
        out: output folder for ``results.json``, ``summary.md`` and plots (None: write nothing).
        data: ``"bundled"``, ``"reference"`` or a curve-file path (see :func:`load_study_curves`).
        models: subset of ``MODELS``.
        physics: the physics term of every hybrid (default Morse).
        progress: show a progress bar.
        batching: ``"model"`` (one compiled program per model) or ``"fraction"`` (one per
            model × state × fraction); see :data:`BATCHING`. Results are the same runs either way.
        resume: store each finished training unit in ``out/runs/`` and reuse the stored units of
            an earlier, interrupted run with the same settings (needs ``out``).
    Returns:
        the results dictionary written to ``results.json``; RMSE in hartree:
        ``rmse[state][model][fraction_percent] = {median, q1, q3}``.
    """
    states, models = list(states), list(models)
    for s in states:
        if s not in STATES:
            raise ValueError(f"unknown state {s!r}; choose from {STATES}")
    for m in models:
        if m not in MODELS:
            raise ValueError(f"unknown model {m!r}; choose from {MODELS}")
    if batching not in BATCHING:
        raise ValueError(f"unknown batching {batching!r}; choose from {BATCHING}")
    start = time.perf_counter()
    curves = load_study_curves(data)
    keep = curves.distance_angstrom < MAX_DISTANCE_ANGSTROM
    r = curves.distance_angstrom[keep]
    targets = {s: curves.energy_hartree[s][keep] for s in states}
    sets = nested_training_sets(len(r))
    test_masks = np.zeros((len(sets), len(r)), bool)
    for i, s in enumerate(sets):
        test_masks[i, complement_indices(len(r), s)] = True
    seed_values = seed_list(seeds if seeds is not None else QUICK_SEEDS if quick else len(PAPER_SEEDS))
    protocols = [get_protocol(protocol, s, quick) for s in states]
    fc_grid = franck_condon_grid()

    results = {
        "protocol": protocol,
        "quick": quick,
        "states": states,
        "models": models,
        "seeds": seed_values,
        "fractions_percent": list(FRACTIONS_PERCENT),
        "training_sizes": [len(s) for s in sets],
        "data_source": curves.source,
        "units": {"rmse": "hartree", "rmse_inv_cm": "cm^-1", "distance": "angstrom"},
        "device": f"{jax.devices()[0].device_kind} ({jax.default_backend()}), {platform.machine()}",
        "jax_version": jax.__version__,
        "rmse": {s: {} for s in states},
        "rmse_inv_cm": {s: {} for s in states},
        "rmse_per_seed": {s: {} for s in states},
        "nonfinite_runs": {},
        "timing": {"models_s": {}},
    }
    grid_predictions = {s: {} for s in states}
    study_predictions = {s: {} for s in states}
    physical = {s: {} for s in states}
    bar = tqdm(models, desc="diatomic study", disable=not progress)
    store = RunStore(Path(out) / "runs") if resume and out is not None else None
    results["timing"].update(batching=batching, units_trained=0, units_loaded=0)
    with jax.enable_x64(protocols[0].float64):
        dtype = np.float64 if protocols[0].float64 else np.float32
        keys = jnp.stack([jax.random.key(seed) for seed in seed_values])
        for model in bar:
            t0 = time.perf_counter()
            units = _training_units(model, protocols, states, r, targets, sets, batching, dtype)
            trained = []
            for name, unit_protocols, unit_curves in units:
                bar.set_postfix_str(f"{name}: {unit_protocols[0].max_steps(model)} steps × {unit_curves.r.shape[0] * unit_curves.r.shape[1] * len(seed_values)} runs")
                value, loaded = _train_unit(model, name, unit_protocols, physics, unit_curves, keys, seed_values, store)
                results["timing"]["units_loaded" if loaded else "units_trained"] += 1
                trained.append(value)
            params, norm, finite = _assemble(trained, len(states), batching)
            on_study_grid = predict(model, protocols[0], physics, params, norm, jnp.asarray(r, dtype))
            on_fc_grid = predict(model, protocols[0], physics, params, norm, jnp.asarray(fc_grid, dtype))
            jax.block_until_ready(on_fc_grid.total)
            results["timing"]["models_s"][model] = time.perf_counter() - t0
            results["nonfinite_runs"][model] = int((~np.asarray(finite)).sum())
            for i, s in enumerate(states):
                rmse = ev.test_rmse(np.asarray(on_study_grid.total[i]), targets[s], test_masks)
                study_predictions[s][model] = np.asarray(on_study_grid.total[i])
                grid_predictions[s][model] = np.asarray(on_fc_grid.total[i])
                results["rmse_per_seed"][s][model] = {str(p): rmse[f].tolist() for f, p in enumerate(FRACTIONS_PERCENT)}
                results["rmse"][s][model] = {str(p): ev.summarise(rmse[f]) for f, p in enumerate(FRACTIONS_PERCENT)}
                results["rmse_inv_cm"][s][model] = {
                    str(p): ev.summarise(rmse[f] * HARTREE_TO_INV_CM) for f, p in enumerate(FRACTIONS_PERCENT)
                }
                if model in MORSE_MODELS:
                    described = physics.describe(jax.tree.map(lambda x: np.asarray(x[i]), params["physics"]))
                    physical[s][model] = {k: np.broadcast_to(v, rmse.shape) for k, v in described.items()}

    results["reference_parameters"] = {
        s: {"morse_fit": ev.morse_fit(r, targets[s]), "curve": ev.curve_minimum_parameters(r, targets[s])} for s in states
    }
    results["physical_parameters"] = {
        s: {
            model: {
                k: {
                    str(p): ev.summarise(np.abs(v[f] - results["reference_parameters"][s]["morse_fit"][k]))
                    for f, p in enumerate(FRACTIONS_PERCENT)
                }
                for k, v in values.items()
            }
            for model, values in physical[s].items()
        }
        for s in states
    }

    fc_medians = {}
    if {"X", "EF"} <= set(states):
        ref_x = ev.reference_on_grid(r, targets["X"], fc_grid)
        ref_ef = ev.reference_on_grid(r, targets["EF"], fc_grid)
        results["fc_levels"] = ev.NUM_FC_LEVELS
        results["fc_mse"] = {"X->EF": {}}
        for model in tqdm(models, desc="Franck–Condon factors", disable=not progress):
            mse, vectors, reference_fc = ev.franck_condon_errors(
                fc_grid, grid_predictions["X"][model], grid_predictions["EF"][model], ref_x, ref_ef
            )
            results["fc_mse"]["X->EF"][model] = {str(p): ev.summarise(mse[f]) for f, p in enumerate(FRACTIONS_PERCENT)}
            f = len(FRACTIONS_PERCENT) // 2
            fc_medians[model] = vectors[f, _median_index(mse[f])]
        results["fc_reference"] = reference_fc.tolist()
    results["timing"]["total_s"] = time.perf_counter() - start

    if out is not None:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        report.write_json(results, out / "results.json")
        (out / "summary.md").write_text(report.summary_markdown(results))
        report.plot_rmse(results, out)
        report.plot_curves(_curves_for_plot(r, targets, sets, study_predictions, results), out)
        if fc_medians:
            report.plot_franck_condon(np.array(results["fc_reference"]), fc_medians, str(FRACTIONS_PERCENT[len(FRACTIONS_PERCENT) // 2]), out)
    return results


def _training_units(model, protocols, states, r, targets, sets, batching, dtype):
    """The compiled programs that train ``model``: ``[(name, protocols, Curves)]`` in the order
    state-major, fraction-minor; Curves are ``[n_state, n_fraction, P]`` arrays of ``dtype``."""

    def curves(per_state):
        return Curves(*(np.stack([p[i] for p in per_state]).astype(dtype) for i in range(3)))

    if batching == "model":
        stacked = curves([pad_training_sets(r, targets[s], sets) for s in states])
        return [(f"{model}-{'+'.join(states)}", [p.only(model) for p in protocols], stacked)]
    return [
        (f"{model}-{s}-{pct}pct", [protocol.only(model, f)], curves([pad_training_sets(r, targets[s], [sets[f]])]))
        for s, protocol in zip(states, protocols)
        for f, pct in enumerate(FRACTIONS_PERCENT)
    ]


def _train_unit(model, name, protocols: list[Protocol], physics, curves: Curves, keys, seeds, store: RunStore | None):
    """``((params, norm, finite), loaded)`` of one unit: from ``store`` if it finished before,
    else trained (and stored)."""

    def train(data: Curves):
        params, norm, _, finite = train_model(model, protocols, physics, data, keys)
        return params, norm, finite

    data = Curves(*map(jnp.asarray, curves))
    if store is None:
        return train(data), False
    fingerprint = unit_fingerprint(model, protocols, physics, *curves, seeds)
    stored = store.load(name, fingerprint, jax.eval_shape(train, data))
    if stored is not None:
        return stored, True
    value = jax.device_get(train(data))
    store.save(name, fingerprint, value)
    return value, False


def _assemble(units: list, n_states: int, batching: str):
    """One ``(params, norm, finite)`` with leading axes ``[n_state, n_fraction, n_seed]``."""
    if batching == "model":
        return units[0]
    per_state = len(units) // n_states
    rows = [
        jax.tree.map(lambda *xs: np.concatenate(xs, axis=1), *units[i * per_state : (i + 1) * per_state])
        for i in range(n_states)
    ]
    return jax.tree.map(lambda *xs: np.concatenate(xs, axis=0), *rows)


def _median_index(values: np.ndarray) -> int:
    """Index of the run whose value is the (lower) median."""
    return int(np.argsort(values)[(len(values) - 1) // 2])


def _curves_for_plot(r, targets, sets, predictions, results) -> dict:
    plotted = {}
    for s in targets:
        fractions = {}
        for f in (0, len(sets) - 1):
            pct = str(FRACTIONS_PERCENT[f])
            models = {}
            for m, pred in predictions[s].items():
                per_seed = np.array(results["rmse_per_seed"][s][m][pct])
                models[m] = pred[f, _median_index(per_seed)]
            fractions[pct] = {"train_r": r[sets[f]], "train_y": targets[s][sets[f]], "models": models}
        plotted[s] = {"r": r, "reference": targets[s], "fractions": fractions}
    return plotted
