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
* ``output``: the run folder; the model file is written to ``<output>/model.npz``.

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
    """Read and validate a train file (YAML); relative data paths are taken from the file's folder."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"train file {path} does not exist")
    with open(path, encoding="utf-8") as f:
        try:
            data = yaml.safe_load(f)
        except yaml.YAMLError as err:
            raise ValueError(f"{path}: not valid YAML: {err}") from None
    if data is not None and not isinstance(data, dict):
        raise ValueError(f"{path}: a train file must hold a mapping, got {type(data).__name__}")
    parsed = parse_train_file(data, overrides, source=path)
    base = os.path.dirname(os.path.abspath(path))

    def resolve(p):
        return p if p is None or os.path.isabs(p) or os.path.exists(p) else os.path.join(base, p)

    ds = dataclasses.replace(parsed.dataset, train=resolve(parsed.dataset.train), valid=resolve(parsed.dataset.valid))
    return dataclasses.replace(parsed, dataset=ds)


def complete_model_args(kind: str, args: dict, species: Sequence[int], dtype: str, train=None) -> dict:
    """``args`` with ``species`` (sorted atomic numbers), ``dtype`` and ``avg_num_neighbors`` (the
    mean neighbour count of the ``train`` structures at the model's cutoff) filled in when the
    constructor of ``kind`` takes them and they are not given."""
    from hybridpot.potentials.registry import model_constructor

    params = inspect.signature(model_constructor(kind)).parameters
    out = dict(args)
    if "species" in params and "species" not in out:
        out["species"] = sorted(int(z) for z in species)
    if "dtype" in params and "dtype" not in out:
        out["dtype"] = dtype
    if "avg_num_neighbors" in params and "avg_num_neighbors" not in out and train is not None:
        from hybridpot.graph import build_graph
        from hybridpot.models import average_neighbour_count

        cutoff = float(out.get("cutoff", params["cutoff"].default))
        graphs = [build_graph(s.positions, s.numbers, cutoff, cell=s.cell, pbc=s.pbc) for s in train.structures]
        out["avg_num_neighbors"] = round(average_neighbour_count(graphs), 6)
    return out


def train_from_file(spec: TrainFile, *, progress: bool | None = None):
    """Run the training a :class:`TrainFile` describes and write ``<output>/model.npz``.

    Returns:
        ``(potential, train_result, model_path)``.
    """
    import jax

    from hybridpot.io.formats import read_structures
    from hybridpot.potentials import (
        TrainedPotential,
        build_potential_model,
        save_potential,
    )
    from hybridpot.train import fit

    config = spec.config
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
    result = fit(model, train, valid, config, spec.output)
    metrics = {k: np.asarray(v).tolist() for k, v in result.valid_metrics.items()}
    potential = TrainedPotential.from_run(spec.output, spec.model_kind, args, physics=spec.physics,
                                          strategy=spec.strategy,
                                          metadata={"valid_metrics": metrics, "train_file": spec.source,
                                                    "n_train": len(train), "n_valid": 0 if valid is None else len(valid)})
    path = save_potential(os.path.join(spec.output, "model.npz"), potential)
    return potential, result, path


#: The annotated train file printed by ``hybridpot template``.
TEMPLATE = """\
# hybridpot train file: `hybridpot train this.yaml --set key=value ...`
# Units: Å, eV, eV/Å, eV/Å³ inside hybridpot; declare the files' units below.

dataset:
  train: train.extxyz        # required: extxyz / any ASE-readable file, ASE .db, or MD17 .npz
  valid: null                # a separate validation file, or null to hold out valid_fraction
  valid_fraction: 0.1        # share of `train` held out for validation (0: none)
  split_seed: 0
  format: null               # force a reader (e.g. extxyz, db, md17); null: from the file name
  energy_unit: eV            # eV, meV, hartree, Ry, kcal/mol, kJ/mol
  length_unit: Å             # Å (angstrom), bohr, nm
  energy_key: null           # label names when not energy / forces / stress (e.g. REF_energy)
  forces_key: null
  stress_key: null

model:
  kind: pair_mlp             # required: a registered model kind (`hybridpot.potentials.model_kinds()`)
  cutoff: 4.0                # every other key is a constructor argument of that kind
  hidden: [16, 16]
  # species: [13, 29]        # default: the elements of the training data
  # dtype: float32           # default: run.dtype
  # equivariant kinds (mace, nequip): channels, lmax, num_interactions, correlation (mace),
  # avg_num_neighbors (default: the training structures' mean neighbour count)

physics: null                # physics term, e.g. {kind: zbl, cutoff: 2.0, switch: envelope}
                             # kinds: zbl, morse, lennard_jones, buckingham, harmonic,
                             # embedded_atom, coulomb; trainable: true fits its parameters
strategy: null               # with a physics term: additive (null), {name: aphynity, penalty: 0.1},
                             # {name: sequential} (physics first, then the model), {name: physinet}

output: runs/my_potential    # run folder; the model file is <output>/model.npz

data:                        # batching and padding
  batch_size: 8
  n_buckets: 3
loss:
  kind: mse                  # mse, mae, huber
  energy_weight: 1.0
  energy_per_atom: true
  forces_weight: 10.0
  stress_weight: 0.0         # > 0 trains on stress (periodic structures with stress labels)
optim:
  name: adam
  learning_rate: 1.0e-3
  decay: cosine              # constant, cosine, exponential
  ema_decay: 0.99
normalisation:
  shift: true                # per-element energies fitted by least squares
  scale: true                # scale the model output by the force RMS
run:
  seed: 0
  n_seeds: 1                 # > 1 trains an ensemble (vmapped); calculators report its spread
  max_steps: 1000
  eval_every: 100
  checkpoint_every: 100
  patience: null
  dtype: float32
"""
