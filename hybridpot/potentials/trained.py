r"""A trained potential as one value: model specs, parameters of every ensemble member, normalisation.

The energy of structure g with the parameters θ of one member is the assembled potential of
:mod:`hybridpot.potentials.assembled`,

.. math::
    E_g(\theta) = \mathrm{strategy}\Big(\underbrace{E^\text{phys}_g}_{\text{physics}},\
      \underbrace{\textstyle\sum_{i \in g} \mu_{Z_i} + s\, E^\text{model}_g(\theta)}_{\text{learned}}\Big)

(eV). :meth:`TrainedPotential.energy_fn` returns it as a pure function
``energy_fn(params, graph) -> [n_graph]`` that can go inside any ``jax.jit``, ``jax.vmap`` or
``jax.grad`` — also a gradient with respect to the parameters::

    pot = load_potential("model.npz")
    energy = pot.energy_fn()
    graph = pot.graph(atoms)                      # host-side, the model's cutoff
    params = pot.member_params(0)

    def force_on_atom_0(params):                  # eV/Å, a property of the structure
        return -jax.grad(lambda R: energy(params, with_positions(graph, R)).sum())(
            graph.nodes["positions"])[0]

    sensitivity = jax.jacobian(force_on_atom_0)(params)   # d F_0 / d θ, a params-shaped tree

Ensembles: ``params`` carries a leading ``[n_members]`` axis; ``jax.vmap(energy, in_axes=(0, None))
(pot.params, graph)`` gives ``[n_members, n_graph]``.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, Callable

import jax
import jax.numpy as jnp
import jraph
import numpy as np

from hybridpot.elements import N_ELEMENTS
from hybridpot.graph import build_graph, build_triplets, pad_graph
from hybridpot.potential import GraphModel
from hybridpot.potentials.assembled import Potential, assembled_terms
from hybridpot.potentials.normalisation import (
    EnergyNormalisation,
    identity_normalisation,
)
from hybridpot.potentials.physics_terms import build_physics
from hybridpot.potentials.registry import (
    build_model,
    build_potential_model,
    check_strategy,
)
from hybridpot.validation import check_atomic_numbers

#: Parts :meth:`TrainedPotential.energy_fn` can return.
PARTS = ("total", "physics", "learned")


def with_positions(graph: jraph.GraphsTuple, positions) -> jraph.GraphsTuple:
    """``graph`` with its node positions (``[n_node, 3]`` Å) replaced; edges and shifts are kept."""
    return graph._replace(nodes={**graph.nodes, "positions": positions})


@dataclasses.dataclass(frozen=True, eq=False)
class TrainedPotential:
    """A trained hybridpot potential: everything needed to evaluate it, and to save it.

    Attributes:
        model_kind: registry name of the learned model (``"pair_mlp"``; :mod:`hybridpot.potentials.registry`).
        model_args: JSON-serialisable keyword arguments of the model's constructor.
        params: parameters of :attr:`model` with a leading ``[n_members]`` axis (1 for a single
            model): the learned model's alone, or ``{"physics", "learned"[, "mix"]}`` of a hybrid.
        normalisation: per-element shift ``[119]`` eV/atom and scale ``[]`` eV of the learned term.
        physics: spec ``{"kind": ..., **args}`` of the physics term
            (:func:`hybridpot.potentials.build_physics`), or None.
        strategy: spec ``{"name": ..., **args}`` of the hybrid strategy
            (:data:`hybridpot.hybrid.STRATEGIES`); None means ``additive`` with a physics term.
        config: the training config (plain dict), or None.
        metadata: free-form JSON-serialisable facts (training run, metrics, ...).
    """

    model_kind: str
    model_args: dict
    params: Any
    normalisation: EnergyNormalisation
    physics: dict | None = None
    strategy: dict | None = None
    config: dict | None = None
    metadata: dict = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        object.__setattr__(self, "strategy", check_strategy(self.strategy, self.physics is not None))
        shift = np.asarray(self.normalisation.shift)
        if shift.shape != (N_ELEMENTS,) or np.shape(self.normalisation.scale) != ():
            raise ValueError(
                f"normalisation must have shift [{N_ELEMENTS}] and scalar scale, got {shift.shape} and "
                f"{np.shape(self.normalisation.scale)}"
            )
        leaves = jax.tree.leaves(self.params)
        if not leaves:
            raise ValueError("params has no arrays")
        n = {np.shape(x)[0] if np.ndim(x) else None for x in leaves}
        if len(n) != 1 or None in n:
            raise ValueError(f"every parameter needs the same leading [n_members] axis, got leading sizes {sorted(map(str, n))}")

    # ---------------------------------------------------------------- the model
    @functools.cached_property
    def model(self) -> GraphModel:
        """The :class:`~hybridpot.potential.GraphModel` the parameters belong to: the learned model,
        or its composition with the physics term by the strategy."""
        return build_potential_model(self.model_kind, self.model_args, self.physics, self.strategy)

    @functools.cached_property
    def learned_model(self) -> GraphModel:
        """The learned model alone, rebuilt from ``model_kind`` and ``model_args``."""
        return build_model(self.model_kind, self.model_args) if self.physics is not None else self.model

    @functools.cached_property
    def physics_model(self) -> GraphModel | None:
        """The physics term as a ``GraphModel`` (None without one)."""
        return build_physics(self.physics)

    @property
    def potential(self) -> Potential:
        """The assembled potential (model, every member's params, normalisation) consumers evaluate."""
        return Potential(self.model, self.params, self.normalisation)

    @property
    def cutoff(self) -> float:
        """Neighbour cutoff of the model, Å."""
        return float(self.model.cutoff)

    @property
    def species(self) -> tuple[int, ...] | None:
        """Atomic numbers the model accepts (None: any)."""
        return self.model.species

    @property
    def needs_triplets(self) -> bool:
        """Whether the energy reads angular triplets (then pass ``triplets`` to the energy function)."""
        return bool(self.model.needs_triplets)

    @property
    def n_members(self) -> int:
        """Ensemble members (leading axis of ``params``)."""
        return int(np.shape(jax.tree.leaves(self.params)[0])[0])

    def member_params(self, i: int = 0):
        """Parameters of member ``i`` (no leading axis)."""
        if not -self.n_members <= i < self.n_members:
            raise IndexError(f"member {i} out of range: the potential has {self.n_members} member(s)")
        return jax.tree.map(lambda x: x[i], self.params)

    def check_species(self, numbers, where: str = "structure") -> None:
        """``ValueError`` naming atomic numbers of ``numbers`` ``[n]`` outside 1..118 or not built for by the model."""
        check_atomic_numbers(numbers, self.species, where)

    # ---------------------------------------------------------------- energies
    def energy_fn(self, part: str = "total", *, per_atom: bool = False) -> Callable:
        """A pure ``energy_fn(params, graph, triplets=None) -> [n_graph]`` eV for one member's params.

        Args:
            part: ``"total"``, ``"physics"`` (the physics term; zeros without one) or
                ``"learned"`` (per-element shift + scale × model), as the strategy combines them.
            per_atom: energies per atom ``[n_node]`` eV instead, which sum to the graph's (every
                model of hybridpot has them; a user model may not: ``ValueError``).

        The function is jittable, vmappable and differentiable in ``params`` and in the graph's
        positions, shifts and cell. ``graph`` follows :mod:`hybridpot.graph` (built with
        :attr:`cutoff`, possibly batched and padded); models that read triplets need
        ``triplets=build_triplets(graph)`` (host-side). Equal ``part`` gives the same function
        object, so ``jax.jit`` caches are shared.
        """
        if part not in PARTS:
            raise ValueError(f"part must be one of {PARTS}, got {part!r}")
        if per_atom and self.model.atomic_energy is None:
            raise ValueError(f"model kind {self.model_kind!r} has no energies per atom (its GraphModel has no "
                             "atomic_energy)")
        return self._energy_fn(part, bool(per_atom))

    @functools.lru_cache(maxsize=None)  # noqa: B019 - one function per (potential, part), by design
    def _energy_fn(self, part: str, per_atom: bool) -> Callable:
        model = self.model
        norm = EnergyNormalisation(jnp.asarray(np.asarray(self.normalisation.shift)),
                                   jnp.asarray(np.asarray(self.normalisation.scale)))
        index = PARTS.index(part)

        def energy_fn(params, graph: jraph.GraphsTuple, triplets=None):
            if model.needs_triplets and triplets is None:
                raise ValueError("this model reads angular triplets: pass triplets=hybridpot.graph.build_triplets(graph)")
            terms = assembled_terms(model, params, norm, graph, triplets, per_atom=per_atom)
            return (terms.total, terms.physics, terms.learned)[index]

        return energy_fn

    # ---------------------------------------------------------------- inputs
    def graph(self, atoms, *, dtype=None):
        """Graph (and triplets when needed) of an ASE ``Atoms`` with this potential's cutoff.

        Returns:
            ``graph`` or, for models that read triplets, ``(graph, triplets)``. Positions in
            ``dtype`` (default float64 when ``jax_enable_x64`` is on, else float32).
        """
        self.check_species(atoms.get_atomic_numbers())
        if dtype is None:
            dtype = np.float64 if jax.config.read("jax_enable_x64") else np.float32
        cell = np.asarray(atoms.get_cell())
        g = build_graph(atoms.get_positions(), atoms.get_atomic_numbers(), self.cutoff, cell=cell,
                        pbc=np.asarray(atoms.get_pbc()), dtype=dtype)
        if self.needs_triplets:
            return g, build_triplets(g)
        return g

    # ---------------------------------------------------------------- construction
    def params_template(self, n_members: int | None = None):
        """Shapes and dtypes of the parameters (``jax.ShapeDtypeStruct`` tree) with a leading
        ``[n_members]`` axis (default: this potential's), from ``model.init`` on a small dummy structure."""
        n = self.n_members if n_members is None else int(n_members)
        return params_template(self.model, n)

    @classmethod
    def from_init(cls, model_kind: str, model_args: dict | None = None, *, n_members: int = 1, seed: int = 0,
                  physics: dict | None = None, strategy: dict | None = None,
                  normalisation: EnergyNormalisation | None = None, metadata: dict | None = None) -> "TrainedPotential":
        """An *untrained* potential: ``model.init`` with ``PRNGKey(seed + i)`` for member i.

        For tests, examples and as a starting point; ``normalisation`` defaults to no shift and
        unit scale (eV).
        """
        model = build_potential_model(model_kind, model_args, physics, strategy)
        positions, numbers = _dummy_structure(model)
        graph = build_graph(positions, numbers, model.cutoff, min_distance=0.01)
        triplets = build_triplets(graph) if model.needs_triplets else None
        members = [model.init(jax.random.PRNGKey(seed + i), graph, triplets) for i in range(int(n_members))]
        params = jax.tree.map(lambda *xs: np.stack([np.asarray(x) for x in xs]), *members)
        if normalisation is None:
            normalisation = identity_normalisation()
        return cls(model_kind, dict(model_args or {}), params, normalisation, physics=physics, strategy=strategy,
                   metadata=dict(metadata or {}))

    @classmethod
    def from_run(cls, run_dir: str, model_kind: str, model_args: dict | None = None, *,
                 physics: dict | None = None, strategy: dict | None = None,
                 metadata: dict | None = None) -> "TrainedPotential":
        """The best parameters of a training run (``run_dir/checkpoints/best``), every member.

        Args:
            run_dir: folder written by :func:`hybridpot.train.fit`.
            model_kind, model_args: how to rebuild the model that was trained (registry name and
                constructor arguments).
            physics, strategy: specs of the physics term and strategy the run's model was composed
                with (None: none, and additive).
            metadata: extra facts to keep (merged over the run's own: step, datasets, versions).
        """
        from hybridpot.train import load_best

        arrays, normalisation, meta = load_best(run_dir)
        model = build_potential_model(model_kind, model_args, physics, strategy)
        n = _leading_size(arrays, f"{run_dir}/checkpoints/best.npz")
        params = unflatten_params(params_template(model, n), arrays, source=f"{run_dir}/checkpoints/best.npz",
                                  model_kind=model_kind)
        run_meta = {"run_dir": str(run_dir), "step": meta.get("step"), "datasets": meta.get("datasets"),
                    "early_stopping": meta.get("early_stopping"), "training_versions": meta.get("versions")}
        return cls(model_kind, dict(model_args or {}), params,
                   EnergyNormalisation(np.asarray(normalisation.shift), np.asarray(normalisation.scale)),
                   physics=physics, strategy=strategy, config=meta.get("config"),
                   metadata={**run_meta, **(metadata or {})})


def _dummy_structure(model: GraphModel):
    """Three atoms of the model's first species in a triangle well inside the cutoff."""
    z = (model.species or (1,))[0]
    d = min(1.0, 0.4 * float(model.cutoff))
    positions = np.array([[0.0, 0.0, 0.0], [d, 0.0, 0.0], [0.3 * d, 0.9 * d, 0.0]])
    return positions, np.full(3, z, np.int32)


def params_template(model: GraphModel, n_members: int):
    """``jax.ShapeDtypeStruct`` tree of ``model``'s parameters with a leading ``[n_members]`` axis."""
    positions, numbers = _dummy_structure(model)
    graph = build_graph(positions, numbers, model.cutoff, min_distance=0.01)
    n_edge = int(np.asarray(graph.n_edge).sum())
    triplets = build_triplets(graph) if model.needs_triplets else None
    if triplets is not None:
        from hybridpot.graph import pad_triplets

        triplets = pad_triplets(triplets, int(np.asarray(triplets.kj).shape[0]) + 1, padding_edge=n_edge, n_graph=2)
    graph = pad_graph(graph, 4, n_edge + 1, 2)
    shapes = jax.eval_shape(lambda k: model.init(k, graph, triplets), jax.random.PRNGKey(0))
    return jax.tree.map(lambda s: jax.ShapeDtypeStruct((n_members,) + tuple(s.shape), s.dtype), shapes)


def _leading_size(arrays: dict, source: str) -> int:
    sizes = {np.shape(a)[0] for a in arrays.values() if np.ndim(a)}
    if len(sizes) != 1:
        raise ValueError(f"{source}: parameters do not share one leading [n_members] axis (sizes {sorted(sizes)})")
    return int(sizes.pop())


def unflatten_params(template, arrays: dict, *, source: str, model_kind: str, prefix: str = "",
                     written_by: str | None = None):
    """Rebuild the parameter tree of ``template`` from named arrays, checking names and shapes.

    Dtypes are kept as stored. Raises ``ValueError`` naming ``source``, the array and the
    mismatch (with the version that wrote the file when known).
    """
    from hybridpot._store import key_name

    named, treedef = jax.tree_util.tree_flatten_with_path(template)
    expected = {prefix + "/".join(key_name(p) for p in path): leaf for path, leaf in named}
    stored = {k for k in arrays if k.startswith(prefix)}
    hint = (f" (file written by hybridpot {written_by}; this is hybridpot "
            f"{_own_version()})") if written_by else ""
    missing = sorted(set(expected) - stored)
    extra = sorted(stored - set(expected))
    if missing or extra:
        raise ValueError(
            f"{source}: the parameters do not fit model kind {model_kind!r} as this version builds it{hint}: "
            f"missing arrays {missing[:5]}{'...' if len(missing) > 5 else ''}, unexpected arrays "
            f"{extra[:5]}{'...' if len(extra) > 5 else ''}"
        )
    leaves = []
    for name, leaf in expected.items():
        a = np.asarray(arrays[name])
        if a.shape != tuple(leaf.shape):
            raise ValueError(f"{source}: array {name!r} has shape {a.shape}, model kind {model_kind!r} expects "
                             f"{tuple(leaf.shape)}{hint}")
        leaves.append(a)
    return jax.tree_util.tree_unflatten(treedef, leaves)


def _own_version() -> str:
    import hybridpot

    return hybridpot.__version__
