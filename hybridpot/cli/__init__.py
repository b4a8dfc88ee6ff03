"""The ``hybridpot`` command line.

Subcommands: ``train CONFIG`` (a train file, :mod:`hybridpot.cli.train_app`), ``evaluate MODEL
DATA``, ``md MODEL STRUCTURE`` (ASE molecular dynamics), ``properties MODEL STRUCTURE`` (EOS, elastic
constants, phonons, thermal expansion), ``serve-ipi MODEL STRUCTURE`` (a socket client of an i-PI
server, e.g. for path-integral MD), ``dimer MODEL A B`` (dimer-curve plot),
``template`` (an annotated train file) and ``study diatomic``.

User mistakes (bad option values, missing or corrupt files) end with a one-line error and exit
status 2, not a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings


def _study_diatomic(args: argparse.Namespace) -> None:
    from hybridpot.studies.diatomic import run_diatomic_study
    from hybridpot.studies.diatomic.report import summary_markdown

    results = run_diatomic_study(
        protocol=args.protocol,
        states=args.states,
        fc_states=args.fc_states,
        isotopologue=args.isotopologue,
        masses=args.masses,
        dvr_grid=None if args.dvr_grid is None else args.dvr_grid if args.dvr_grid in ("paper", "data") else _grid_spec(args.dvr_grid),
        quick=args.quick,
        seeds=args.seeds,
        out=args.out,
        data=args.data,
        progress=not args.no_progress,
        **({} if args.models is None else {"models": args.models}),
        batching=args.batching,
        resume=not args.no_resume,
    )
    print(summary_markdown(results))
    print(f"\nWrote {args.out}/results.json, summary.md and plots.")


def _grid_spec(text: str) -> tuple[float, float, float]:
    try:
        start, stop, step = (float(x) for x in text.split(":"))
    except ValueError:
        raise ValueError(f"--dvr-grid must be 'paper', 'data' or START:STOP:STEP in Å, got {text!r}") from None
    return start, stop, step


def _train(args: argparse.Namespace) -> None:
    import dataclasses

    from hybridpot.cli.outputs import check_output
    from hybridpot.cli.train_app import load_run_train_file, load_train_file, train_from_file
    from hybridpot.train import TrainingInterrupted

    if args.resume:  # --resume RUN: the run folder's own train file
        if args.config is not None or args.set or args.out is not None:
            raise ValueError("--resume RUN continues the run as it was started: give no train file, --set or --out "
                             "(or resume with the train file: `hybridpot train CONFIG --resume`)")
        spec = load_run_train_file(args.resume)
    elif args.config is None:
        raise ValueError("give a train file (CONFIG) or --resume RUN")
    else:
        spec = load_train_file(args.config, args.set)
        if args.out is not None:
            spec = dataclasses.replace(spec, output=args.out)
    check_output(spec.output, "the run folder (output)")
    try:
        potential, result, path = train_from_file(spec, progress=False if args.no_progress else None,
                                                   resume=args.resume is not None)
    except TrainingInterrupted as stop:
        stop.resume_command = f"hybridpot train --resume {spec.output}"
        raise
    print(f"trained {spec.model_kind} ({spec.config.run.n_seeds} member(s), {result.history['train_loss'].shape[0]} steps)")
    for name, values in sorted(result.valid_metrics.items()):
        print(f"  valid {name}: {_mean_std(values)}")
    if potential.metadata.get("n_valid") == 0:
        print(f"no validation data: the model is the final state (EMA parameters after step "
              f"{result.history['train_loss'].shape[0]})")
    print(f"wrote {path} and the run folder {spec.output}")


def _mean_std(values) -> str:
    import numpy as np

    v = np.atleast_1d(np.asarray(values, float))
    return f"{v.mean():.4g}" + (f" ± {v.std():.2g} (over {v.size} members)" if v.size > 1 else "")


def _write_json(path: str, value) -> None:
    """Write ``value`` as indented JSON atomically: an existing file stays until the new one is complete."""
    from hybridpot._store import atomic_write

    text = json.dumps(value, indent=1)
    atomic_write(path, lambda f: f.write(text.encode()))


def _read_data(args):
    from hybridpot.io import read_structures

    return read_structures(args.data, format=args.format, energy_unit=args.energy_unit, length_unit=args.length_unit)


def _enable_x64_for(potential) -> None:
    if (potential.config or {}).get("run", {}).get("dtype") == "float64":
        import jax

        jax.config.update("jax_enable_x64", True)


def _evaluate(args: argparse.Namespace) -> None:
    import numpy as np

    from hybridpot.cli.outputs import check_output
    from hybridpot.potentials import load_potential
    from hybridpot.train import UNITS, config_from_dict, evaluate, predict

    potential = load_potential(args.model)
    _enable_x64_for(potential)
    data = _read_data(args)
    config = config_from_dict(potential.config or {})
    for value, option in ((args.json, "--json"), (args.plots, "--plots")):
        if value is not None:
            check_output(value, option)
    metrics = evaluate(potential, data, config)
    print(f"{args.data}: {len(data)} structures, model {potential.model_kind} ({potential.n_members} member(s))")
    print("| quantity | MAE | RMSE | unit |\n|---|---|---|---|")
    for q in ("energy", "energy_per_atom", "forces", "stress"):
        if f"{q}_mae" in metrics:
            print(f"| {q} | {_mean_std(metrics[q + '_mae'])} | {_mean_std(metrics[q + '_rmse'])} | {UNITS[q]} |")
    out = {k: [float(x) for x in (v if hasattr(v, "__len__") else [v])] for k, v in metrics.items()}
    typed = any(s.config_type is not None for s in data.structures)
    predictions = None
    if args.plots or typed:  # one prediction pass serves the table and the plots
        predictions = predict(potential, data, batch_size=config.data.batch_size,
                              dtype=np.dtype(config.run.dtype).type)
    if typed:
        out["by_config_type"] = _config_type_table(data, predictions)
    if potential.n_members > 1:
        out["committee"] = _committee_report(potential, data, args)
    elif args.calibrate:
        raise ValueError("--calibrate needs an ensemble (a model file with 2 or more members)")
    if args.json:
        _write_json(args.json, out)
        print(f"wrote {args.json}")
    if args.plots:
        from hybridpot.plots import evaluation_plots

        for path in evaluation_plots(potential, data, args.plots, predictions=predictions):
            print(f"wrote {path}")


def _config_type_table(data, predictions) -> dict:
    """Errors per configuration type (member mean of each MAE), printed as a table; the JSON rows."""
    from hybridpot.train import errors_by_config_type

    rows = errors_by_config_type(data, predictions)
    print("\nby config_type (mean over members)")
    print("| config_type | structures | energy MAE (eV) | energy MAE (eV/atom) | forces MAE (eV/Å) | forces RMSE (eV/Å) |")
    print("|---|---|---|---|---|---|")
    for name, r in rows.items():
        f_mae, f_rmse = (f"{r[k].mean():.4g}" if k in r else "—" for k in ("forces_mae", "forces_rmse"))
        print(f"| {name} | {r['n_structures']} | {r['energy_mae'].mean():.4g} | {r['energy_per_atom_mae'].mean():.4g} | "
              f"{f_mae} | {f_rmse} |")
    return {name: {k: (v if k == "n_structures" else [float(x) for x in v]) for k, v in r.items()}
            for name, r in rows.items()}


def _committee_report(potential, data, args: argparse.Namespace) -> list:
    """Errors of the ensemble mean and calibration of its spread (hybridpot.uncertainty), printed
    as a table; with ``args.calibrate`` (a labelled file, read like the data) also after σ → sσ
    fitted on that file."""
    import jax
    import numpy as np

    from hybridpot.uncertainty import (
        calibration_report,
        committee_errors,
        ensemble_predict,
        fit_sigma_scale,
    )

    def errors(dataset):
        stats = ensemble_predict(potential, dataset,
                                 dtype=np.float64 if jax.config.read("jax_enable_x64") else np.float32)
        return committee_errors(stats, dataset)

    calibrate = args.calibrate
    test = errors(data)
    scales = {q: 1.0 for q in test}
    if calibrate:
        from hybridpot.io import read_structures

        valid = errors(read_structures(calibrate, format=args.format, energy_unit=args.energy_unit,
                                       length_unit=args.length_unit))
        scales = {q: fit_sigma_scale(*_spread_positive(*valid[q], q, calibrate)) for q in valid}
    rows = []
    for quantity, (error, sigma) in test.items():
        error, sigma = _spread_positive(error, sigma, quantity, "the data")
        for scale in [1.0] + ([scales[quantity]] if quantity in scales and calibrate else []):
            rows.append({"quantity": quantity, **calibration_report(error, sigma, scale=scale)})
    print(f"\ncommittee of {potential.n_members} members: error of the mean and calibration of the spread"
          + (f" (σ × s fitted on {calibrate})" if calibrate else ""))
    print("| quantity | σ scale | RMSE | mean σ | Spearman ρ | NLL | miscalibration area | 68 % | 95 % |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        unit = "eV/atom" if r["quantity"] == "energy_per_atom" else "eV/Å"
        print(f"| {r['quantity']} | {r['scale']:.3g} | {r['rmse']:.4g} {unit} | {r['mean_sigma']:.4g} {unit} | "
              f"{r['spearman']:.2f} | {r['nll']:.3g} | {r['miscalibration_area']:.3f} | {r['coverage_68']:.2f} | "
              f"{r['coverage_95']:.2f} |")
    return rows


def _spread_positive(error, sigma, quantity: str, where: str):
    """Entries where the members disagree at all (σ > 0): exact agreement, e.g. the zero force on
    an isolated atom, carries no calibration information."""
    keep = sigma > 0
    if keep.sum() < 2:
        raise ValueError(f"{where}: fewer than 2 {quantity} entries where the members disagree; nothing to calibrate")
    return error[keep], sigma[keep]


def _one_frame(spec: str, why: str):
    """The one ASE frame that ``spec`` (``FILE`` = its last frame, or ``FILE@INDEX``) selects;
    ``why`` ends the error when it selects several."""
    from hybridpot.io import read_atoms, split_frame_selection

    path, selection = split_frame_selection(spec)
    frames = read_atoms(path, index=-1 if selection is None else selection)
    if len(frames) != 1:
        raise ValueError(f"{spec}: selects {len(frames)} frames; {why} (e.g. FILE@0)")
    return frames[0]


def _md(args: argparse.Namespace) -> None:
    import numpy as np
    from ase import units
    from ase.io import Trajectory, write
    from ase.md.langevin import Langevin
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution
    from ase.md.verlet import VelocityVerlet

    from hybridpot.cli.outputs import check_output, replace_when_done
    from hybridpot.md import HybridpotCalculator, MDGuard, MDGuardError, MDWatch
    from hybridpot.potentials import load_potential

    if args.steps < 0 or args.dt <= 0 or args.temperature < 0 or args.write_every < 1:
        raise ValueError("--steps must be >= 0, --dt > 0 fs, --temperature >= 0 K and --write-every >= 1")
    check_every = args.write_every if args.check_every is None else args.check_every
    guard = None if args.no_guard else MDGuard(min_distance_factor=args.min_distance_factor,
                                               min_distance=args.min_distance, max_drift=args.max_drift)
    potential = load_potential(args.model)
    atoms = _one_frame(args.structure, "MD starts from one")
    atoms.calc = HybridpotCalculator(potential)
    with warnings.catch_warnings():  # ASE 3.29 deprecates it in favour of a function older ASE lacks
        warnings.simplefilter("ignore", DeprecationWarning)
        MaxwellBoltzmannDistribution(atoms, temperature_K=args.temperature, rng=np.random.default_rng(args.seed))
    if args.thermostat == "langevin":
        dyn = Langevin(atoms, args.dt * units.fs, temperature_K=args.temperature, friction=args.friction / units.fs, fixcm=False,
                       rng=np.random.default_rng(args.seed + 1))
    else:
        dyn = VelocityVerlet(atoms, args.dt * units.fs)
    check_output(args.out, "--out")
    stem, suffix = os.path.splitext(args.out)
    log = check_output(args.log if args.log is not None else stem + ".log", "--log")
    traj = None
    stop = None
    with replace_when_done(args.out) as out:  # an existing trajectory stays until the new one is written
        if suffix == ".traj":
            traj = Trajectory(out, "w", atoms)
            dyn.attach(traj.write, interval=args.write_every)
        else:
            dyn.attach(lambda: write(out, atoms, format="extxyz", append=True), interval=args.write_every)
        watch = MDWatch(dyn, guard, interval=check_every, log_path=log)
        try:
            dyn.run(args.steps)
        except MDGuardError as err:  # the trajectory up to the stop is kept
            stop = err
        finally:
            watch.close()
            if traj is not None:
                traj.close()
    if stop is not None:
        last = stem + ".last_good.extxyz"
        if stop.frame is not None:
            write(last, stop.frame, format="extxyz")
        raise ValueError(f"{stop}. The trajectory up to here is in {args.out}, the log in {log}"
                         + (f", the last frame that passed the checks in {last}" if stop.frame is not None else "")
                         + "; --no-guard runs on regardless")
    s = watch.summary()
    calc = atoms.calc
    print(f"{args.steps} steps of {args.dt} fs ({args.thermostat}), {len(atoms)} atoms: final T "
          f"{s['temperature_K']:.1f} K, energy drift {s['drift_eV_per_atom']:+.3g} eV/atom (largest "
          f"{s['max_abs_drift_eV_per_atom']:.3g}), largest force {s['max_force_eV_per_A']:.3g} eV/Å, closest pair "
          f"{s['min_distance_A']:.3f} Å (over {s['checks']} checks, every {check_every} steps)")
    print(f"compilations {calc.n_compilations}, neighbour searches {calc.n_neighbour_searches}; wrote {args.out} and {log}")


def _serve_ipi(args: argparse.Namespace) -> None:
    from hybridpot.md import HybridpotCalculator
    from hybridpot.md.ipi import serve_ipi
    from hybridpot.potentials import load_potential

    if (args.unix is None) == (args.port is None):
        raise ValueError("give exactly one address: --unix NAME (i-PI's <ffsocket mode='unix'> address) or --port N")
    potential = load_potential(args.model)
    _enable_x64_for(potential)
    atoms = _one_frame(args.structure, "the client serves one system")
    atoms.calc = HybridpotCalculator(potential)
    n = serve_ipi(atoms, unixsocket=args.unix, host=args.host, port=args.port)
    print(f"served {n} evaluations of {len(atoms)} atoms; i-PI sent EXIT")


def _dimer(args: argparse.Namespace) -> None:
    from hybridpot.cli.outputs import check_output
    from hybridpot.plots import dimer_curve
    from hybridpot.potentials import load_potential

    potential = load_potential(args.model)
    dimer_curve(potential, args.element_a, args.element_b, path=check_output(args.out, "--out"))
    print(f"wrote {args.out}")


def _properties(args: argparse.Namespace) -> None:
    import numpy as np

    from hybridpot.cli.outputs import check_output
    from hybridpot.md import HybridpotCalculator
    from hybridpot.potentials import load_potential
    from hybridpot.properties.plots import report_plots
    from hybridpot.properties.report import property_report, relax_crystal

    what = [w.strip() for w in args.what.split(",") if w.strip()]
    check_output(args.out, "--out")
    if args.t_max <= 0 or args.t_step <= 0:
        raise ValueError("--t-max and --t-step must be > 0 K")
    potential = load_potential(args.model)
    _enable_x64_for(potential)
    atoms = _one_frame(args.structure, "properties are of one crystal")
    if args.relax:
        atoms = relax_crystal(atoms, HybridpotCalculator(potential, members=[args.member]), fmax=args.relax_fmax)
    report = property_report(atoms, potential, what, supercell=args.supercell, mesh=args.mesh,
                             temperatures=np.arange(0.0, args.t_max + 0.5 * args.t_step, args.t_step),
                             fmax=args.fmax, member=args.member)
    report["model"] = os.fspath(args.model)
    report["relaxed_here"] = bool(args.relax)
    os.makedirs(args.out, exist_ok=True)
    out = os.path.join(args.out, "properties.json")
    _write_json(out, report)
    _print_properties(report)
    for p in [out] + report_plots({os.path.basename(os.fspath(args.model)): report}, args.out,
                                  title=report["structure"]["formula"]):
        print(f"wrote {p}")


def _print_properties(report: dict) -> None:
    s = report["structure"]
    print(f"{s['formula']}: {s['n_atoms']} atoms, V = {s['volume_A3']:.4f} Å³, E = {s['energy_eV']:.6f} eV")
    if "eos" in report:
        e = report["eos"]
        print(f"EOS: V0 {e['v0_A3']:.4f} Å³, E0 {e['e0_eV']:.6f} eV, B0 {e['b0_GPa']:.2f} GPa, B0' {e['b0_prime']:.2f}")
    if "elastic" in report:
        e = report["elastic"]
        for name in ("relaxed", "unrelaxed"):
            c = e[f"{name}_GPa"]
            print(f"C ({name}, GPa): C11 {c[0][0]:.2f} C12 {c[0][1]:.2f} C44 {c[3][3]:.2f}; Born stable: "
                  f"{e[f'born_stability_{name}']['stable']}")
    if "phonons" in report:
        t = report["phonons"]["thermal"]
        print(f"phonons: supercell {report['phonons']['supercell']}, lowest frequency {t['min_frequency_THz']:.3f} THz, "
              f"{t['n_imaginary']} imaginary modes on the mesh")
    if "qha" in report:
        q = report["qha"]
        if 300.0 in q["temperature_K"]:
            print(f"QHA: α(300 K) = {q['linear_expansion_per_K'][q['temperature_K'].index(300.0)]:.3e} /K")
        if any(q["n_imaginary"]):
            print(f"QHA: imaginary modes at some volumes ({q['n_imaginary']}): the crystal is dynamically unstable "
                  "there and its thermal expansion is not meaningful")
        if q["left_out_temperatures_K"]:
            print(f"QHA: V(T) leaves the scanned volumes above {q['temperature_K'][-1]:g} K")


def _template(args: argparse.Namespace) -> None:
    from hybridpot.cli.templates import template

    sys.stdout.write(template(args.model))


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``hybridpot`` command."""
    parser = argparse.ArgumentParser(prog="hybridpot", description="Hybrid physics + ML interatomic potentials.")
    parser.add_argument("--compile-cache", default=None, metavar="DIR",
                        help="JAX persistent compilation cache (default: $HYBRIDPOT_CACHE or ~/.cache/hybridpot/jax)")
    parser.add_argument("--no-compile-cache", action="store_true",
                        help="compile every program afresh (also: HYBRIDPOT_CACHE=off)")
    commands = parser.add_subparsers(dest="command", required=True)
    study = commands.add_parser("study", help="run a reproducible study")
    studies = study.add_subparsers(dest="study", required=True)
    diatomic = studies.add_parser(
        "diatomic",
        help="Morse + network hybrids on diatomic curves (El Haloui et al. 2025), vmapped over seeds",
        description="Train Morse, NN, APHYNITY (fixed and adaptive λ), Sequential Phy-ML and PhysiNet on the "
        "potential curves of a diatomic molecule (H2 by default) at 8 training fractions × N seeds; report test "
        "RMSE, recovered Morse parameters, vibrational term values and Franck–Condon factors.",
    )
    diatomic.add_argument("--protocol", choices=("paper", "improved"), default="improved", help="training protocol (default: improved)")
    diatomic.add_argument("--states", nargs="+", default=None, metavar="STATE",
                          help="states (curve-file columns) to study (default: the file's first two, e.g. X EF)")
    diatomic.add_argument("--quick", action="store_true",
                          help="short profile: about a minute on a 2-core CPU (smoke test, 3 seeds unless --seeds)")
    diatomic.add_argument("--seeds", type=int, default=None, help="number of seeds (default: the paper's 11; 3 with --quick)")
    diatomic.add_argument("--out", default="results/diatomic", help="output folder (default: results/diatomic)")
    diatomic.add_argument(
        "--data",
        default="bundled",
        help="'bundled' (the project's H2 FCI curves), 'lih' (its LiH curves), 'reference' (the paper's H2 "
        "curves, from ../shared/data) or a curve file (format: docs/data.md)",
    )
    diatomic.add_argument("--fc-states", nargs=2, default=None, metavar=("LOWER", "UPPER"),
                          help="Franck–Condon factors from LOWER v=0 to UPPER v' (default: the first two states)")
    diatomic.add_argument("--isotopologue", default=None, metavar="FORMULA",
                          help="levels and FC factors for this isotopologue of the data's molecule, e.g. D2 or HD")
    diatomic.add_argument("--masses", nargs=2, type=float, default=None, metavar=("M1", "M2"),
                          help="the two atomic masses in u, instead of the curve file's atoms")
    diatomic.add_argument("--dvr-grid", default=None, metavar="GRID",
                          help="grid of levels and FC factors: 'paper' (0.5-8.99 Å), 'data' (the data's range by "
                          "0.02 Å) or START:STOP:STEP in Å (default: paper for H2 and isotopologues, else data)")
    diatomic.add_argument(
        "--models",
        nargs="+",
        default=None,
        metavar="MODEL",
        help="models to train: morse nn aphynity aphynity_adaptive sequential physinet (default: all six)",
    )
    diatomic.add_argument(
        "--batching",
        choices=("model", "fraction"),
        default="model",
        help="one compiled program per model (default; best on a GPU) or per model × state × fraction "
        "(no padding or masked steps; faster on a CPU)",
    )
    diatomic.add_argument(
        "--no-resume",
        action="store_true",
        help="retrain everything instead of reusing the finished units stored in OUT/runs/",
    )
    diatomic.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    diatomic.set_defaults(run=_study_diatomic)

    train = commands.add_parser(
        "train", help="train a potential from a train file (YAML) and write <output>/model.npz",
        description="Train the model a train file names on its data files (see `hybridpot template`) and write "
        "the run folder and the model file <output>/model.npz.",
    )
    train.add_argument("config", nargs="?", default=None,
                       help="train file (YAML): trainer sections + dataset, model, physics, output")
    train.add_argument("--resume", nargs="?", const="", default=None, metavar="RUN",
                       help="continue a stopped run from its last checkpoint: `--resume RUN` (the run folder, "
                            "with the train file it keeps), or `CONFIG --resume` (the run in the train file's "
                            "output, if there is one; else start it)")
    train.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                       help="override a key, e.g. --set optim.learning_rate=3e-4 --set dataset.train=data.xyz")
    train.add_argument("--out", default=None, help="run folder (overrides `output`; outside the working folder "
                                                   "only as an absolute path)")
    train.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    train.set_defaults(run=_train)

    def data_options(p):
        p.add_argument("--format", default=None, help="reader: an ase.io format, 'db' or 'md17' (default: from the name)")
        p.add_argument("--energy-unit", default="eV", help="energy unit of the file (default: eV)")
        p.add_argument("--length-unit", default="Å", help="length unit of the file (default: Å)")

    ev = commands.add_parser("evaluate", help="MAE/RMSE of a model file on labelled structures",
                             description="Energy, energy-per-atom, force (and stress) MAE and RMSE of every member, "
                                         "broken down per config_type when the structures have one; for an "
                                         "ensemble also the error of its mean and the calibration of its spread.")
    ev.add_argument("model", help="model file (.npz)")
    ev.add_argument("data", help="labelled structures: extxyz / ASE-readable, .db or MD17 .npz; FILE@0:100, "
                                 "FILE@-1 or FILE@0,5,9 picks frames")
    data_options(ev)
    ev.add_argument("--plots", default=None, metavar="DIR", help="write parity plots and error histograms here")
    ev.add_argument("--json", default=None, metavar="FILE", help="write the metrics as JSON")
    ev.add_argument("--calibrate", default=None, metavar="FILE",
                    help="ensembles: fit the spread's scale σ → sσ on these labelled structures (validation data) "
                         "and report the calibration with it too")
    ev.set_defaults(run=_evaluate)

    md = commands.add_parser("md", help="molecular dynamics with ASE (VelocityVerlet or Langevin)",
                             description="Run MD from the last structure of STRUCTURE (or FILE@N) and write a trajectory "
                                         "and a log. A guard stops the run, keeping the last good frame, when atoms "
                                         "come too close or (NVE) the energy drifts.")
    md.add_argument("model", help="model file (.npz)")
    md.add_argument("structure", help="starting structure (any ASE-readable file; its last frame, or FILE@N)")
    md.add_argument("--steps", type=int, default=100, help="MD steps (default 100)")
    md.add_argument("--dt", type=float, default=1.0, help="time step, fs (default 1)")
    md.add_argument("--temperature", type=float, default=300.0, help="initial / thermostat temperature, K (default 300)")
    md.add_argument("--thermostat", choices=("nve", "langevin"), default="nve", help="nve (VelocityVerlet) or langevin")
    md.add_argument("--friction", type=float, default=0.01, help="Langevin friction, 1/fs (default 0.01)")
    md.add_argument("--seed", type=int, default=0, help="seed of the initial velocities and the thermostat")
    md.add_argument("--out", default="md.extxyz", help="trajectory: .extxyz (default md.extxyz) or .traj")
    md.add_argument("--write-every", type=int, default=10, help="steps between frames (default 10)")
    md.add_argument("--check-every", type=int, default=None,
                    help="steps between the checks and log lines (default: --write-every)")
    md.add_argument("--log", default=None, help="per-check log: step, time, T, energies, drift, largest force, "
                                               "closest pair (default: OUT with .log)")
    md.add_argument("--min-distance-factor", type=float, default=0.5,
                    help="stop when a pair is closer than this × its covalent radii sum (default 0.5)")
    md.add_argument("--min-distance", type=float, default=None,
                    help="stop when a pair is closer than this, Å (instead of the covalent rule)")
    md.add_argument("--max-drift", type=float, default=0.05,
                    help="NVE: stop when the total energy drifts more than this, eV/atom (default 0.05)")
    md.add_argument("--no-guard", action="store_true", help="measure and log, but never stop the run")
    md.set_defaults(run=_md)

    ipi = commands.add_parser(
        "serve-ipi", help="serve a model's energy, forces and virial to an i-PI server (path-integral MD)",
        description="Connect to a running i-PI server and answer its force requests with MODEL until i-PI sends "
                    "EXIT. Start several clients on the same address to evaluate the beads in parallel.")
    ipi.add_argument("model", help="model file (.npz)")
    ipi.add_argument("structure", help="the system i-PI simulates, atoms in i-PI's order (e.g. its <initialize> "
                                       "file; its last frame, or FILE@N): species and periodicity")
    ipi.add_argument("--unix", default=None, metavar="NAME",
                     help="address of i-PI's UNIX socket (<ffsocket mode='unix'><address>NAME; file /tmp/ipi_NAME)")
    ipi.add_argument("--port", type=int, default=None, help="TCP port of i-PI's <ffsocket mode='inet'>")
    ipi.add_argument("--host", default="localhost", help="TCP host (default localhost)")
    ipi.set_defaults(run=_serve_ipi)

    dimer = commands.add_parser("dimer", help="plot the dimer curve of a model with its physics and learned parts")
    dimer.add_argument("model", help="model file (.npz)")
    dimer.add_argument("element_a", help="element symbol or atomic number")
    dimer.add_argument("element_b", help="element symbol or atomic number")
    dimer.add_argument("--out", default="dimer.png", help="PNG file (default dimer.png)")
    dimer.set_defaults(run=_dimer)

    prop = commands.add_parser(
        "properties", help="equation of state, elastic constants, phonons and thermal expansion of a crystal",
        description="Materials properties of one crystal from a model file, by exact JAX derivatives "
                    "(hybridpot.properties): writes OUT/properties.json and plots.")
    prop.add_argument("model", help="model file (.npz)")
    prop.add_argument("structure", help="the crystal's unit cell (any ASE-readable file; its last frame, or FILE@N)")
    prop.add_argument("--what", default="eos,elastic,phonons,qha",
                      help="comma-separated: eos, elastic, phonons, qha (default: all)")
    prop.add_argument("--out", default="properties", help="output folder (default: properties)")
    prop.add_argument("--relax", action="store_true", help="relax atoms and cell first (BFGS, FrechetCellFilter)")
    prop.add_argument("--relax-fmax", type=float, default=1e-4, help="force target of --relax, eV/Å (default 1e-4)")
    prop.add_argument("--fmax", type=float, default=1e-3,
                      help="largest residual force accepted for elastic constants and phonons, eV/Å (default 1e-3)")
    prop.add_argument("--supercell", type=int, nargs=3, default=None, metavar="N",
                      help="phonon supercell (default: the smallest twice the cutoff wide)")
    prop.add_argument("--mesh", type=int, nargs=3, default=None, metavar="N", help="q mesh of DOS and thermodynamics")
    prop.add_argument("--t-max", type=float, default=1000.0, help="highest temperature, K (default 1000)")
    prop.add_argument("--t-step", type=float, default=20.0, help="temperature step, K (default 20)")
    prop.add_argument("--member", type=int, default=0, help="ensemble member (default 0)")
    prop.set_defaults(run=_properties)

    from hybridpot.cli.templates import MODEL_SECTIONS

    template = commands.add_parser("template", help="print an annotated train file",
                                   description="Print an annotated train file for `hybridpot train` to stdout.")
    template.add_argument("--model", choices=sorted(MODEL_SECTIONS), default="pair_mlp",
                          help="the model family of the model section (default pair_mlp)")
    template.set_defaults(run=_template)
    return parser


def compile_cache_dir(option: str | None = None, disabled: bool = False) -> str | None:
    """The persistent compilation cache folder of the command line, or None when disabled.

    ``option`` (``--compile-cache DIR``) wins, then ``$HYBRIDPOT_CACHE``, then
    ``~/.cache/hybridpot/jax``; ``--no-compile-cache`` (``disabled``) or
    ``HYBRIDPOT_CACHE=off`` turns it off.
    """
    choice = option or os.environ.get("HYBRIDPOT_CACHE") or os.path.join("~", ".cache", "hybridpot", "jax")
    if disabled or choice.lower() in ("off", "none", "0"):
        return None
    return os.path.expanduser(choice)


def enable_compile_cache(path: str | None) -> None:
    """Point JAX's persistent compilation cache at the folder ``path`` (None: leave it off).

    A second run of the same command then loads its compiled programs instead of compiling them
    again; programs that compiled in more than 0.1 s are kept.
    """
    if path is None:
        return
    import jax

    jax.config.update("jax_compilation_cache_dir", path)
    # cache every program that took more than 0.1 s to compile (JAX's default: 1 s)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.1)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``hybridpot`` command; returns the exit status."""
    args = build_parser().parse_args(argv)
    enable_compile_cache(compile_cache_dir(args.compile_cache, args.no_compile_cache))
    if getattr(args, "seeds", None) is not None and args.seeds < 1:
        print("hybridpot: error: --seeds must be at least 1", file=sys.stderr)
        return 2
    try:
        args.run(args)
    except (ValueError, FileNotFoundError, IsADirectoryError, PermissionError, FileExistsError,
            ConnectionError) as error:
        print(f"hybridpot: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as stop:
        from hybridpot.train import TrainingInterrupted

        if not isinstance(stop, TrainingInterrupted):
            raise
        print(f"hybridpot: interrupted after step {stop.step}; checkpoint {stop.checkpoint}; continue with "
              f"`{stop.resume_command}`", file=sys.stderr)
        return 130
    return 0
