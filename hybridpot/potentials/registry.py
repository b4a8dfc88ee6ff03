"""Model kinds: names → constructors, so a model file can rebuild its potential in a fresh process.

* **model kinds**: ``kind -> constructor(**model_args) -> GraphModel``. ``model_args`` are plain
  JSON values (numbers, strings, bools, lists, dicts, None): exactly what a model file stores.
  A model family registers itself with **one line** in its own module under
  ``hybridpot/models/``::

      MODEL_KINDS = {"dimenet": dimenet_model, "dimenet++": dimenet_pp_model}

  The registry finds these dicts by importing the modules of :mod:`hybridpot.models` the first
  time a kind is not yet known (so no module of ``models`` imports this higher layer). User code
  registers its own constructors with :func:`register_model_kind`.

Physics terms have their own factory (:mod:`hybridpot.potentials.physics_terms`) and strategies
theirs (:data:`hybridpot.hybrid.compose.STRATEGIES`); a model file names all three.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from typing import Callable

from hybridpot.hybrid.compose import STRATEGIES
from hybridpot.potential import GraphModel
from hybridpot.potentials.physics_terms import build_physics
from hybridpot.validation import check_model_args

ModelConstructor = Callable[..., GraphModel]

_MODEL_KINDS: dict[str, ModelConstructor] = {}
_IMPORT_ERRORS: dict[str, str] = {}
_SCANNED = False


def register_model_kind(kind: str, constructor: ModelConstructor, *, overwrite: bool = False) -> None:
    """Register ``constructor(**model_args) -> GraphModel`` under the name ``kind``.

    Raises:
        ValueError: ``kind`` is taken by another constructor (unless ``overwrite``).
    """
    if not isinstance(kind, str) or not kind:
        raise ValueError(f"a model kind must be a non-empty string, got {kind!r}")
    old = _MODEL_KINDS.get(kind)
    if old is not None and old is not constructor and not overwrite:
        raise ValueError(f"model kind {kind!r} is already registered to {_qualname(old)}")
    _MODEL_KINDS[kind] = constructor


def _qualname(fn) -> str:
    return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', repr(fn))}"


def _scan_model_modules() -> None:
    """Import every module of ``hybridpot.models`` once and register their ``MODEL_KINDS``."""
    global _SCANNED
    if _SCANNED:
        return
    import hybridpot.models as models

    for info in pkgutil.iter_modules(models.__path__, prefix="hybridpot.models."):
        try:
            module = importlib.import_module(info.name)
        except Exception as err:  # noqa: BLE001 - one broken optional model must not hide the others
            _IMPORT_ERRORS[info.name] = f"{type(err).__name__}: {err}"
            continue
        for kind, constructor in getattr(module, "MODEL_KINDS", {}).items():
            register_model_kind(kind, constructor)
    _SCANNED = True


def model_kinds() -> list[str]:
    """Sorted names of every model kind known (registered or declared in ``hybridpot.models``)."""
    _scan_model_modules()
    return sorted(_MODEL_KINDS)


def model_constructor(kind: str) -> ModelConstructor:
    """The constructor registered for ``kind``.

    Raises:
        ValueError: unknown kind, naming the known ones (and model modules that failed to import).
    """
    if kind not in _MODEL_KINDS:
        _scan_model_modules()
    if kind not in _MODEL_KINDS:
        extra = ""
        if _IMPORT_ERRORS:
            extra = "; model modules that failed to import: " + "; ".join(f"{k} ({v})" for k, v in _IMPORT_ERRORS.items())
        raise ValueError(
            f"unknown model kind {kind!r}; known kinds: {sorted(_MODEL_KINDS)}. A model file naming it "
            f"needs a hybridpot version that has this model, or register_model_kind({kind!r}, constructor)"
            + extra
        )
    return _MODEL_KINDS[kind]


def constructor_parameters(kind: str) -> list[str]:
    """Names of the keyword arguments the constructor of ``kind`` accepts."""
    sig = inspect.signature(model_constructor(kind))
    return [p.name for p in sig.parameters.values() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]


def build_model(kind: str, model_args: dict | None = None) -> GraphModel:
    """``constructor(**model_args)`` for the registered ``kind``: the :class:`GraphModel`.

    Raises:
        ValueError: unknown kind, arguments of the wrong type or out of range
            (:func:`hybridpot.validation.check_model_args`), or arguments the constructor rejects
            (the message names them).
    """
    constructor = model_constructor(kind)
    args = dict(model_args or {})
    check_model_args(kind, args)
    try:
        inspect.signature(constructor).bind(**args)
    except TypeError as err:
        raise ValueError(
            f"model kind {kind!r} does not accept the arguments {sorted(args)}: {err}; "
            f"it accepts {constructor_parameters(kind)}"
        ) from None
    model = constructor(**args)
    if not isinstance(model, GraphModel):
        raise ValueError(f"the constructor of model kind {kind!r} returned {type(model).__name__}, not a GraphModel")
    return model


def check_strategy(spec: dict | None, has_physics: bool) -> dict | None:
    """A strategy spec ``{"name": ..., **args}`` checked (None: ``additive`` with a physics term).

    Raises:
        ValueError: not a mapping with a known ``name``, or a strategy without a physics term.
    """
    if spec is None:
        return {"name": "additive"} if has_physics else None
    if not isinstance(spec, dict) or spec.get("name") not in STRATEGIES:
        raise ValueError(f"a strategy must be a mapping with a 'name' (one of {sorted(STRATEGIES)}), got {spec!r}")
    if not has_physics:
        raise ValueError(f"strategy {spec['name']!r} composes a physics term with the model: give a physics term")
    return dict(spec)


def build_potential_model(kind: str, model_args: dict | None = None, physics: dict | None = None,
                          strategy: dict | None = None) -> GraphModel:
    """The model of a potential from its specs: the learned model ``kind(**model_args)``, alone
    without a physics spec, else ``STRATEGIES[strategy["name"]](build_physics(physics), learned,
    **args)`` (default strategy: additive). A ZBL spec with ``ranges="covalent"`` and no ``species``
    takes the learned model's species, so its cutoff is the widest pair the model can meet.

    Raises:
        ValueError: an unknown kind, physics kind or strategy, or arguments they reject (named).
    """
    learned = build_model(kind, model_args)
    spec = check_strategy(strategy, physics is not None)
    if spec is None:
        return learned
    args = {k: v for k, v in spec.items() if k != "name"}
    if (physics.get("kind") == "zbl" and physics.get("ranges") == "covalent" and "species" not in physics
            and learned.species is not None):
        physics = {**physics, "species": list(learned.species)}
    try:
        return STRATEGIES[spec["name"]](build_physics(physics), learned, **args)
    except TypeError as err:
        raise ValueError(f"strategy {spec['name']!r}: {err}") from None
