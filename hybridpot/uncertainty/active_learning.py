"""Active learning: train an ensemble, explore with MD, label what it is unsure of, repeat.

One iteration of :func:`run_active_learning`:

1. **train** ``run.n_seeds`` members on the labelled set (:func:`hybridpot.train.fit`, vmapped);
2. **evaluate** the committee mean and spread on a fixed test set (errors and calibration);
3. **explore**: Langevin MD (ASE) driven by the committee mean from labelled structures
   (:func:`explore`); every ``sample_every`` steps a frame becomes a candidate, with its largest
   per-atom force standard deviation as uncertainty. A trajectory stops at the first frame whose
   members disagree by more than ``max_force_std`` or whose atoms come closer than
   ``min_distance``: the potential has left what it knows and that frame is likely unphysical,
   so it is not a candidate (the upper trust level of DP-GEN, Zhang et al., Comput. Phys.
   Commun. 253, 107206 (2020)); the frames before it stay candidates;
4. **select** ``n_select`` candidates: ``"uncertainty"`` (largest uncertainty with farthest-point
   diversity, :func:`~hybridpot.uncertainty.select_uncertain_diverse`) or ``"random"`` (uniform,
   the baseline with the same labelling budget);
5. **label** them with the oracle (any ASE calculator) and add them to the labelled set.

Run folder::

    state.json          config, history (one row per iteration), what was labelled when
    labelled.traj       the labelled set so far (ASE trajectory: lossless energies, forces, stress)
    iter_00/, iter_01/  the training run of each iteration (hybridpot.train run folders)

``state.json`` and ``labelled.traj`` are replaced atomically after each iteration, so a run
that stops (crash, SIGKILL) resumes with ``resume=True`` at the first unfinished iteration; that
iteration's training is redone from scratch (its seeds are fixed, so it is the same run).
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from typing import Callable, Sequence

import ase.io
import jax
import numpy as np

from hybridpot._store import atomic_write
from hybridpot.graph.neighbours import neighbour_list
from hybridpot.io.formats import label_atoms, read_structures, structures_to_atoms
from hybridpot.potentials.registry import build_model
from hybridpot.potentials.trained import TrainedPotential
from hybridpot.train import Dataset, TrainConfig, config_to_dict, fit
from hybridpot.uncertainty.calibration import calibration_report
from hybridpot.uncertainty.ensemble import committee_errors, ensemble_predict
from hybridpot.uncertainty.selection import (
    pair_distance_fingerprint,
    select_uncertain_diverse,
)

STRATEGIES = ("uncertainty", "random")
STATE_FORMAT = "hybridpot-active-learning-1"

#: ``make_model(labelled) -> (model_kind, model_args)``: the registry name and constructor
#: arguments of the model to train on the labelled set (e.g. with a descriptor scaling fitted to it).
ModelFactory = Callable[[Dataset], tuple]
#: ``oracle() -> ase Calculator``: a fresh reference calculator (EMT, DFT, xTB, ...).
Oracle = Callable[[], object]


@dataclasses.dataclass(frozen=True)
class ExplorationConfig:
    """Langevin MD that proposes candidates (ASE units converted from these).

    Attributes:
        temperatures_K: trajectory t runs at ``temperatures_K[t % len]``, K.
        n_trajectories: trajectories per iteration, each from a random labelled structure.
        n_steps: MD steps per trajectory.
        timestep_fs: fs.
        friction_per_fs: Langevin friction, 1/fs.
        sample_every: steps between candidate frames.
        max_force_std: eV/Å, the trust level: a trajectory stops at the first frame whose largest
            atomic force std exceeds it (that frame is dropped).
        min_distance: Å; likewise once two atoms are closer.
    """

    temperatures_K: tuple = (600.0, 1200.0)
    n_trajectories: int = 4
    n_steps: int = 300
    timestep_fs: float = 2.0
    friction_per_fs: float = 0.02
    sample_every: int = 10
    max_force_std: float = 1.0
    min_distance: float = 1.2

    def __post_init__(self):
        object.__setattr__(self, "temperatures_K", tuple(float(t) for t in self.temperatures_K))
        if not self.temperatures_K or min(self.temperatures_K) <= 0:
            raise ValueError(f"temperatures_K must be positive temperatures, got {list(self.temperatures_K)}")
        for name in ("n_trajectories", "n_steps", "sample_every"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("timestep_fs", "friction_per_fs", "max_force_std", "min_distance"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")


@dataclasses.dataclass(frozen=True)
class ActiveLearningConfig:
    """The loop.

    Attributes:
        n_iterations: label-and-retrain rounds (the loop trains ``n_iterations + 1`` ensembles).
        n_select: structures labelled per round.
        strategy: ``"uncertainty"`` or ``"random"``.
        oversample: candidate pool of the diversity step = ``oversample · n_select`` most uncertain.
        seed: seed of exploration (start structures, velocities, thermostat) and random selection.
        fingerprint_cutoff: Å, cutoff of :func:`~hybridpot.uncertainty.pair_distance_fingerprint`.
        exploration: :class:`ExplorationConfig`.
    """

    n_iterations: int = 5
    n_select: int = 10
    strategy: str = "uncertainty"
    oversample: float = 4.0
    seed: int = 0
    fingerprint_cutoff: float = 5.0
    exploration: ExplorationConfig = ExplorationConfig()

    def __post_init__(self):
        if self.strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {STRATEGIES}, got {self.strategy!r}")
        if int(self.n_iterations) < 0 or int(self.n_select) < 1:
            raise ValueError(f"n_iterations must be >= 0 and n_select >= 1, got {self.n_iterations}, {self.n_select}")
        if self.oversample < 1:
            raise ValueError(f"oversample must be >= 1, got {self.oversample}")


@dataclasses.dataclass
class ActiveLearningResult:
    """Outcome of :func:`run_active_learning`.

    Attributes:
        history: one dict per trained ensemble: ``iteration``, ``n_labelled``, test
            ``energy_per_atom_rmse`` (eV/atom) and ``forces_rmse`` (eV/Å) of the committee mean,
            ``forces_calibration`` (:func:`~hybridpot.uncertainty.calibration_report` of force
            components), and for the rounds that labelled: ``n_candidates``, ``selected_uncertainty``
            (eV/Å), ``candidate_uncertainty_median`` (eV/Å), ``stopped_trajectories``.
        labelled: the final labelled set.
        potential: the last trained ensemble.
        run_dir: the run folder.
    """

    history: list
    labelled: Dataset
    potential: TrainedPotential
    run_dir: str


def _too_close(atoms, min_distance: float) -> bool:
    pbc = np.asarray(atoms.get_pbc())
    senders, _, _ = neighbour_list(atoms.get_positions(), min_distance, np.asarray(atoms.get_cell()) if pbc.any() else None, pbc)
    return senders.size > 0


def explore(potential: TrainedPotential, starts: Sequence, config: ExplorationConfig, rng: np.random.Generator):
    """Candidate frames from Langevin MD driven by the committee mean of ``potential``.

    Args:
        potential: an ensemble (``n_members`` ≥ 2: the spread is the uncertainty).
        starts: ASE ``Atoms`` to start trajectories from (copied; chosen at random).
        config: :class:`ExplorationConfig`.
        rng: numpy generator (start choice, velocities, thermostat noise).

    Returns:
        ``(frames, uncertainty [n_frames] eV/Å, n_stopped)``: unlabelled ``Atoms`` within the trust
        level, the largest per-atom force std of each, and how many trajectories stopped early.
    """
    from ase import units
    from ase.md.langevin import Langevin
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution, Stationary

    from hybridpot.md import HybridpotCalculator

    if potential.n_members < 2:
        raise ValueError(f"exploration needs an ensemble (n_members >= 2), the potential has {potential.n_members}")
    if not len(starts):
        raise ValueError("explore needs at least one start structure")
    calc = HybridpotCalculator(potential)
    frames, uncertainty, n_stopped = [], [], 0
    for t in range(config.n_trajectories):
        atoms = starts[int(rng.integers(len(starts)))].copy()
        atoms.calc = calc
        temperature = config.temperatures_K[t % len(config.temperatures_K)]
        MaxwellBoltzmannDistribution(atoms, temperature_K=temperature, rng=rng)
        Stationary(atoms)
        dyn = Langevin(atoms, config.timestep_fs * units.fs, temperature_K=temperature,
                       friction=config.friction_per_fs / units.fs, fixcm=False, rng=rng)
        for _ in range(config.n_steps // config.sample_every):
            dyn.run(config.sample_every)
            f_std = calc.results.get("forces_std")
            u = float(np.sqrt((f_std**2).sum(axis=1)).max()) if f_std is not None else np.inf
            frame = atoms.copy()
            frame.calc = None
            close = not np.all(np.isfinite(frame.get_positions())) or _too_close(frame, config.min_distance)
            if not np.isfinite(u) or u > config.max_force_std or close:
                n_stopped += 1  # beyond the trust level: the frame is likely unphysical, not a candidate
                break
            frames.append(frame)
            uncertainty.append(u)
    return frames, np.asarray(uncertainty), n_stopped


def _test_row(potential: TrainedPotential, test: Dataset) -> dict:
    dtype = np.float64 if jax.config.read("jax_enable_x64") else np.float32
    stats = ensemble_predict(potential, test, dtype=dtype)
    errors = committee_errors(stats, test)
    e_err, _ = errors["energy_per_atom"]
    row = {"energy_per_atom_rmse": float(np.sqrt(np.mean(e_err**2)))}
    if "forces" not in errors:  # a test set with energy labels only
        return row
    f_err, f_std = errors["forces"]
    row["forces_rmse"] = float(np.sqrt(np.mean(f_err**2)))
    if potential.n_members > 1 and np.all(f_std > 0):
        row["forces_calibration"] = calibration_report(f_err, f_std)
    return row


def run_active_learning(initial: Dataset, test: Dataset, oracle: Oracle, make_model: ModelFactory,
                        train_config: TrainConfig, config: ActiveLearningConfig, run_dir: str, *,
                        valid: Dataset | None = None, starts: Sequence | None = None, resume: bool = False,
                        log: Callable[[str], None] = print) -> ActiveLearningResult:
    """The active-learning loop of the module docstring.

    Args:
        initial: the first labelled structures.
        test: fixed held-out structures the error is reported on (never trained on).
        oracle: ``oracle() -> ase Calculator`` that labels new structures.
        make_model: ``make_model(labelled) -> (model_kind, model_args)`` (a registry model).
        train_config: trainer config of every iteration; ``run.n_seeds`` ≥ 2 is the ensemble size.
        config: :class:`ActiveLearningConfig`.
        run_dir: run folder (see the module docstring).
        valid: validation structures for the trainer's best checkpoint (None: final EMA).
        starts: ASE ``Atoms`` to start MD from (default: the labelled set of each iteration).
        resume: continue the run in ``run_dir`` (its config must equal ``config``).
        log: one line per step of the loop.
    """
    if train_config.run.n_seeds < 2:
        raise ValueError(f"active learning needs an ensemble: train_config.run.n_seeds must be >= 2, "
                         f"got {train_config.run.n_seeds}")
    os.makedirs(run_dir, exist_ok=True)
    state_path = os.path.join(run_dir, "state.json")
    labelled_path = os.path.join(run_dir, "labelled.traj")
    meta = {"format": STATE_FORMAT, "config": dataclasses.asdict(config), "train_config": config_to_dict(train_config)}
    meta = json.loads(json.dumps(meta))  # tuples → lists, as the file holds them
    history, labelled = [], initial
    if os.path.exists(state_path):
        if not resume:
            raise FileExistsError(f"{run_dir} already holds an active-learning run; pass resume=True or use another folder")
        with open(state_path) as f:
            state = json.load(f)
        if {k: state.get(k) for k in meta} != meta:
            raise ValueError(f"{run_dir}: the run was started with another config; resume needs the same one")
        history = state["history"]
        labelled = Dataset(read_structures(labelled_path))
        log(f"resuming {run_dir} after iteration {history[-1]['iteration']} ({len(labelled)} labelled)")
    potential = None
    for it in range(len(history), config.n_iterations + 1):
        rng = np.random.default_rng([config.seed, it])  # per iteration: a resumed run makes the same choices
        iter_dir = os.path.join(run_dir, f"iter_{it:02d}")
        if os.path.exists(iter_dir):
            shutil.rmtree(iter_dir)  # an interrupted iteration: retrain it (same seeds, same run)
        kind, args = make_model(labelled)
        model = build_model(kind, args)
        result = fit(model, labelled, valid, train_config, iter_dir)
        potential = TrainedPotential(kind, args, result.best_params, result.normalisation,
                                     config=config_to_dict(train_config), metadata={"active_learning_iteration": it})
        row = {"iteration": it, "n_labelled": len(labelled), **_test_row(potential, test)}
        log(f"iteration {it}: {len(labelled)} labelled, test E {1000 * row['energy_per_atom_rmse']:.2f} meV/atom, "
            f"F {1000 * row['forces_rmse']:.1f} meV/Å")
        if it < config.n_iterations:
            pool = structures_to_atoms(labelled) if starts is None else list(starts)
            frames, uncertainty, n_stopped = explore(potential, pool, config.exploration, rng)
            if not frames:
                raise RuntimeError(f"iteration {it}: exploration produced no candidate frames (every trajectory "
                                   "stopped at once); lower the temperatures or raise max_force_std")
            k = min(config.n_select, len(frames))
            if config.strategy == "uncertainty":
                species = sorted({int(z) for a in frames for z in a.numbers} | set(model.species or ()))
                features = np.stack([pair_distance_fingerprint(a.get_positions(), a.numbers, species,
                                                               cutoff=config.fingerprint_cutoff, cell=np.asarray(a.get_cell()),
                                                               pbc=a.get_pbc()) for a in frames])
                picked = select_uncertain_diverse(uncertainty, features, k, oversample=config.oversample)
            else:
                picked = rng.choice(len(frames), size=k, replace=False)
            new = label_atoms([frames[i] for i in picked], oracle())
            labelled = Dataset(list(labelled.structures) + list(new.structures))
            row.update({"n_candidates": len(frames), "stopped_trajectories": n_stopped,
                        "selected_uncertainty": uncertainty[picked].tolist(),
                        "candidate_uncertainty_median": float(np.median(uncertainty))})
            log(f"  explored {len(frames)} candidates ({n_stopped} trajectories stopped early), labelled {k}")
        history.append(row)
        atoms = structures_to_atoms(labelled)
        atomic_write(labelled_path, lambda f: ase.io.write(f, atoms, format="traj"))
        text = json.dumps({**meta, "history": history}, indent=1)
        atomic_write(state_path, lambda f: f.write(text.encode()))
    if potential is None:
        raise ValueError(f"{run_dir}: the run had already finished all {config.n_iterations} iterations")
    return ActiveLearningResult(history, labelled, potential, run_dir)
