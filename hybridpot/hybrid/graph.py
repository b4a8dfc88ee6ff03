"""Strategies over graph models: a physics :class:`~hybridpot.potential.GraphModel` and a learned one → one GraphModel.

Built by the combinators of :mod:`hybridpot.hybrid.compose` when both terms are graph models. The
composite keeps its parts in ``GraphModel.hybrid`` (:class:`HybridParts`), so the assembled potential
(:mod:`hybridpot.potentials`) can apply the per-element shift and scale to the learned part only and
the trainer can read the physics and learned energies without a second pass.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import jraph

from hybridpot.hybrid.terms import HybridTerms, Strategy, physinet_mix
from hybridpot.potential import GraphModel


class HybridParts(NamedTuple):
    """The parts of a composite graph model (``GraphModel.hybrid``).

    Attributes:
        strategy: how they combine and train (:class:`~hybridpot.hybrid.compose.Strategy`).
        physics: the physics term (None for ``pure_network``).
        learned: the learned term (None for ``pure_physics``).
    """

    strategy: Strategy
    physics: GraphModel | None
    learned: GraphModel | None


def hybrid_terms(model: GraphModel, params: dict, graph: jraph.GraphsTuple, triplets=None,
                 learned_map=None, *, per_atom: bool = False) -> HybridTerms:
    """Energies ``[n_graph]`` eV (``[n_node]`` with ``per_atom``) of a composite model's parts and total.

    Args:
        model: a composite (``model.hybrid`` is not None).
        params: ``{"physics": ..., "learned": ..., ["mix": ...]}``.
        graph, triplets: the inputs of ``GraphModel.energy``.
        learned_map: ``learned_map(e_learned, graph) -> e`` applied to the learned part before the
            strategy combines the parts (the assembled potential's per-element shift and scale).
        per_atom: the parts' ``atomic_energy`` instead of ``energy`` (every strategy combines
            them linearly, so the atoms' totals sum to the graph's); both parts must have one.
    """
    parts = model.hybrid

    def part(term, group):
        if term is None:
            return None
        return term.atomic_energy(params[group], graph, triplets) if per_atom else term.energy(params[group], graph, triplets)

    p, n = part(parts.physics, "physics"), part(parts.learned, "learned")
    if n is not None and learned_map is not None:
        n = learned_map(n, graph)
    size = graph.nodes["atomic_numbers"].shape[0] if per_atom else graph.n_node.shape[0]
    if p is None:
        p = jnp.zeros(size, n.dtype)
    if n is None:
        n = jnp.zeros(size, p.dtype)
    dtype = jnp.result_type(p.dtype, n.dtype)
    return parts.strategy.combine(p.astype(dtype), n.astype(dtype), params)


def hybrid_model(strategy: Strategy, physics: GraphModel | None, learned: GraphModel | None) -> GraphModel:
    """The composite :class:`GraphModel` of ``strategy`` over ``physics`` and ``learned``.

    Its cutoff, triplets and species are the learned model's (the physics term's for
    ``pure_physics``); a physics term may have ``cutoff=None`` (it reads whatever edges the graph
    has) or a cutoff no larger than the learned model's, so the learned model never sees edges
    beyond its own cutoff.

    Raises:
        ValueError: a physics cutoff beyond the learned model's, no cutoff at all for
            ``pure_physics``, or disagreeing species.
    """
    if learned is not None and physics is not None:
        if physics.cutoff is not None and physics.cutoff > learned.cutoff + 1e-12:
            raise ValueError(f"{strategy.name}: the physics term reaches {physics.cutoff} Å, beyond the learned "
                             f"model's cutoff {learned.cutoff} Å; give the physics term a cutoff <= {learned.cutoff} Å")
        if physics.species is not None and learned.species is not None and set(physics.species) != set(learned.species):
            raise ValueError(f"{strategy.name}: physics species {physics.species} differ from the learned model's "
                             f"{learned.species}")
    main = learned if learned is not None else physics
    if main.cutoff is None:
        raise ValueError(f"{strategy.name}: the physics term has no cutoff; give it one (Å) to build graphs for it alone")
    species = main.species if main.species is not None else (physics.species if physics is not None else None)
    needs_triplets = any(t is not None and t.needs_triplets for t in (physics, learned))
    parts = HybridParts(strategy, physics, learned)

    def init(key, graph, triplets=None):
        # one key for both: physics terms start from their given values, and the learned model
        # starts as it would alone (a composite changes no network initialisation)
        params = {"physics": {} if physics is None else physics.init(key, graph, triplets),
                  "learned": {} if learned is None else learned.init(key, graph, triplets)}
        if strategy.mix_init is not None:
            dtype = jax.tree.leaves(params["learned"])[0].dtype if jax.tree.leaves(params["learned"]) else jnp.float32
            params["mix"] = physinet_mix(*strategy.mix_init, dtype=dtype)
        return params

    composite = None

    def energy(params, graph, triplets=None):
        return hybrid_terms(composite, params, graph, triplets).total

    def atomic_energy(params, graph, triplets=None):
        return hybrid_terms(composite, params, graph, triplets, per_atom=True).total

    decomposable = all(t is None or t.atomic_energy is not None for t in (physics, learned))
    composite = GraphModel(init=init, energy=energy, cutoff=float(main.cutoff), needs_triplets=needs_triplets,
                           species=species, hybrid=parts, atomic_energy=atomic_energy if decomposable else None)
    return composite
