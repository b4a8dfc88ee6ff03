"""The diatomic hybrid study (El Haloui, Thome & Sisourat 2025, and beyond), end to end.

Data → nested splits → every model trained over states × fractions × seeds in one compiled
program per model → test RMSE, recovered Morse parameters, vibrational levels, Franck–Condon
factors → report. The molecule comes from the data: its name, atoms (hence reduced mass) and
states from the curve file's header, an isotopologue or explicit masses from the caller.
"""

from __future__ import annotations

import platform
import time
from pathlib import Path
from typing import Iterable, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from tqdm.auto import tqdm

from hybridpot.io import (
    DiatomicCurves,
    bundled_h2_curves,
    bundled_lih_curves,
    load_curves,
    reference_h2_curves,
)
from hybridpot.spectroscopy import (
    DEFAULT_GRID_STEP_ANGSTROM,
    DEFAULT_LEVEL_TOLERANCE_INV_CM,
    check_grid_convergence,
    diatomic_atoms,
    element_of,
    franck_condon_grid,
    isotopologue_atoms,
    reduced_mass_amu,
    uniform_grid,
)
from hybridpot.studies.diatomic import evaluation as ev
from hybridpot.studies.diatomic import report
from hybridpot.studies.diatomic.protocols import (
    FRACTIONS_PERCENT,
    MODELS,
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
#: How runs are grouped into compiled programs: one per model (every state × fraction × seed,
#: runs of equal set size and step count vmapped together, see ``training.model_program``), or
#: one per model × state × fraction (every seed: small units to resume from).
BATCHING = ("model", "fraction")
#: A model whose longest run takes at least this many Adam steps (the paper protocol) trains each
#: run on its exact training-set size: compiling one copy of the training step per size (minutes
#: on a CPU) is repaid. Shorter trainings (the improved protocol, ``--quick``) pad the sets within
#: each step table: fewer copies of the step and of the L-BFGS polish to compile.
EXACT_SIZES_MIN_STEPS = 100_000


def seed_list(n: int) -> list[int]:
    """The first ``n`` of the paper's 11 seeds, continued with 100, 101, … when ``n`` > 11."""
    if n < 1:
        raise ValueError(f"need at least one seed, got {n}")
    return list(PAPER_SEEDS[:n]) + [100 + i for i in range(max(0, n - len(PAPER_SEEDS)))]


#: Named data sets of :func:`load_study_curves`.
BUNDLED_DATA = {"bundled": bundled_h2_curves, "h2": bundled_h2_curves, "lih": bundled_lih_curves, "reference": reference_h2_curves}


def load_study_curves(data: str | Path) -> DiatomicCurves:
    """``"bundled"`` or ``"h2"`` (the project's H2 FCI curves), ``"lih"`` (its LiH curves),
    ``"reference"`` (the paper's H2 curves, from shared/data) or a path to a curve file (format:
    :mod:`hybridpot.io.curves`; its header names the states, units and molecule)."""
    if str(data) in BUNDLED_DATA:
        return BUNDLED_DATA[str(data)]()
    return load_curves(Path(data))


class StudyMolecule(NamedTuple):
    """The molecule of a study: ``reduced_mass_amu`` (u), ``source`` (a sentence saying where the
    mass came from), ``name`` (for titles) and ``atoms`` (two symbols, None with explicit masses)."""

    reduced_mass_amu: float
    source: str
    name: str
    atoms: tuple[str, str] | None


def study_reduced_mass(
    curves: DiatomicCurves, isotopologue: str | None = None, masses: Sequence[float] | None = None
) -> StudyMolecule:
    """The study's molecule: its reduced mass (u), where that came from, its name and atoms.

    Priority: explicit ``masses`` (two atomic masses in u); else the atoms of ``isotopologue``
    (e.g. ``"D2"``, ``"HD"``: same elements as the curves' molecule, other isotopes); else the
    file's ``# atoms:`` line; else its ``# molecule:`` formula. Element masses are ASE's
    most-abundant-isotope masses (:mod:`hybridpot.spectroscopy.masses`).
    """
    atoms = curves.atoms
    if atoms is None and curves.molecule is not None:
        atoms = diatomic_atoms(curves.molecule)
    name = curves.molecule or (" ".join(atoms) if atoms else Path(curves.source).stem)
    if masses is not None:
        masses = [float(m) for m in masses]
        if len(masses) != 2:
            raise ValueError(f"masses: need the two atomic masses in u, got {masses}")
        return StudyMolecule(reduced_mass_amu(*masses), f"atomic masses {masses[0]} u and {masses[1]} u (given)", name, None)
    if isotopologue is not None:
        atoms = isotopologue_atoms(isotopologue, atoms)
        name = isotopologue
    if atoms is None:
        raise ValueError(
            f"{curves.source}: the curve file names no molecule, so the reduced mass is unknown: add a "
            "'# atoms: A B' (or '# molecule: AB') header line, or give the masses or an isotopologue"
        )
    source = f"atoms {atoms[0]} {atoms[1]} (atomic masses of ASE / AME2020)"
    return StudyMolecule(reduced_mass_amu(*atoms), source, name, tuple(atoms))


def study_dvr_grid(
    dvr_grid, curves: DiatomicCurves, r_study: np.ndarray, hydrogen_only: bool
) -> tuple[np.ndarray, str]:
    """The uniform grid (Å) of the vibrational levels and Franck–Condon factors, and its description.

    ``dvr_grid``: ``"paper"`` (r = 0.5, 0.51, …, 8.99 Å of El Haloui et al.), ``"data"`` (the study
    points' range, r_min to r_max, by ``DEFAULT_GRID_STEP_ANGSTROM`` = 0.02 Å), ``(start, stop, step)`` in
    Å, or None: ``"paper"`` for H2 and its isotopologues (the paper's metric), else ``"data"``.
    """
    if dvr_grid is None:
        dvr_grid = "paper" if hydrogen_only else "data"
    if isinstance(dvr_grid, str):
        if dvr_grid == "paper":
            return franck_condon_grid(), "the paper's grid 0.5–8.99 Å by 0.01 Å"
        if dvr_grid == "data":
            start, stop, step = float(r_study[0]), float(r_study[-1]), DEFAULT_GRID_STEP_ANGSTROM
            return uniform_grid(start, stop, step), f"the data's range {start:g}–{stop:g} Å by {step:g} Å"
        raise ValueError(f"unknown DVR grid {dvr_grid!r}; give 'paper', 'data' or (start, stop, step) in Å")
    start, stop, step = (float(x) for x in dvr_grid)
    lo, hi = float(curves.distance_angstrom[0]), float(r_study[-1])
    if start < lo or stop > hi:
        raise ValueError(f"DVR grid {start:g}–{stop:g} Å reaches outside the data's range {lo:g}–{hi:g} Å")
    return uniform_grid(start, stop, step), f"{start:g}–{stop:g} Å by {step:g} Å (given)"


def _table_state(state: str, names: list[str]) -> str:
    """Which of the paper's per-state step tables a state uses: the ground state's (X) for the
    file's first state, the excited state's (EF) for the others."""
    return "X" if state == names[0] else "EF"


def run_diatomic_study(
    protocol: str = "improved",
    states: Iterable[str] | None = None,
    quick: bool = False,
    seeds: int | None = None,
    out: str | Path | None = "results/diatomic",
    data: str | Path = "bundled",
    models: Iterable[str] = MODELS,
    physics: PhysicsTerm = MORSE,
    progress: bool = True,
    batching: str = "model",
    resume: bool = True,
    fc_states: Sequence[str] | None = None,
    isotopologue: str | None = None,
    masses: Sequence[float] | None = None,
    dvr_grid=None,
    level_tolerance_inv_cm: float = DEFAULT_LEVEL_TOLERANCE_INV_CM,
) -> dict:
    """Run the diatomic study and write its report.

    Args:
        protocol: ``"paper"`` or ``"improved"`` (see :mod:`.protocols`).
        states: names of the states (columns of the curve file) to study; None: the file's first
            two (its only one when it has one). The file's first state trains with the paper's
            ground-state (X) step tables, the others with its excited-state (EF) tables.
        quick: the short profile (smoke test, about a minute on a 2-core CPU; see
            :func:`~hybridpot.studies.diatomic.protocols.get_protocol`).
        seeds: number of seeds (network initialisations); None: the paper's 11, or
            ``QUICK_SEEDS`` with ``quick``.
        out: output folder for ``results.json``, ``summary.md`` and plots (None: write nothing).
        data: ``"bundled"`` (H2), ``"lih"``, ``"reference"`` or a curve-file path (see
            :func:`load_study_curves`).
        models: subset of ``MODELS``.
        physics: the physics term of every hybrid (default Morse).
        progress: show a progress bar.
        batching: ``"model"`` (one compiled program per model) or ``"fraction"`` (one per
            model × state × fraction); see :data:`BATCHING`. Results are the same runs either way.
        resume: store each finished training unit in ``out/runs/`` and reuse the stored units of
            an earlier, interrupted run with the same settings (needs ``out``).
        fc_states: ``(lower, upper)``: Franck–Condon factors from ``lower`` v = 0 to ``upper``
            v′ = 0 … 19; None: the first two studied states (no FC metric with one state).
        isotopologue: e.g. ``"D2"`` or ``"HD"`` for H2 curves: the levels and FC factors use its
            masses (the curves, being Born–Oppenheimer, are the same); see :func:`study_reduced_mass`.
        masses: the two atomic masses in u, instead of the file's atoms.
        dvr_grid: the grid of the levels and FC factors (see :func:`study_dvr_grid`). Its
            convergence is checked on the reference curves: a ``DVRConvergenceWarning`` when a
            level moves by more than ``level_tolerance_inv_cm`` (cm⁻¹) with half the spacing.
    Returns:
        the results dictionary written to ``results.json``; RMSE in hartree:
        ``rmse[state][model][fraction_percent] = {median, q1, q3}``.
    """
    models = list(models)
    for m in models:
        if m not in MODELS:
            raise ValueError(f"unknown model {m!r}; choose from {MODELS}")
    if batching not in BATCHING:
        raise ValueError(f"unknown batching {batching!r}; choose from {BATCHING}")
    start = time.perf_counter()
    curves = load_study_curves(data)
    names = list(curves.energy_hartree)
    states = names[:2] if states is None else list(states)
    for s in states:
        if s not in names:
            raise ValueError(f"unknown state {s!r}; {curves.source} has {names}")
    fc_states = (tuple(states[:2]) if len(states) >= 2 else None) if fc_states is None else tuple(fc_states)
    if fc_states is not None and (len(fc_states) != 2 or not set(fc_states) <= set(states) or fc_states[0] == fc_states[1]):
        raise ValueError(f"fc_states must be two different studied states {states}, got {list(fc_states)}")
    mu, mass_source, molecule, atoms = study_reduced_mass(curves, isotopologue, masses)
    keep = curves.distance_angstrom < MAX_DISTANCE_ANGSTROM
    r = curves.distance_angstrom[keep]
    targets = {s: curves.energy_hartree[s][keep] for s in states}
    sets = nested_training_sets(len(r))
    test_masks = np.zeros((len(sets), len(r)), bool)
    for i, s in enumerate(sets):
        test_masks[i, complement_indices(len(r), s)] = True
    seed_values = seed_list(seeds if seeds is not None else QUICK_SEEDS if quick else len(PAPER_SEEDS))
    protocols = [get_protocol(protocol, _table_state(s, names), quick) for s in states]
    fc_grid, grid_source = study_dvr_grid(dvr_grid, curves, r, atoms is not None and {element_of(a) for a in atoms} == {"H"})

    results = {
        "molecule": molecule,
        "reduced_mass_amu": mu,
        "reduced_mass_source": mass_source,
        "protocol": protocol,
        "quick": quick,
        "states": states,
        "models": models,
        "seeds": seed_values,
        "fractions_percent": list(FRACTIONS_PERCENT),
        "training_sizes": [len(s) for s in sets],
        "data_source": curves.source,
        "dvr_grid": {"start": float(fc_grid[0]), "stop": float(fc_grid[-1]), "points": int(fc_grid.size), "source": grid_source},
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
            sizes = "exact" if max(p.max_steps(model) for p in protocols) >= EXACT_SIZES_MIN_STEPS else "padded"
            trained = []
            for name, unit_protocols, unit_curves in units:
                bar.set_postfix_str(f"{name}: {unit_protocols[0].max_steps(model)} steps × {unit_curves.r.shape[0] * unit_curves.r.shape[1] * len(seed_values)} runs")
                value, loaded = _train_unit(model, name, unit_protocols, physics, unit_curves, keys, seed_values, store, sizes)
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

    references = {s: ev.reference_on_grid(r, targets[s], fc_grid) for s in states}
    results["dvr_convergence"] = {}
    for s in states:
        wanted = ev.NUM_FC_LEVELS if fc_states is not None and s == fc_states[1] else ev.NUM_LEVELS
        check = check_grid_convergence(
            lambda g, s=s: ev.reference_on_grid(r, targets[s], g), fc_grid, mu, wanted, level_tolerance_inv_cm,
            name=f"{molecule} {s} (v = 0…{wanted - 1})",
        )
        results["dvr_convergence"][s] = {
            "levels": wanted,
            "max_change_inv_cm": check.max_change_inv_cm,
            "tolerance_inv_cm": check.tolerance_inv_cm,
            "converged": check.converged,
        }
    results["term_value_levels"] = ev.NUM_LEVELS
    results["reference_term_values_inv_cm"] = {}
    results["level_mae_inv_cm"] = {s: {} for s in states}
    results["term_value_errors_inv_cm"] = {s: {} for s in states}
    for s in states:
        for model in tqdm(models, desc=f"vibrational levels, {s}", disable=not progress):
            errors, reference_terms = ev.level_errors(fc_grid, grid_predictions[s][model], references[s], mu)
            mae = np.mean(np.abs(errors), axis=-1)
            results["level_mae_inv_cm"][s][model] = {str(p): ev.summarise(mae[f]) for f, p in enumerate(FRACTIONS_PERCENT)}
            results["term_value_errors_inv_cm"][s][model] = {
                str(p): np.median(errors[f], axis=0).tolist() for f, p in enumerate(FRACTIONS_PERCENT)
            }
            results["reference_term_values_inv_cm"][s] = reference_terms.tolist()

    fc_medians = {}
    if fc_states is not None:
        lower, upper = fc_states
        transition = f"{lower}->{upper}"
        results["fc_states"] = [lower, upper]
        results["fc_levels"] = ev.NUM_FC_LEVELS
        results["fc_mse"] = {transition: {}}
        for model in tqdm(models, desc="Franck–Condon factors", disable=not progress):
            mse, vectors, reference_fc = ev.franck_condon_errors(
                fc_grid, grid_predictions[lower][model], grid_predictions[upper][model], references[lower], references[upper], mu
            )
            results["fc_mse"][transition][model] = {str(p): ev.summarise(mse[f]) for f, p in enumerate(FRACTIONS_PERCENT)}
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
        report.plot_curves(_curves_for_plot(r, targets, sets, study_predictions, results), out, results["molecule"])
        if fc_medians:
            report.plot_franck_condon(
                np.array(results["fc_reference"]), fc_medians, str(FRACTIONS_PERCENT[len(FRACTIONS_PERCENT) // 2]), out,
                results["molecule"], fc_states,
            )
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


def _train_unit(model, name, protocols: list[Protocol], physics, curves: Curves, keys, seeds, store: RunStore | None, sizes: str = "exact"):
    """``((params, norm, finite), loaded)`` of one unit: from ``store`` if it finished before,
    else trained (and stored); ``sizes`` as in :func:`~.training.model_program` (the same runs
    either way, so not in the fingerprint)."""

    def train(data: Curves):
        params, norm, _, finite = train_model(model, protocols, physics, data, keys, sizes=sizes)
        return params, norm, finite

    data = Curves(*map(jnp.asarray, curves))
    if store is None:
        return train(data), False
    fingerprint = unit_fingerprint(model, protocols, physics, *curves, seeds)
    # the weights stay concrete: the training-set sizes shape the program
    shapes = jax.eval_shape(lambda r, y: train(data._replace(r=r, y=y)), data.r, data.y)
    stored = store.load(name, fingerprint, shapes)
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
