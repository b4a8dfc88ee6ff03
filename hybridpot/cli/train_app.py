"""The ``hybridpot train`` application: a train file → data, the composed model, a run, a model file.

One YAML file holds the trainer's sections (``data``, ``loss``, ``optim``, ``normalisation``,
``run``: :mod:`hybridpot.train.config`) and five more:

* ``dataset``: the data files and their units (:class:`DatasetFiles`);
* ``model``: ``kind`` (a registry name, :mod:`hybridpot.potentials.registry`) and the constructor's
  arguments; ``species`` and ``dtype`` default to the training data's elements and ``run.dtype``
  when the constructor takes them;
* ``physics``: the physics term ``{kind: ..., ...}`` (:mod:`hybridpot.potentials.physics_terms`)
  or null;
* ``strategy``: how the physics term and the model compose and train, ``{name: ..., ...}``
  (:data:`hybridpot.hybrid.STRATEGIES`: ``additive``, ``aphynity`` with ``penalty``,
  ``sequential``, ``physinet``); null means ``additive`` (with a physics term);
* ``output``: the run folder; the model file is written to ``<output>/model.npz``, and the train
  file as it was understood (data paths made absolute) to ``<output>/train.yaml``, from which
  ``hybridpot train --resume RUN`` continues a stopped run.

``key=value`` overrides (``--set`` on the command line) reach every section:
``dataset.train=data.xyz``, ``model.cutoff=5.0``, ``physics.kind=zbl``, ``strategy.name=aphynity``,
``optim.learning_rate=3e-4``. Values of ``dataset``/``model``/``physics``/``strategy``/``output`` are
parsed as YAML (``[16, 16]``, ``null``).
"""

from __future__ import annotations

import dataclasses
import inspect
import os
from typing import Annotated, Sequence

import numpy as np
import yaml
from pydantic import (
    ConfigDict,
    Field,
    StrictFloat,
    StrictInt,
    StrictStr,
    ValidationError,
)
from pydantic.dataclasses import dataclass

from hybridpot.potentials.physics_terms import build_physics
from hybridpot.potentials.registry import check_strategy
from hybridpot.train.config import TrainConfig, apply_overrides, config_from_dict
from hybridpot.validation import check_model_args, load_yaml

#: Sections of a train file besides the trainer's own.
EXTRA_SECTIONS = ("dataset", "model", "physics", "strategy", "output")


@dataclass(frozen=True, config=ConfigDict(extra="forbid"))
class DatasetFiles:
    """Where the labelled structures are and in which units (validated by pydantic, as the trainer's config).

    Attributes:
        train: training file (extxyz or any ASE-readable file, ``.db``, MD17 ``.npz``).
        valid: validation file, or None to hold out ``valid_fraction`` of ``train``.
        valid_fraction: fraction of ``train`` held out when ``valid`` is None (0: no validation).
        split_seed: seed of that random split.
        format: reader override (see :func:`hybridpot.io.read_structures`).
        energy_unit, length_unit: units of the files (converted to eV and Å).
        energy_key, forces_key, stress_key: label names when not ``energy``/``forces``/``stress``.
    """

    train: Annotated[StrictStr, Field(min_length=1)]
    valid: StrictStr | None = None
    valid_fraction: Annotated[StrictFloat, Field(ge=0.0, lt=1.0)] = 0.1
    split_seed: StrictInt = 0
    format: StrictStr | None = None
    energy_unit: StrictStr = "eV"
    length_unit: StrictStr = "Å"
    energy_key: StrictStr | None = None
    forces_key: StrictStr | None = None
    stress_key: StrictStr | None = None


@dataclasses.dataclass(frozen=True)
class TrainFile:
    """A parsed train file.

    Attributes:
        config: the trainer's :class:`~hybridpot.train.TrainConfig`.
        dataset: :class:`DatasetFiles`.
        model_kind: registry name of the model.
        model_args: constructor arguments (before data-derived defaults).
        physics: physics-term spec or None.
        strategy: strategy spec or None (additive with a physics term).
        output: run folder.
        source: the file it came from (None for a dict).
    """

    config: TrainConfig
    dataset: DatasetFiles
    model_kind: str
    model_args: dict
    physics: dict | None
    strategy: dict | None
    output: str
    source: str | None = None


def _set_nested(data: dict, key: str, text: str) -> None:
    parts = key.split(".")
    node = data
    for part in parts[:-1]:
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            raise ValueError(f"override {key!r}: {part!r} is not a section")
        node = child
    try:
        node[parts[-1]] = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ValueError(f"override {key!r}: cannot parse value {text!r}: {err}") from None


def parse_train_file(data: dict | None, overrides: Sequence[str] = (), *, source: str | None = None) -> TrainFile:
    """Validate a train-file dict (parsed YAML) with ``key=value`` overrides.

    Raises:
        ValueError: unknown sections or keys, wrong types, a missing ``dataset.train`` or
            ``model.kind``; each message names the key (and ``source``).
    """
    where = f"{source}: " if source else ""
    if data is not None and not isinstance(data, dict):
        raise ValueError(f"{where}a train file must hold a mapping, got {type(data).__name__}")
    data = dict(data or {})
    trainer_overrides = []
    for item in overrides:
        if "=" not in item:
            raise ValueError(f"override {item!r} must look like 'section.key=value'")
        key, text = (s.strip() for s in item.split("=", 1))
        if key.split(".")[0] in EXTRA_SECTIONS:
            _set_nested(data, key, text)
        else:
            trainer_overrides.append(f"{key}={text}")
    trainer = {k: v for k, v in data.items() if k not in EXTRA_SECTIONS}
    try:
        config = config_from_dict(apply_overrides(trainer, trainer_overrides))
    except ValueError as err:
        raise ValueError(f"{where}{err} (sections of a train file: {list(EXTRA_SECTIONS)} and the trainer's "
                         f"{[f.name for f in dataclasses.fields(TrainConfig)]})") from None

    ds = data.get("dataset")
    if not isinstance(ds, dict) or not ds.get("train"):
        raise ValueError(f"{where}the train file must name the training data: dataset.train (a file)")
    try:
        dataset = DatasetFiles(**ds)
    except ValidationError as err:
        known = [f.name for f in dataclasses.fields(DatasetFiles)]
        problems = [f"unknown dataset key {e['loc'][0]!r} (known: {known})" if e["type"] == "unexpected_keyword_argument"
                    else f"dataset.{'.'.join(map(str, e['loc']))}={e['input']!r}: {e['msg']}" for e in err.errors()]
        raise ValueError(where + "; ".join(problems)) from None

    model = data.get("model")
    if not isinstance(model, dict) or not model.get("kind"):
        raise ValueError(f"{where}the train file must name a model: model.kind (e.g. pair_mlp)")
    model_args = {k: v for k, v in model.items() if k != "kind"}
    try:
        check_model_args(str(model["kind"]), model_args)
    except ValueError as err:
        raise ValueError(f"{where}{err}") from None
    physics = data.get("physics")
    if physics is not None and (not isinstance(physics, dict) or "kind" not in physics):
        raise ValueError(f"{where}physics must be null or a mapping with a 'kind', got {physics!r}")
    strategy = data.get("strategy")
    try:
        check_strategy(strategy, physics is not None)
        if physics is not None:
            build_physics(physics)
    except ValueError as err:
        raise ValueError(f"{where}{err}") from None
    output = data.get("output") or "runs/hybridpot"
    if not isinstance(output, str):
        raise ValueError(f"{where}output must be a folder name, got {output!r}")
    return TrainFile(config, dataset, str(model["kind"]), model_args, physics, strategy, output, source)


def load_train_file(path, overrides: Sequence[str] = ()) -> TrainFile:
    """Read and validate a train file (YAML); relative data paths are taken from the file's folder.

    Raises:
        FileNotFoundError: no such file.
        ValueError: invalid YAML, a key repeated in one mapping, or what :func:`parse_train_file` rejects.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"train file {path} does not exist")
    with open(path, encoding="utf-8") as f:
        data = load_yaml(f, path)
    if data is not None and not isinstance(data, dict):
        raise ValueError(f"{path}: a train file must hold a mapping, got {type(data).__name__}")
    parsed = parse_train_file(data, overrides, source=path)
    base = os.path.dirname(os.path.abspath(path))

    def resolve(p):
        return p if p is None or os.path.isabs(p) or os.path.exists(p) else os.path.join(base, p)

    ds = dataclasses.replace(parsed.dataset, train=resolve(parsed.dataset.train), valid=resolve(parsed.dataset.valid))
    return dataclasses.replace(parsed, dataset=ds)


def complete_model_args(kind: str, args: dict, species: Sequence[int], dtype: str, train=None) -> dict:
    """``args`` with what the constructor of ``kind`` takes and the train file left out: ``species``
    (sorted atomic numbers), ``dtype``, ``avg_num_neighbors`` (the mean neighbour count of the
    ``train`` structures at the model's cutoff) and, for Behler–Parrinello, ``spec`` (a
    :func:`~hybridpot.models.symmetry_function_spec` for the species from the options in
    ``descriptor``, default cutoff 6 Å) and ``scaling`` (fitted on ``train``)."""
    from hybridpot.potentials.registry import model_constructor

    params = inspect.signature(model_constructor(kind)).parameters
    out = dict(args)
    if "species" in params and "species" not in out:
        out["species"] = sorted(int(z) for z in species)
    if "dtype" in params and "dtype" not in out:
        out["dtype"] = dtype
    graphs = {}

    def train_graphs(cutoff: float):
        from hybridpot.graph import build_graph

        if train is None:
            raise ValueError(f"model kind {kind!r}: {sorted(set(params) - set(out))} are fitted to training data; "
                             "none was given")
        if cutoff not in graphs:
            graphs[cutoff] = [build_graph(s.positions, s.numbers, cutoff, cell=s.cell, pbc=s.pbc)
                              for s in train.structures]
        return graphs[cutoff]

    if "avg_num_neighbors" in params and "avg_num_neighbors" not in out and train is not None:
        from hybridpot.models import average_neighbour_count

        cutoff = float(out.get("cutoff", params["cutoff"].default))
        out["avg_num_neighbors"] = round(average_neighbour_count(train_graphs(cutoff)), 6)
    if "spec" in params and "scaling" in params:
        out = _behler_parrinello_args(out, species, train_graphs)
    return out


def _behler_parrinello_args(args: dict, species: Sequence[int], train_graphs) -> dict:
    """``spec`` (from ``descriptor`` options for ``species``, unless given) and ``scaling`` (fitted
    on the training graphs, unless given) of a Behler–Parrinello model."""
    from hybridpot.models import behler_parrinello_model_args, fit_descriptor_scaling, symmetry_function_spec
    from hybridpot.models.behler_parrinello import scaling_from_json, spec_from_json

    args = dict(args)
    descriptor = args.pop("descriptor", None)
    if "spec" in args:
        if descriptor is not None:
            raise ValueError("model: give either spec (a fitted symmetry-function set) or descriptor options, not both")
        spec = spec_from_json(args["spec"])
    else:
        options = {"cutoff": 6.0, **(descriptor or {})}
        known = set(inspect.signature(symmetry_function_spec).parameters) - {"species"}
        unknown = sorted(set(options) - known)
        if unknown:
            raise ValueError(f"model.descriptor: unknown option(s) {unknown}; known: {sorted(known)}")
        spec = symmetry_function_spec(sorted(int(z) for z in species), **options)
    scaling = scaling_from_json(args["scaling"]) if "scaling" in args else \
        fit_descriptor_scaling(spec, train_graphs(spec.cutoff))
    given = {k: args[k] for k in ("hidden", "activation") if k in args}
    return {**args, **behler_parrinello_model_args(spec, scaling, **given)}


#: The train file a run folder keeps (what ``hybridpot train --resume RUN`` reads).
RUN_TRAIN_FILE = "train.yaml"


def train_file_dict(spec: TrainFile) -> dict:
    """``spec`` as a train-file mapping (every trainer key; data paths absolute): what
    :func:`parse_train_file` reads back to the same :class:`TrainFile`."""
    from hybridpot.train import config_to_dict

    dataset = dataclasses.asdict(spec.dataset)
    for key in ("train", "valid"):
        if dataset[key] is not None:
            dataset[key] = os.path.abspath(dataset[key])
    return {**config_to_dict(spec.config), "dataset": dataset, "model": {"kind": spec.model_kind, **spec.model_args},
            "physics": spec.physics, "strategy": spec.strategy, "output": spec.output}


def save_run_train_file(spec: TrainFile) -> str:
    """Write ``<output>/train.yaml`` (atomically, unless the same is there); returns its path."""
    from hybridpot._store import atomic_write

    path = os.path.join(spec.output, RUN_TRAIN_FILE)
    text = yaml.safe_dump(train_file_dict(spec), sort_keys=False, allow_unicode=True)
    atomic_write(path, lambda f: f.write(text.encode()))
    return path


def check_same_run(spec: TrainFile) -> None:
    """Raise ``ValueError`` naming the keys in which ``spec`` differs from the train file saved in
    its run folder (a resumed run must be the run that was started)."""
    path = os.path.join(spec.output, RUN_TRAIN_FILE)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path} does not exist: {spec.output} was not started by `hybridpot train`")
    with open(path, encoding="utf-8") as f:
        saved = yaml.safe_load(f)
    given = train_file_dict(spec)
    differ = sorted(_differences(saved, given))
    differ = [k for k in differ if k != "output" and k != "run.progress"]
    if differ:
        raise ValueError(f"cannot resume {spec.output}: the train file differs from the run's {path} in {differ}; "
                         "train into another folder to change them")


def _differences(a, b, prefix: str = "") -> set:
    if isinstance(a, dict) and isinstance(b, dict):
        return set().union(*[_differences(a.get(k), b.get(k), f"{prefix}{k}.") for k in set(a) | set(b)])
    return set() if a == b else {prefix.rstrip(".")}


def load_run_train_file(run_dir: str) -> TrainFile:
    """The :class:`TrainFile` of the run in ``run_dir`` (its ``train.yaml``), with ``output = run_dir``."""
    path = os.path.join(run_dir, RUN_TRAIN_FILE)
    if not os.path.isdir(run_dir):
        raise FileNotFoundError(f"run folder {run_dir} does not exist" if not os.path.exists(run_dir) else
                                f"{run_dir} is a file; --resume takes a run folder (or put the train file first: "
                                "`hybridpot train CONFIG --resume`)")
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path} does not exist: {run_dir} is not a run folder of `hybridpot train`")
    return dataclasses.replace(load_train_file(path), output=run_dir)


def train_from_file(spec: TrainFile, *, progress: bool | None = None, resume: bool = False):
    """Run the training a :class:`TrainFile` describes and write ``<output>/model.npz``.

    Args:
        spec: the train file.
        progress: show the progress bar (None: as ``run.progress`` says).
        resume: continue the run in ``spec.output`` if there is one (it must have been started with
            the same train file); start it otherwise.
    Returns:
        ``(potential, train_result, model_path)``.
    Raises:
        FileExistsError: ``spec.output`` holds a run and ``resume`` is False.
        ValueError: training stopped on a non-finite loss (:class:`~hybridpot.train.NonFiniteError`);
            the message names the files that hold the last good state, and the model file when one
            could be written from it.
    """
    import jax

    from hybridpot.io.formats import read_structures
    from hybridpot.potentials import build_potential_model
    from hybridpot.train import NonFiniteError, fit, has_run
    from hybridpot.train import resume as resume_run

    config = spec.config
    continuing = has_run(spec.output)
    if continuing and not resume:
        raise FileExistsError(f"{spec.output} already holds a run: continue it with `hybridpot train --resume "
                              f"{spec.output}` or train into another folder (--out)")
    if continuing:
        check_same_run(spec)
    if progress is not None:
        config = dataclasses.replace(config, run=dataclasses.replace(config.run, progress=progress))
    if config.run.dtype == "float64":
        jax.config.update("jax_enable_x64", True)
    ds = spec.dataset
    read = dict(format=ds.format, energy_unit=ds.energy_unit, length_unit=ds.length_unit,
                energy_key=ds.energy_key, forces_key=ds.forces_key, stress_key=ds.stress_key)
    train = read_structures(ds.train, **read)
    if ds.valid is not None:
        valid = read_structures(ds.valid, **read)
    else:
        n_valid = int(round(ds.valid_fraction * len(train)))
        valid = None
        if n_valid > 0:
            if len(train) - n_valid < 1:
                raise ValueError(f"{ds.train}: {len(train)} structure(s) are too few to hold out "
                                 f"valid_fraction={ds.valid_fraction}")
            train, valid = train.split(n_valid, seed=ds.split_seed)
    species = np.unique(np.concatenate([s.numbers for s in train.structures + (valid.structures if valid else [])]))
    args = complete_model_args(spec.model_kind, spec.model_args, species.tolist(), config.run.dtype, train)
    model = build_potential_model(spec.model_kind, args, spec.physics, spec.strategy)
    facts = {"train_file": spec.source, "n_train": len(train), "n_valid": 0 if valid is None else len(valid)}
    try:
        if continuing:
            result = resume_run(spec.output, model, train, valid)
        else:
            os.makedirs(spec.output, exist_ok=True)
            save_run_train_file(spec)
            result = fit(model, train, valid, config, spec.output)
    except NonFiniteError as err:
        try:
            _potential, path = _write_model(spec, args, {**facts, "stopped": str(err)})
        except FileNotFoundError:
            raise ValueError(f"training stopped: {err} No model file was written: no usable checkpoint.") from None
        raise ValueError(f"training stopped: {err} {path} holds the model of the last good checkpoint.") from None
    metrics = {k: np.asarray(v).tolist() for k, v in result.valid_metrics.items()}
    potential, path = _write_model(spec, args, {"valid_metrics": metrics, **facts})
    return potential, result, path


def _write_model(spec: TrainFile, args: dict, metadata: dict):
    """``(potential, path)``: the run's model (:func:`hybridpot.train.load_best`) written to ``<output>/model.npz``."""
    from hybridpot.potentials import TrainedPotential, save_potential

    potential = TrainedPotential.from_run(spec.output, spec.model_kind, args, physics=spec.physics,
                                          strategy=spec.strategy, metadata=metadata)
    return potential, save_potential(os.path.join(spec.output, "model.npz"), potential)
