"""Model files: a trained potential saved without pickle, loadable in a fresh process.

A model file ``model.npz`` (with a ``model.json`` sidecar holding the same metadata, for people
and tools) is written by the checkpoint writer of :mod:`hybridpot._store` (atomic,
``allow_pickle=False``) and holds

* arrays ``params/...`` (leading ``[n_members]`` axis; ``params/physics/...``,
  ``params/learned/...`` for a hybrid), ``normalisation/shift`` ``[119]`` eV/atom,
  ``normalisation/scale`` ``[]`` eV;
* metadata: ``format`` (``"hybridpot-model"``), ``format_version``, the model kind and its
  constructor arguments (so the ``GraphModel`` is rebuilt through
  :mod:`hybridpot.potentials.registry`), cutoff, species, the physics-term and strategy specs,
  units, package versions, the training config and free metadata; ``arrays``, the dtype and
  shape of every array, and ``content_sha256``, a hash of the arrays and the metadata
  (:func:`hybridpot.validation.content_hash`).

Reading checks the format and its version, every array's dtype and shape against ``arrays``, the
content hash (an edited file is reported; a file written before hashes were stored loads with an
:class:`~hybridpot.validation.InputWarning`), that every parameter and the normalisation are
finite, then rebuilds the model (its arguments checked by
:func:`hybridpot.validation.check_model_args`) and checks every parameter's name and shape against
it; each failure is a ``ModelFileError`` (a ``ValueError``) naming the file, the problem and the
versions involved.

Format 1 (hybridpot 0.1 before the composable strategies) is read and converted: its fixed physics
term was added to the learned model (now ``additive``, the learned parameters move under
``learned/``), and its DimeNet kinds carried ZBL, the network scale and element energies as
arguments (now a physics spec and the normalisation).
"""

from __future__ import annotations

import datetime
import json
import os
import platform

import jax
import numpy as np

from hybridpot._store import CheckpointError, _json_default, flatten_with_names, load_checkpoint, save_checkpoint
from hybridpot.potentials.normalisation import EnergyNormalisation
from hybridpot.potentials.registry import build_potential_model
from hybridpot.potentials.trained import (
    TrainedPotential,
    params_template,
    unflatten_params,
)
from hybridpot.validation import array_layout, check_finite_arrays, check_model_arrays, content_hash

#: Value of the ``format`` metadata key of model files.
MODEL_FORMAT = "hybridpot-model"
#: Newest model-file format version this hybridpot writes and reads (2: composable strategies).
MODEL_FORMAT_VERSION = 2
#: Units of every quantity a model file holds or its potential returns.
MODEL_UNITS = {"length": "Å", "energy": "eV", "forces": "eV/Å", "stress": "eV/Å³",
               "normalisation.shift": "eV/atom", "normalisation.scale": "eV"}


class ModelFileError(ValueError):
    """A model file that cannot be read: corrupt, not a model file, or from an incompatible version."""


def _stem(path) -> str:
    path = os.fspath(path)
    return path[:-4] if path.endswith(".npz") else path


def package_versions() -> dict:
    """Versions of hybridpot, Python and the numerical stack (recorded in model files)."""
    import flax
    import jaxlib
    import optax

    import hybridpot

    return {"hybridpot": hybridpot.__version__, "jax": jax.__version__, "jaxlib": jaxlib.__version__,
            "flax": flax.__version__, "optax": optax.__version__, "numpy": np.__version__,
            "python": platform.python_version()}


def save_potential(path, potential: TrainedPotential) -> str:
    """Write ``potential`` to ``<path>.npz`` and ``<path>.json`` (``path`` with or without ``.npz``).

    Returns:
        The ``.npz`` path written.

    Raises:
        ValueError: model arguments, physics spec or metadata that are not JSON-serialisable;
            parameters or normalisation holding NaN or inf (a diverged run is not a model).
    """
    stem = _stem(path)
    for name, value in (("model_args", potential.model_args), ("physics", potential.physics),
                        ("strategy", potential.strategy), ("config", potential.config),
                        ("metadata", potential.metadata)):
        try:
            json.dumps(value, allow_nan=True)
        except TypeError as err:
            raise ValueError(f"cannot save {name}: it must hold plain JSON values ({err})") from None
    model = potential.model  # fails early if the kind cannot be rebuilt
    meta = {
        "format": MODEL_FORMAT,
        "format_version": MODEL_FORMAT_VERSION,
        "model": {"kind": potential.model_kind, "args": potential.model_args, "cutoff": float(model.cutoff),
                  "species": None if model.species is None else [int(z) for z in model.species],
                  "needs_triplets": bool(model.needs_triplets)},
        "physics": potential.physics,
        "strategy": potential.strategy,
        "n_members": potential.n_members,
        "units": MODEL_UNITS,
        "versions": package_versions(),
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "config": potential.config,
        "metadata": potential.metadata,
    }
    tree = {"params": jax.device_get(potential.params),
            "normalisation": {"shift": np.asarray(potential.normalisation.shift),
                              "scale": np.asarray(potential.normalisation.scale)}}
    arrays = flatten_with_names(tree)  # raises on clashing names before anything is written
    check_finite_arrays(arrays, f"cannot save {stem}.npz")
    meta["arrays"] = array_layout(arrays)
    meta = json.loads(json.dumps(meta, default=_json_default, allow_nan=True))  # as load_potential reads it
    meta["content_sha256"] = content_hash(arrays, meta)
    save_checkpoint(stem, tree, meta)
    return stem + ".npz"


def read_model_metadata(path) -> dict:
    """The metadata of a model file (no arrays are rebuilt); ``ModelFileError`` if unreadable."""
    return _read(path)[1]


def _read(path):
    stem = _stem(path)
    file = stem + ".npz"
    if not os.path.exists(file):
        raise FileNotFoundError(f"model file {file} does not exist")
    try:
        arrays, meta = load_checkpoint(stem)
    except CheckpointError as err:
        what = "corrupt or truncated model file" if err.unreadable else "not a hybridpot model file"
        raise ModelFileError(f"{file}: {what} ({err})") from None
    except (ValueError, UnicodeDecodeError) as err:
        raise ModelFileError(f"{file}: not a hybridpot model file ({err})") from None
    fmt = meta.get("format")
    if fmt != MODEL_FORMAT:
        if isinstance(fmt, str) and fmt.startswith("hybridpot-checkpoint"):
            raise ModelFileError(
                f"{file} is a training checkpoint, not a model file; make one with "
                "save_potential(path, TrainedPotential.from_run(run_dir, kind, args)) or `hybridpot train`"
            )
        raise ModelFileError(f"{file}: not a hybridpot model file (format {fmt!r}, expected {MODEL_FORMAT!r})")
    version = meta.get("format_version")
    writer = (meta.get("versions") or {}).get("hybridpot", "unknown")
    if not isinstance(version, int) or version < 1:
        raise ModelFileError(f"{file}: invalid model-file format version {version!r}")
    if version > MODEL_FORMAT_VERSION:
        import hybridpot

        raise ModelFileError(
            f"{file} was written by hybridpot {writer} in model-file format {version}; this hybridpot "
            f"{hybridpot.__version__} reads formats up to {MODEL_FORMAT_VERSION}: upgrade hybridpot to load it"
        )
    for key in ("model", "n_members"):
        if key not in meta:
            raise ModelFileError(f"{file}: model-file metadata lacks {key!r} (file damaged or hand-edited)")
    return arrays, meta, file, writer


def load_potential(path) -> TrainedPotential:
    """Read a model file written by :func:`save_potential` (``path`` with or without ``.npz``).

    Raises:
        FileNotFoundError: no such file.
        ModelFileError: corrupt or truncated file, not a model file, a format version newer than
            this hybridpot reads, arrays whose dtype or shape differ from the metadata, a content
            hash that does not match (edited file), NaN or inf parameters or normalisation, a model
            kind this version does not know, model arguments out of range, or parameters that do
            not fit the rebuilt model; the message names the file and the writing version.
    """
    arrays, meta, file, writer = _read(path)
    try:
        check_model_arrays(arrays, meta, file)
    except ValueError as err:
        raise ModelFileError(f"{err} (written by hybridpot {writer})") from None
    m = meta["model"]
    kind, args = m.get("kind"), dict(m.get("args") or {})
    physics, strategy = meta.get("physics"), meta.get("strategy")
    params_arrays = {k[len("params/"):]: v for k, v in arrays.items() if k.startswith("params/")}
    shift, scale = arrays.get("normalisation/shift"), arrays.get("normalisation/scale")
    if shift is None or scale is None:
        raise ModelFileError(f"{file}: missing array 'normalisation/shift' or 'normalisation/scale' (file damaged)")
    normalisation = EnergyNormalisation(np.asarray(shift), np.asarray(scale))
    if meta["format_version"] == 1:
        args, physics, params_arrays, normalisation = _from_format_1(file, kind, args, physics, params_arrays,
                                                                      normalisation)
    try:
        model = build_potential_model(kind, args, physics, strategy)
    except ValueError as err:
        raise ModelFileError(f"{file} (written by hybridpot {writer}): {err}") from None
    if abs(float(model.cutoff) - float(m.get("cutoff", model.cutoff))) > 1e-12:
        raise ModelFileError(f"{file}: model {kind!r} rebuilt with cutoff {model.cutoff} Å but the file says "
                             f"{m['cutoff']} Å (written by hybridpot {writer})")
    n = int(meta["n_members"])
    try:
        params = unflatten_params(params_template(model, n), params_arrays, source=file, model_kind=kind,
                                  written_by=writer)
        return TrainedPotential(kind, args, params, normalisation, physics=physics, strategy=strategy,
                                config=meta.get("config"),
                                metadata={**(meta.get("metadata") or {}), "file": file,
                                          "written_by": meta.get("versions"), "created": meta.get("created")})
    except ModelFileError:
        raise
    except ValueError as err:
        text = str(err)
        raise ModelFileError(text if text.startswith(file) else f"{file}: {text}") from None


#: Arguments of the DimeNet kinds of format 1 that are a physics term or a normalisation now.
_V1_DIMENET_ARGS = ("zbl", "zbl_trainable", "zbl_switch_name", "zbl_cutoff", "zbl_inner", "network_scale",
                    "element_energies")


def _from_format_1(file, kind, args, physics, params, normalisation):
    """``(args, physics, params, normalisation)`` of a format-1 file in today's layout (see the module)."""
    if kind in ("dimenet", "dimenet++"):
        old = {k: args.pop(k) for k in _V1_DIMENET_ARGS if k in args}
        # the model held {"physics": ZBL or {}, "learned": network}; the file-level scale multiplied it all
        s_file = float(normalisation.scale)
        s_net = float(old.get("network_scale", 1.0))
        mu = np.zeros_like(np.asarray(normalisation.shift, np.float64))
        if old.get("element_energies") is not None:
            mu = np.asarray(old["element_energies"], np.float64)
            mu[0] = 0.0
        if old.get("zbl"):
            if abs(s_file - 1.0) > 1e-12:
                raise ModelFileError(f"{file}: a format-1 DimezblNet file whose normalisation scale ({s_file}) "
                                     "also multiplied ZBL has no equivalent today; retrain it")
            zc = float(old.get("zbl_cutoff") or args.get("cutoff", 5.0))
            physics = {"kind": "zbl", "cutoff": zc, "switch": old.get("zbl_switch_name", "envelope"),
                       "inner": old.get("zbl_inner"), "trainable": bool(old.get("zbl_trainable", False))}
        else:
            params = {k[len("learned/"):]: v for k, v in params.items() if k.startswith("learned/")}
        normalisation = EnergyNormalisation(np.asarray(normalisation.shift) + s_file * mu,
                                            np.asarray(s_file * s_net))
        return args, physics, params, normalisation
    if physics is not None:  # a fixed physics term added to the model: additive, params under learned/
        params = {f"learned/{k}": v for k, v in params.items()}
    return args, physics, params, normalisation
