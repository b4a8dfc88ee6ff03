r"""High-dimensional neural network potential (Behler & Parrinello, PRL 98, 146401 (2007)).

.. math::
    E = \sum_i E_{Z_i}\!\left(\frac{G_i - \mu_{Z_i}}{\sigma_{Z_i}}\right),

with G_i the element-resolved G2/G4 symmetry functions of atom i
(:func:`hybridpot.models.descriptors.symmetry_function_descriptors`), μ, σ the per-species
feature mean and standard deviation fitted on the training set
(:func:`~hybridpot.models.descriptors.fit_descriptor_scaling`) and one MLP E_Z per element.

Forces and stress come from :mod:`hybridpot.potential` by ``jax.grad``. The model is a
:class:`~hybridpot.potential.GraphModel` with ``needs_triplets=True`` (False for a radial-only
spec, ``num_angular_eta=0``); hybrids are compositions with a physics term
(``hybridpot.hybrid.additive(physics_term("embedded_atom", ...), behler_parrinello(...))``), never
a flag of the model.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import jraph
import numpy as np

from hybridpot.elements import check_species, species_index_table
from hybridpot.graph.batch import node_mask
from hybridpot.graph.triplets import Triplets
from hybridpot.models.descriptors import (
    DescriptorScaling,
    SymmetryFunctionSpec,
    symmetry_function_descriptors,
)
from hybridpot.models.mlp import MLP
from hybridpot.potential import GraphModel, atomic_model


class ElementNetworks(nn.Module):
    """One MLP per element, evaluated for every atom: ``E_i = MLP_{s_i}(x_i)``.

    The S networks are stacked (``nn.vmap`` over a leading species axis of every parameter), all
    atoms go through all networks and each atom keeps its own element's output: S× the MLP cost,
    no per-atom weight gathers (cheap for the few elements of an alloy).

    Attributes:
        n_species: S.
        hidden: hidden layer widths, e.g. ``(32, 32)``.
        activation: smooth nonlinearity (forces are its derivative): ``nn.tanh`` as in n2p2.
        param_dtype: dtype of the weights.

    Input ``x: [n_atom, F]`` (scaled descriptors), ``species: [n_atom]`` int in 0..S−1;
    output ``[n_atom]`` atomic energies (in the unit the trainer scales them to).
    """

    n_species: int
    hidden: Sequence[int] = (32, 32)
    activation: Callable[[jax.Array], jax.Array] = nn.tanh
    param_dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array, species: jax.Array) -> jax.Array:
        stacked = nn.vmap(
            MLP, variable_axes={"params": 0}, split_rngs={"params": True}, in_axes=None, out_axes=0,
            axis_size=self.n_species,
        )
        out = stacked(tuple(self.hidden), 1, self.activation, param_dtype=self.param_dtype)(x)[..., 0]
        return jnp.take_along_axis(out, species[None, :], axis=0)[0]


def atomic_energies(
    module: ElementNetworks, params, graph: jraph.GraphsTuple, triplets: Triplets, spec: SymmetryFunctionSpec,
    scaling: DescriptorScaling, triplet_chunk: int | str | None = "auto",
) -> jnp.ndarray:
    """Per-atom energies E_i ``[n_node]`` of a BP network (0 on padding nodes, NaN on real atoms of
    an element outside ``spec.species`` when traced; concrete inputs raise ``ValueError`` instead).
    ``triplet_chunk``: see :func:`~hybridpot.models.descriptors.symmetry_function_descriptors`."""
    z = graph.nodes["atomic_numbers"]
    check_species(z, spec.species)
    table = jnp.asarray(species_index_table(spec.species))
    raw = table[z]
    known = raw >= 0
    species = jnp.maximum(raw, 0)
    g = symmetry_function_descriptors(graph, triplets, spec, triplet_chunk)
    dtype = jnp.result_type(g.dtype, jax.tree_util.tree_leaves(params)[0].dtype)
    mean = jnp.asarray(scaling.mean, dtype)[species]
    scale = jnp.asarray(scaling.scale, dtype)[species]
    x = ((g - mean) / scale).astype(jax.tree_util.tree_leaves(params)[0].dtype)
    e = module.apply(params, x, species)
    real = node_mask(graph)
    e = jnp.where(real, e, 0.0)
    return jnp.where(real & ~known, jnp.nan, e)


def behler_parrinello(
    spec: SymmetryFunctionSpec,
    scaling: DescriptorScaling,
    *,
    hidden: Sequence[int] = (32, 32),
    activation: Callable = nn.tanh,
    param_dtype=jnp.float32,
    triplet_chunk: int | str | None = "auto",
) -> GraphModel:
    """A Behler–Parrinello network as a :class:`~hybridpot.models.GraphModel`.

    ``energy(params, graph, triplets) -> [n_graph]`` eV (the trainer adds its per-element shift
    and scale): Σ_i MLP_{Z_i}((G_i − μ_{Z_i}) / σ_{Z_i}) over the real atoms of each graph, the
    terms being ``atomic_energy``; padding graphs give 0. Jit-, vmap- and grad-safe. A structure
    with an element outside
    ``spec.species`` raises ``ValueError`` naming it (host-side, in the trainer's data pipeline
    and in ``energy`` on concrete graphs; under ``jax.jit`` its energy is NaN).

    Args:
        spec: the symmetry functions (its ``cutoff`` is the model's graph cutoff).
        scaling: per-species feature mean/std (``fit_descriptor_scaling`` on the training set).
        hidden: hidden widths of every element network.
        activation: nonlinearity (smooth).
        param_dtype: parameter dtype (the trainer casts to its ``run.dtype``).
        triplet_chunk: angular terms this many triplets at a time (memory of large MD cells; the
            energy is the same); None: all at once; ``"auto"``: chunks only when all at once would
            hold more than :data:`~hybridpot.models.chunking.MEMORY_BUDGET` bytes.
    """
    expected = (spec.n_species, spec.n_features)
    if np.shape(scaling.mean) != expected or np.shape(scaling.scale) != expected:
        raise ValueError(
            f"scaling must have shape {list(expected)} (species × features of spec), got "
            f"{list(np.shape(scaling.mean))} and {list(np.shape(scaling.scale))}"
        )
    module = ElementNetworks(spec.n_species, tuple(hidden), activation, param_dtype)
    scaling = DescriptorScaling(*(np.asarray(x) for x in scaling))

    def init(key, graph=None, triplets=None):
        return module.init(key, jnp.zeros((1, spec.n_features), param_dtype), jnp.zeros(1, jnp.int32))

    def atomic_energy(params, graph, triplets):
        return atomic_energies(module, params, graph, triplets, spec, scaling, triplet_chunk)

    return atomic_model(init, atomic_energy, spec.cutoff, needs_triplets=spec.n_angular > 0, species=spec.species)


_ACTIVATIONS = {"tanh": nn.tanh, "silu": nn.silu, "softplus": nn.softplus}


def behler_parrinello_model_args(
    spec: SymmetryFunctionSpec, scaling: DescriptorScaling, *, hidden: Sequence[int] = (32, 32), activation: str = "tanh"
) -> dict:
    """Plain-JSON arguments of :func:`behler_parrinello_model` for a fitted spec and scaling,
    as a model file stores them (``TrainedPotential(model_kind="behler_parrinello", model_args=...)``)."""
    return {
        "spec": {k: (list(v) if isinstance(v, tuple) else v) for k, v in spec._asdict().items()},
        "scaling": {k: np.asarray(v).tolist() for k, v in scaling._asdict().items()},
        "hidden": list(hidden),
        "activation": activation,
    }


def spec_from_json(spec: dict) -> SymmetryFunctionSpec:
    """A :class:`SymmetryFunctionSpec` from its plain-JSON form (:func:`behler_parrinello_model_args`)."""
    return SymmetryFunctionSpec(**{k: (tuple(v) if isinstance(v, list) else v) for k, v in spec.items()})


def scaling_from_json(scaling: dict) -> DescriptorScaling:
    """A :class:`DescriptorScaling` from its plain-JSON form (:func:`behler_parrinello_model_args`)."""
    return DescriptorScaling(*(np.asarray(scaling[k]) for k in DescriptorScaling._fields))


def behler_parrinello_model(
    spec: dict, scaling: dict, hidden: Sequence[int] = (32, 32), activation: str = "tanh", param_dtype: str = "float32",
    triplet_chunk: int | str | None = "auto",
) -> GraphModel:
    """:func:`behler_parrinello` from plain-JSON arguments (see :func:`behler_parrinello_model_args`):
    the constructor model files use to rebuild a trained Behler–Parrinello potential
    (``triplet_chunk`` may be changed freely: it changes memory, not energies)."""
    if activation not in _ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; choose one of {sorted(_ACTIVATIONS)}")
    return behler_parrinello(spec_from_json(spec), scaling_from_json(scaling), hidden=hidden,
                             activation=_ACTIVATIONS[activation], param_dtype=param_dtype,
                             triplet_chunk=triplet_chunk)


#: Model kinds for model files (:mod:`hybridpot.potentials.registry` finds this dict).
MODEL_KINDS = {"behler_parrinello": behler_parrinello_model}
