"""Names → constructors, so a model file can rebuild its potential in a fresh process.

Two small registries:

* **model kinds**: ``kind -> constructor(**model_args) -> GraphModel``. ``model_args`` are plain
  JSON values (numbers, strings, bools, lists, dicts, None): exactly what a model file stores.
  A model family registers itself with **one line** in its own module under
  ``hybridpot/models/``::

      MODEL_KINDS = {"dimenet": dimenet_model, "dimenet++": dimenet_pp_model}

  The registry finds these dicts by importing the modules of :mod:`hybridpot.models` the first
  time a kind is not yet known (so no module of ``models`` imports this higher layer). User code
  registers its own constructors with :func:`register_model_kind`.
* **physics kinds**: ``kind -> constructor(**physics_args) -> physics_energy(graph, triplets) ->
  [n_graph] eV``: the fixed physics term of a hybrid (the ``physics_energy`` of
  :func:`hybridpot.train.fit`), built from the pair kernels of :mod:`hybridpot.physics`.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import pkgutil
from typing import Any, Callable

from hybridpot.basis.envelopes import polynomial_envelope
from hybridpot.models.base import GraphModel
from hybridpot.potential import pair_energy

ModelConstructor = Callable[..., GraphModel]
#: ``physics_energy(graph, triplets) -> [n_graph]`` eV.
PhysicsEnergy = Callable[[Any, Any], Any]

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
        ValueError: unknown kind, or arguments the constructor rejects (the message names them).
    """
    constructor = model_constructor(kind)
    args = dict(model_args or {})
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


# ------------------------------------------------------------------------------------ physics


def _pair_term(kernel: Callable, envelope_cutoff: float | None) -> PhysicsEnergy:
    """``pair_energy`` of ``kernel(r, z_i, z_j)`` (× the polynomial envelope of ``envelope_cutoff``)."""

    def pair_fn(r, z_i, z_j):
        u = kernel(r, z_i, z_j)
        if envelope_cutoff is not None:
            u = u * polynomial_envelope(r, envelope_cutoff)
        return u

    def physics_energy(graph, triplets=None):
        return pair_energy(graph, pair_fn)

    return physics_energy


def _float_params(name: str, values: dict) -> dict:
    out = {}
    for k, v in values.items():
        try:
            out[k] = float(v)
        except (TypeError, ValueError):
            raise ValueError(f"physics term {name!r}: parameter {k!r} must be a number, got {v!r}") from None
    return out


def _zbl(*, envelope_cutoff: float | None = None, switch_inner: float | None = None,
         switch_outer: float | None = None) -> PhysicsEnergy:
    from hybridpot.physics import ZBL_UNIVERSAL, LammpsZBLSwitch, zbl_energy

    switch = None
    if (switch_inner is None) != (switch_outer is None):
        raise ValueError("physics term 'zbl': give both switch_inner and switch_outer (Å), or neither")
    if switch_inner is not None:
        switch = LammpsZBLSwitch(float(switch_inner), float(switch_outer))
    return _pair_term(lambda r, zi, zj: zbl_energy(r, zi, zj, ZBL_UNIVERSAL, switch), envelope_cutoff)


def _parametrised(kernel_name: str, params_name: str):
    def make(*, envelope_cutoff: float | None = None, **values) -> PhysicsEnergy:
        import hybridpot.physics as physics

        params_cls = getattr(physics, params_name)
        kernel = getattr(physics, kernel_name)
        known = list(params_cls._fields)
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ValueError(f"physics term {kernel_name!r}: unknown parameter(s) {unknown}; known: {known}")
        params = params_cls(**_float_params(kernel_name, values))
        return _pair_term(lambda r, zi, zj: kernel(r, params), envelope_cutoff)

    make.__name__ = kernel_name
    return make


#: Physics kinds: name -> ``constructor(**args) -> physics_energy(graph, triplets) -> [n_graph] eV``.
#: Every kind takes ``envelope_cutoff`` (Å, optional): multiply the pair energy by the polynomial
#: envelope u₆(r / envelope_cutoff) so it goes smoothly to 0 inside the model cutoff (without it a
#: term that is not 0 at the model cutoff jumps there). Parameters: ``zbl``: ``switch_inner``,
#: ``switch_outer`` (LAMMPS switch, Å); ``morse``: ``d_e`` eV, ``a`` Å⁻¹, ``r_e`` Å, ``shift`` eV;
#: ``lennard_jones``: ``epsilon`` eV, ``sigma`` Å; ``buckingham``: ``a`` eV, ``rho`` Å, ``c`` eV·Å⁶;
#: ``harmonic``: ``k`` eV/Å², ``r_0`` Å.
PHYSICS_KINDS: dict[str, Callable[..., PhysicsEnergy]] = {
    "zbl": _zbl,
    "morse": _parametrised("morse_energy", "MorseParams"),
    "lennard_jones": _parametrised("lennard_jones_energy", "LennardJonesParams"),
    "buckingham": _parametrised("buckingham_energy", "BuckinghamParams"),
    "harmonic": _parametrised("harmonic_energy", "HarmonicParams"),
}


def _freeze(value):
    if isinstance(value, dict):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return tuple(_freeze(v) for v in value)
    return value


def build_physics(spec: dict | None) -> PhysicsEnergy | None:
    """The physics term of a spec ``{"kind": name, **args}`` (None → None).

    Equal specs give the *same* function object, so compiled programs are shared.

    Raises:
        ValueError: missing or unknown kind, or bad arguments (named).
    """
    if spec is None:
        return None
    if not isinstance(spec, dict) or "kind" not in spec:
        raise ValueError(f"a physics term must be a mapping with a 'kind' (one of {sorted(PHYSICS_KINDS)}), got {spec!r}")
    return _build_physics(_freeze(spec))


@functools.lru_cache(maxsize=64)
def _build_physics(frozen) -> PhysicsEnergy:
    spec = {k: (dict(v) if isinstance(v, tuple) and v and isinstance(v[0], tuple) else v) for k, v in frozen}
    kind = spec.pop("kind")
    if kind not in PHYSICS_KINDS:
        raise ValueError(f"unknown physics kind {kind!r}; known: {sorted(PHYSICS_KINDS)}")
    try:
        return PHYSICS_KINDS[kind](**spec)
    except TypeError as err:
        raise ValueError(f"physics term {kind!r}: {err}") from None
