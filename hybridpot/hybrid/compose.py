r"""Hybrid strategies: a physics term and a learned term composed into one energy.

A strategy is a combinator in the style of ``optax.chain``: it takes terms and returns a term.
It works on two kinds of term, with the same rule for both:

* **energy functions** ``term(params, inputs) -> energies`` (a pair kernel of r, a Flax
  ``apply``): the strategy returns ``terms(params, inputs) -> HybridTerms`` (the 1-D studies);
* **graph models** (:class:`~hybridpot.potential.GraphModel`): the strategy returns a
  ``GraphModel`` whose ``energy`` is the total and whose ``hybrid`` field keeps the parts, so the
  trainer, the assembled potential (:mod:`hybridpot.potentials`) and reports read the physics and
  learned energies directly.

Parameters are a dict ``{"physics": ..., "learned": ..., "mix": ...}`` with the entries the
strategy uses (``{}`` for a fixed physics term).

=================  =============================================  ==============================
strategy           total energy                                   what training does
=================  =============================================  ==============================
``pure_physics``   :math:`V_\text{phys}`                          fits the physics parameters
``pure_network``   :math:`V_\text{NN}`                            fits the network
``additive``       :math:`V_\text{phys} + V_\text{NN}`            fits both (Δ-learning when the
                                                                  physics term is fixed)
``aphynity``       :math:`V_\text{phys} + V_\text{NN}`            adds λ ⟨(V_NN / N)²⟩ to the loss
``sequential``     :math:`V_\text{phys} + V_\text{NN}`            fits physics alone, freezes it,
                                                                  then fits the network
``physinet``       :math:`k V_\text{phys} + l V_\text{NN}`        fits both and the mix k, l
=================  =============================================  ==============================

APHYNITY is Yin et al. (2021) with a fixed multiplier on the graph trainer; its 1-D losses (fixed
penalty on the physics fit, adaptive multiplier) are in :mod:`hybridpot.hybrid.aphynity`. Sequential
Phy-ML freezes with :func:`hybridpot.hybrid.freezing.train_only`. PhysiNet follows Sun & Shi (2021).
"""

from __future__ import annotations

from typing import Any, Callable

from hybridpot.hybrid.graph import hybrid_model
from hybridpot.hybrid.terms import HybridTerms, Strategy
from hybridpot.potential import GraphModel


def _compose(strategy: Strategy, physics, learned):
    terms = [t for t in (physics, learned) if t is not None]
    graph = [isinstance(t, GraphModel) for t in terms]
    if all(graph):
        return hybrid_model(strategy, physics, learned)
    if any(graph):
        raise TypeError(f"{strategy.name}: compose two GraphModels or two energy functions, not one of each")
    if strategy.penalty or strategy.physics_first:
        raise TypeError(f"{strategy.name} composes GraphModels; for energy functions use additive with the "
                        "losses of hybridpot.hybrid.aphynity or the optimiser of hybridpot.hybrid.train_only")

    def terms_fn(params: dict, inputs: Any) -> HybridTerms:
        p = physics(params["physics"], inputs) if physics is not None else None
        n = learned(params["learned"], inputs) if learned is not None else None
        return strategy.combine(n if p is None else p, p if n is None else n, params)

    return terms_fn


def pure_physics(physics):
    """Physics term alone: total = physics; the learned part is zero."""
    return _compose(Strategy("pure_physics", uses_learned=False), physics, None)


def pure_network(learned):
    """Learned term alone: total = learned; the physics part is zero (``params["physics"] = {}``)."""
    return _compose(Strategy("pure_network", uses_physics=False), None, learned)


def additive(physics, learned):
    """Additive hybrid (Δ-learning with a fixed physics term): total = physics + learned, both trained."""
    return _compose(Strategy("additive"), physics, learned)


def aphynity(physics, learned, penalty: float):
    """APHYNITY (Yin et al. 2021) on graph models: total = physics + learned, and the trainer adds
    ``penalty`` λ × ⟨(E_learned / N)²⟩ (eV/atom squared, the per-element shift excluded) to the loss:
    of the fits to the data, prefer the one where the network explains least."""
    penalty = float(penalty)
    if not penalty >= 0:
        raise ValueError(f"aphynity penalty must be >= 0, got {penalty}")
    return _compose(Strategy("aphynity", penalty=penalty), physics, learned)


def sequential(physics, learned):
    """Sequential Phy-ML on graph models: total = physics + learned; the trainer fits the physics
    parameters alone first (as ``pure_physics``), then freezes them and fits the network."""
    return _compose(Strategy("sequential", physics_first=True), physics, learned)


def physinet(physics, learned, k: float = 1.0, l: float = 1.0):
    """PhysiNet (Sun & Shi 2021): total = k·physics + l·learned with trainable scalars k, l.

    ``params["mix"] = {"k": scalar, "l": scalar}`` (:func:`physinet_mix`; graph models start at
    ``k``, ``l``). The physics parameters are identified only up to the factor k.
    """
    return _compose(Strategy("physinet", mix_init=(float(k), float(l))), physics, learned)


#: Strategies by name, for configs and model files: ``STRATEGIES[name](physics, learned, **args)``.
STRATEGIES: dict[str, Callable] = {
    "additive": additive,
    "aphynity": aphynity,
    "sequential": sequential,
    "physinet": physinet,
}
