"""Typed, validated training configuration: dataclasses, YAML files and ``key.sub=value`` overrides.

A :class:`TrainConfig` is a tree of frozen dataclasses (hashable, so a config is a static argument
of compiled functions). :func:`config_from_dict` validates a plain dict against it: unknown keys
and values of the wrong type raise ``ValueError`` naming the key (``optim.learnin_rate``). The
full config is written to every run folder (``config.yaml``) and into every checkpoint.

Example::

    cfg = load_config("train.yaml", overrides=["optim.learning_rate=3e-4", "run.n_seeds=4"])
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from typing import Any, Literal, Sequence

import yaml


@dataclasses.dataclass(frozen=True)
class DataConfig:
    """Batching and padding.

    Attributes:
        batch_size: structures per optimisation step (over all devices).
        n_buckets: number of padded sizes (each compiles once).
        bucket_ratio: size ratio between successive buckets (> 1).
        shuffle: reshuffle the training set every epoch (order from the run's data-order key).
        prefetch: batches prepared ahead by a background thread (0: none).
    """

    batch_size: int = 8
    n_buckets: int = 3
    bucket_ratio: float = 1.5
    shuffle: bool = True
    prefetch: int = 2

    def __post_init__(self):
        _require(self.batch_size >= 1, "data.batch_size", self.batch_size, ">= 1")
        _require(self.n_buckets >= 1, "data.n_buckets", self.n_buckets, ">= 1")
        _require(self.bucket_ratio > 1.0, "data.bucket_ratio", self.bucket_ratio, "> 1")
        _require(self.prefetch >= 0, "data.prefetch", self.prefetch, ">= 0")


@dataclasses.dataclass(frozen=True)
class LossConfig:
    """Loss: ``w_E·L(E) + w_F·L(F) + w_σ·L(σ) [+ λ·⟨learned²⟩]``, each a masked mean of an elementwise loss.

    Attributes:
        kind: elementwise loss ``"mse"``, ``"mae"`` or ``"huber"``.
        huber_delta: Huber transition (in the unit of each quantity).
        energy_weight: w_E.
        energy_per_atom: compare E/N (eV/atom) instead of E (eV).
        forces_weight: w_F (per force component, eV/Å).
        stress_weight: w_σ (per stress component, eV/Å³); structures without stress are skipped.
        learned_weight: λ of the APHYNITY-style penalty λ·⟨(s·E_model/N)²⟩ on the learned part
            of a hybrid (eV/atom, the per-element shift excluded; needs the trainer's
            ``physics_energy``): of the fits to the data, prefer the one where the network
            explains least (Yin et al. 2021, with a fixed multiplier).
    """

    kind: Literal["mse", "mae", "huber"] = "mse"
    huber_delta: float = 0.01
    energy_weight: float = 1.0
    energy_per_atom: bool = True
    forces_weight: float = 10.0
    stress_weight: float = 0.0
    learned_weight: float = 0.0

    def __post_init__(self):
        for name in ("energy_weight", "forces_weight", "stress_weight", "learned_weight"):
            _require(getattr(self, name) >= 0, f"loss.{name}", getattr(self, name), ">= 0")
        _require(self.huber_delta > 0, "loss.huber_delta", self.huber_delta, "> 0")


@dataclasses.dataclass(frozen=True)
class OptimConfig:
    """optax optimiser, learning-rate schedule, gradient clipping and parameter EMA.

    Attributes:
        name: ``"adam"``, ``"amsgrad"`` or ``"adamw"``.
        learning_rate: peak learning rate (after warm-up).
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
    learning_rate: float = 1e-3
    weight_decay: float = 0.0
    b1: float = 0.9
    b2: float = 0.999
    eps: float = 1e-8
    warmup_steps: int = 0
    decay: Literal["constant", "cosine", "exponential"] = "constant"
    final_lr_fraction: float = 0.01
    clip_norm: float | None = None
    ema_decay: float | None = 0.99

    def __post_init__(self):
        _require(self.learning_rate > 0, "optim.learning_rate", self.learning_rate, "> 0")
        _require(self.warmup_steps >= 0, "optim.warmup_steps", self.warmup_steps, ">= 0")
        _require(0 < self.final_lr_fraction <= 1, "optim.final_lr_fraction", self.final_lr_fraction, "in (0, 1]")
        if self.clip_norm is not None:
            _require(self.clip_norm > 0, "optim.clip_norm", self.clip_norm, "> 0")
        if self.ema_decay is not None:
            _require(0 <= self.ema_decay < 1, "optim.ema_decay", self.ema_decay, "in [0, 1)")
        if self.weight_decay and self.name != "adamw":
            raise ValueError(f"optim.weight_decay={self.weight_decay} needs optim.name='adamw', got {self.name!r}")


@dataclasses.dataclass(frozen=True)
class NormalisationConfig:
    """Per-element energy shift and energy scale fitted on the training set.

    Attributes:
        shift: fit per-element energies by least squares of E (− E_physics) on composition.
        scale: scale the model output by the RMS of the (residual) force components.
    """

    shift: bool = True
    scale: bool = True


@dataclasses.dataclass(frozen=True)
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
        min_delta: improvement smaller than this (loss units) does not count.
        dtype: ``"float32"`` (default) or ``"float64"`` (needs ``jax_enable_x64``).
        parallel: ``"none"``, ``"data"`` (batch split over local devices, parameters replicated)
            or ``"seeds"`` (members spread over local devices).
        progress: show a tqdm progress bar.
    """

    seed: int = 0
    n_seeds: int = 1
    shared_data_order: bool = False
    max_steps: int = 1000
    log_every: int = 10
    eval_every: int = 100
    checkpoint_every: int = 100
    patience: int | None = None
    min_delta: float = 0.0
    dtype: Literal["float32", "float64"] = "float32"
    parallel: Literal["none", "data", "seeds"] = "none"
    progress: bool = True

    def __post_init__(self):
        for name in ("n_seeds", "max_steps", "log_every", "eval_every", "checkpoint_every"):
            _require(getattr(self, name) >= 1, f"run.{name}", getattr(self, name), ">= 1")
        if self.patience is not None:
            _require(self.patience >= 1, "run.patience", self.patience, ">= 1")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """The whole training configuration (see the section dataclasses)."""

    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    loss: LossConfig = dataclasses.field(default_factory=LossConfig)
    optim: OptimConfig = dataclasses.field(default_factory=OptimConfig)
    normalisation: NormalisationConfig = dataclasses.field(default_factory=NormalisationConfig)
    run: RunConfig = dataclasses.field(default_factory=RunConfig)


def _require(ok: bool, key: str, value, what: str) -> None:
    if not ok:
        raise ValueError(f"{key} must be {what}, got {value!r}")


def _type_name(tp) -> str:
    if typing.get_origin(tp) is Literal:
        return " | ".join(repr(a) for a in typing.get_args(tp))
    if _is_union(tp):
        return " | ".join(_type_name(a) for a in typing.get_args(tp))
    return getattr(tp, "__name__", str(tp))


def _is_union(tp) -> bool:
    return typing.get_origin(tp) in (typing.Union, types.UnionType)


def _check_value(key: str, value, tp):
    """``value`` converted to ``tp`` (int → float only), or ``ValueError`` naming ``key``."""
    if _is_union(tp):
        for arg in typing.get_args(tp):
            if arg is type(None):
                if value is None:
                    return None
                continue
            try:
                return _check_value(key, value, arg)
            except ValueError:
                pass
        raise ValueError(f"{key}: expected {_type_name(tp)}, got {value!r} ({type(value).__name__})")
    if typing.get_origin(tp) is Literal:
        if value in typing.get_args(tp) and isinstance(value, str):
            return value
        raise ValueError(f"{key}: expected one of {_type_name(tp)}, got {value!r}")
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, dict):
            raise ValueError(f"{key}: expected a mapping for section {tp.__name__}, got {value!r}")
        return _from_dict(tp, value, key + ".")
    if tp is bool:
        if isinstance(value, bool):
            return value
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif tp is str:
        if isinstance(value, str):
            return value
    raise ValueError(f"{key}: expected {_type_name(tp)}, got {value!r} ({type(value).__name__})")


def _from_dict(cls, data: dict, prefix: str):
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = [k for k in data if k not in names]
    if unknown:
        raise ValueError(
            f"unknown config key(s) {[prefix + str(k) for k in unknown]}; "
            f"known keys of {prefix.rstrip('.') or 'the config'}: {names}"
        )
    kwargs = {k: _check_value(prefix + k, v, hints[k]) for k, v in data.items()}
    try:
        return cls(**kwargs)
    except ValueError as err:
        raise ValueError(f"{err}") from None


def config_from_dict(data: dict | None) -> TrainConfig:
    """Validate a nested dict (e.g. parsed YAML) into a :class:`TrainConfig`; missing keys take defaults.

    Raises:
        ValueError: naming unknown keys (with the known ones) or values of the wrong type.
    """
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ValueError(f"a config must be a mapping, got {type(data).__name__}")
    return _from_dict(TrainConfig, data, "")


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
        re.X,
    ),
    list("-+0123456789."),
)


def _parse_scalar(key: str, text: str, tp):
    """Parse an override string to the field type ``tp``."""
    low = text.strip().lower()
    if _is_union(tp):
        args = typing.get_args(tp)
        if type(None) in args and low in ("none", "null", "~"):
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _parse_scalar(key, text, arg)
            except ValueError as err:
                errors.append(str(err))
        raise ValueError(f"{key}: cannot parse {text!r} as {_type_name(tp)}")
    if typing.get_origin(tp) is Literal:
        return _check_value(key, text.strip(), tp)
    if tp is bool:
        if low in ("true", "yes", "1", "on"):
            return True
        if low in ("false", "no", "0", "off"):
            return False
    elif tp is int:
        try:
            return int(text.strip())
        except ValueError:
            pass
    elif tp is float:
        try:
            return float(text.strip())
        except ValueError:
            pass
    elif tp is str:
        return text
    raise ValueError(f"{key}: cannot parse {text!r} as {_type_name(tp)}")


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
        path: YAML file with sections ``data``, ``loss``, ``optim``, ``normalisation``, ``run``.
        overrides: command-line style ``"optim.learning_rate=3e-4"`` strings, parsed to the
            field's type (``"run.patience=none"`` for None).
    """
    data: dict = {}
    if path is not None:
        with open(path) as f:
            data = yaml.load(f, Loader=_Loader) or {}
        if not isinstance(data, dict):
            raise ValueError(f"{path}: a config file must hold a mapping, got {type(data).__name__}")
    return config_from_dict(apply_overrides(data, overrides))


def save_config(config: TrainConfig, path) -> None:
    """Write the full config as YAML (every key, defaults included)."""
    with open(path, "w") as f:
        yaml.safe_dump(config_to_dict(config), f, sort_keys=False)
