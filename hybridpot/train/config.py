"""Typed, validated training configuration: dataclasses, YAML files and ``key.sub=value`` overrides.

A :class:`TrainConfig` is a tree of frozen pydantic dataclasses (plain dataclasses to the rest of
the code: hashable, so a config is a static argument of compiled functions, and
``dataclasses.replace`` revalidates). :func:`config_from_dict` validates a plain dict against it
with pydantic: unknown keys are rejected, and every unknown key, value of the wrong type or value
out of range raises ``ValueError`` naming the dotted key (``optim.learnin_rate``). The full config
is written to every run folder (``config.yaml``) and into every checkpoint.

Example::

    cfg = load_config("train.yaml", overrides=["optim.learning_rate=3e-4", "run.n_seeds=4"])
"""

from __future__ import annotations

import dataclasses
import re
import typing
from collections.abc import Sequence
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic.dataclasses import dataclass

from hybridpot.validation import load_yaml

# Strictness is per field rather than ``ConfigDict(strict=True)``, which would also refuse a mapping
# for a section: bools are not numbers, strings are not parsed (YAML gives real types), a float is
# not an int, and an int is accepted (and converted) for a float.
_SECTION = ConfigDict(extra="forbid", strict=False)
# Floats are finite (``.inf`` or ``.nan`` in a file is an error, not a run that ends in NaN).
_IntGe0 = Annotated[StrictInt, Field(ge=0)]
_IntGe1 = Annotated[StrictInt, Field(ge=1)]
_FloatGe0 = Annotated[StrictFloat, Field(ge=0, allow_inf_nan=False)]
_FloatGt0 = Annotated[StrictFloat, Field(gt=0, allow_inf_nan=False)]
#: Largest accepted learning rate: above it every optimiser here diverges on a normalised potential.
MAX_LEARNING_RATE = 1.0


@dataclass(frozen=True, config=_SECTION)
class DataConfig:
    """Batching and padding.

    Attributes:
        batch_size: structures per optimisation step (over all devices).
        n_buckets: number of padded sizes (each compiles once).
        bucket_ratio: size ratio between successive buckets (> 1).
        shuffle: reshuffle the training set every epoch (order from the run's data-order key).
        prefetch: batches prepared ahead by a background thread (0: none).
    """

    batch_size: _IntGe1 = 8
    n_buckets: _IntGe1 = 3
    bucket_ratio: Annotated[StrictFloat, Field(gt=1, allow_inf_nan=False)] = 1.5
    shuffle: StrictBool = True
    prefetch: _IntGe0 = 2


@dataclass(frozen=True, config=_SECTION)
class LossConfig:
    """Loss: ``w_E·L(E) + w_F·L(F) + w_σ·L(σ)``, each a masked mean of an elementwise loss.

    A penalty on the learned part of a hybrid (APHYNITY) belongs to the model, not to this
    section: ``hybridpot.hybrid.aphynity(physics, learned, penalty=λ)``.

    Attributes:
        kind: elementwise loss ``"mse"``, ``"mae"`` or ``"huber"``.
        huber_delta: Huber transition (in the unit of each quantity).
        energy_weight: w_E.
        energy_per_atom: compare E/N (eV/atom) instead of E (eV).
        forces_weight: w_F (per force component, eV/Å).
        stress_weight: w_σ (per stress component, eV/Å³); structures without stress are skipped.
    """

    kind: Literal["mse", "mae", "huber"] = "mse"
    huber_delta: _FloatGt0 = 0.01
    energy_weight: _FloatGe0 = 1.0
    energy_per_atom: StrictBool = True
    forces_weight: _FloatGe0 = 10.0
    stress_weight: _FloatGe0 = 0.0


@dataclass(frozen=True, config=_SECTION)
class OptimConfig:
    """optax optimiser, learning-rate schedule, gradient clipping and parameter EMA.

    Attributes:
        name: ``"adam"``, ``"amsgrad"`` or ``"adamw"``.
        learning_rate: peak learning rate (after warm-up), in (0, :data:`MAX_LEARNING_RATE`].
        weight_decay: decoupled weight decay (``adamw`` only).
        b1, b2, eps: Adam moments and epsilon.
        warmup_steps: linear warm-up from 0 to ``learning_rate``.
        decay: after warm-up: ``"constant"``, ``"cosine"`` (to ``final_lr_fraction``·lr at
            ``run.max_steps``) or ``"exponential"`` (same end point, geometric).
        final_lr_fraction: end learning rate / peak.
        clip_norm: clip gradients to this global norm (None: no clipping).
        ema_decay: decay of the exponential moving average of the parameters used for
            evaluation (None: evaluate the raw parameters).
    """

    name: Literal["adam", "amsgrad", "adamw"] = "adam"
    learning_rate: Annotated[StrictFloat, Field(gt=0, le=MAX_LEARNING_RATE, allow_inf_nan=False)] = 1e-3
    weight_decay: _FloatGe0 = 0.0
    b1: Annotated[StrictFloat, Field(ge=0, lt=1)] = 0.9
    b2: Annotated[StrictFloat, Field(ge=0, lt=1)] = 0.999
    eps: _FloatGt0 = 1e-8
    warmup_steps: _IntGe0 = 0
    decay: Literal["constant", "cosine", "exponential"] = "constant"
    final_lr_fraction: Annotated[StrictFloat, Field(gt=0, le=1, allow_inf_nan=False)] = 0.01
    clip_norm: _FloatGt0 | None = None
    ema_decay: Annotated[StrictFloat, Field(ge=0, lt=1)] | None = 0.99

    @field_validator("weight_decay")
    @classmethod
    def _weight_decay_needs_adamw(cls, value: float, info: ValidationInfo) -> float:
        name = info.data.get("name", "adamw")  # absent when ``name`` itself failed: reported already
        if value and name != "adamw":
            raise ValueError(f"needs optim.name='adamw', got optim.name={name!r}")
        return value


@dataclass(frozen=True, config=_SECTION)
class NormalisationConfig:
    """Per-element energy shift and energy scale fitted on the training set.

    Attributes:
        shift: fit per-element energies by least squares of E (− E_physics) on composition.
        scale: scale the model output by the RMS of the (residual) force components.
    """

    shift: StrictBool = True
    scale: StrictBool = True


@dataclass(frozen=True, config=_SECTION)
class RunConfig:
    """Length, seeds, evaluation, checkpoints, precision and devices of a run.

    Attributes:
        seed: member i of the ensemble uses ``PRNGKey(seed + i)`` (split into init and data-order
            keys), so member i equals a separate run with ``seed + i``.
        n_seeds: ensemble members trained together by ``jax.vmap``.
        shared_data_order: every member uses the data order of member 0.
        max_steps: optimisation steps (the schedule spans them).
        log_every: steps per JSONL row / progress update / non-finite check.
        eval_every: steps per validation (also early stopping and the best checkpoint).
        checkpoint_every: steps per "last" checkpoint (one is also written at the end).
        patience: evaluations without improvement before a member stops (None: never).
        min_delta: improvement smaller than this (loss units, ≥ 0) does not count.
        dtype: ``"float32"`` (default) or ``"float64"`` (needs ``jax_enable_x64``).
        parallel: ``"none"``, ``"data"`` (batch split over local devices, parameters replicated)
            or ``"seeds"`` (members spread over local devices).
        progress: show a tqdm progress bar.
    """

    seed: StrictInt = 0
    n_seeds: _IntGe1 = 1
    shared_data_order: StrictBool = False
    max_steps: _IntGe1 = 1000
    log_every: _IntGe1 = 10
    eval_every: _IntGe1 = 100
    checkpoint_every: _IntGe1 = 100
    patience: _IntGe1 | None = None
    min_delta: _FloatGe0 = 0.0
    dtype: Literal["float32", "float64"] = "float32"
    parallel: Literal["none", "data", "seeds"] = "none"
    progress: StrictBool = True


@dataclass(frozen=True, config=_SECTION)
class TrainConfig:
    """The whole training configuration (see the section dataclasses)."""

    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    loss: LossConfig = dataclasses.field(default_factory=LossConfig)
    optim: OptimConfig = dataclasses.field(default_factory=OptimConfig)
    normalisation: NormalisationConfig = dataclasses.field(default_factory=NormalisationConfig)
    run: RunConfig = dataclasses.field(default_factory=RunConfig)


_VALIDATOR = TypeAdapter(TrainConfig)
_UNKNOWN_KEY = ("unexpected_keyword_argument", "invalid_key")  # pydantic's error types for unknown keys

_LEARNED_WEIGHT_REMOVED = (
    "loss.learned_weight was removed: the APHYNITY penalty belongs to the model now; compose it with "
    "hybridpot.hybrid.aphynity(physics, learned, penalty=λ) (in a train file: strategy: {name: aphynity, "
    "penalty: λ})"
)


def _section_fields(path: Sequence[str]) -> list[str]:
    """Field names of the section at ``path`` (``()``: the top level)."""
    cls: Any = TrainConfig
    for name in path:
        cls = typing.get_type_hints(cls)[name]
    return [f.name for f in dataclasses.fields(cls)]


def _error_message(err: ValidationError) -> str:
    """One message for all of pydantic's errors, each naming its dotted key (and value)."""
    unknown: dict[tuple, list[str]] = {}
    problems = []
    for e in err.errors():
        key = ".".join(map(str, e["loc"]))
        if e["type"] in _UNKNOWN_KEY:
            unknown.setdefault(e["loc"][:-1], []).append(key)
        else:
            why = str(e["ctx"]["error"]) if e["type"] == "value_error" else e["msg"]
            problems.append(f"{key}={e['input']!r}: {why}")
    unknown_keys = [
        f"unknown config key(s) {keys}; known keys of {'.'.join(section) or 'the config'}: {_section_fields(section)}"
        for section, keys in unknown.items()
    ]
    return "; ".join(unknown_keys + problems)


def _migrate(data: dict) -> dict:
    """Bring a config written by an older version (run folders, checkpoints) to the current keys."""
    loss = data.get("loss")
    if isinstance(loss, dict) and "learned_weight" in loss:
        if loss["learned_weight"] != 0:
            raise ValueError(_LEARNED_WEIGHT_REMOVED)
        data = {**data, "loss": {k: v for k, v in loss.items() if k != "learned_weight"}}
    return data


def config_from_dict(data: dict | None) -> TrainConfig:
    """Validate a nested dict (e.g. parsed YAML) into a :class:`TrainConfig`; missing keys take defaults.

    A ``loss.learned_weight`` of 0 (written by older versions) is dropped.

    Raises:
        ValueError: naming unknown keys (with the known ones of their section), values of the
            wrong type or out of range (with the value), or a non-zero ``loss.learned_weight``.
    """
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ValueError(f"a config must be a mapping, got {type(data).__name__}")  # noqa: TRY004
    try:
        return _VALIDATOR.validate_python(_migrate(data))
    except ValidationError as err:
        raise ValueError(_error_message(err)) from None


def config_to_dict(config: TrainConfig) -> dict:
    """The config as a nested dict of plain Python values (YAML/JSON-ready)."""
    return dataclasses.asdict(config)


class _Loader(yaml.SafeLoader):
    """SafeLoader that also reads ``1e-3`` (no dot) as a float, as YAML 1.2 does."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
        |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
        |\.[0-9_]+(?:[eE][-+][0-9]+)?
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""",
        re.VERBOSE,
    ),
    list("-+0123456789."),
)


def _parse_scalar(key: str, text: str, tp):
    """Parse an override string to the field type ``tp`` (ranges are left to :func:`config_from_dict`).

    pydantic's lax parsing of strings (``true``/``yes``/``on``/``1`` for a bool, ``3e-4`` for a
    float); ``none``, ``null`` or ``~`` give None where the field allows it.
    """
    text = text.strip()
    if text.lower() in ("none", "null", "~") and type(None) in typing.get_args(tp):
        return None
    try:
        return TypeAdapter(tp).validate_python(text, strict=False)
    except ValidationError as err:
        raise ValueError(f"{key}: cannot parse {text!r}: {err.errors()[0]['msg']}") from None


def apply_overrides(data: dict, overrides: Sequence[str]) -> dict:
    """Apply ``"section.key=value"`` strings to a nested dict, parsing each value to its field's type.

    Raises:
        ValueError: for a malformed override, an unknown key, or a value of the wrong type.
    """
    out = {k: dict(v) if isinstance(v, dict) else v for k, v in (data or {}).items()}
    for item in overrides:
        if "=" not in item:
            raise ValueError(f"override {item!r} must look like 'section.key=value'")
        key, text = item.split("=", 1)
        key = key.strip()
        parts = key.split(".")
        cls: Any = TrainConfig
        node = out
        for depth, part in enumerate(parts):
            names = {f.name for f in dataclasses.fields(cls)}
            if part not in names:
                where = ".".join(parts[:depth]) or "the config"
                raise ValueError(f"unknown config key {key!r}: {part!r} is not one of {sorted(names)} of {where}")
            tp = typing.get_type_hints(cls)[part]
            if depth == len(parts) - 1:
                if dataclasses.is_dataclass(tp):
                    raise ValueError(f"override {key!r} names a section; give one of its keys")
                node[part] = _parse_scalar(key, text, tp)
            else:
                if not dataclasses.is_dataclass(tp):
                    raise ValueError(f"unknown config key {key!r}: {'.'.join(parts[: depth + 1])} is not a section")
                node = node.setdefault(part, {})
                if not isinstance(node, dict):
                    raise ValueError(f"{'.'.join(parts[: depth + 1])} must be a mapping")
                cls = tp
    return out


def load_config(path=None, overrides: Sequence[str] = ()) -> TrainConfig:
    """Read a YAML config (or start from defaults when ``path`` is None) and apply overrides.

    Args:
        path: YAML file with sections ``data``, ``loss``, ``optim``, ``normalisation``, ``run``;
            a key repeated in one mapping is an error (YAML would keep the last silently).
        overrides: command-line style ``"optim.learning_rate=3e-4"`` strings, parsed to the
            field's type (``"run.patience=none"`` for None).
    """
    data: dict = {}
    if path is not None:
        with open(path) as f:
            data = load_yaml(f, path, _Loader) or {}
        if not isinstance(data, dict):
            raise ValueError(f"{path}: a config file must hold a mapping, got {type(data).__name__}")
    return config_from_dict(apply_overrides(data, overrides))


def save_config(config: TrainConfig, path) -> None:
    """Write the full config as YAML (every key, defaults included)."""
    with open(path, "w") as f:
        yaml.safe_dump(config_to_dict(config), f, sort_keys=False)
