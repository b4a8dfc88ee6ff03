r"""Hybrid models as compositions of a physics term and a learned term.

A *term* is any function ``term(params, inputs) -> energies`` (a pair kernel of r, a pair sum
over a graph, a Flax model's ``apply``). A strategy composes two terms into one function
``terms(params, inputs) -> HybridTerms`` that returns the total and both parts, so losses can
penalise the parts (APHYNITY) and reports can plot them. Parameters are a dict
``{"physics": ..., "learned": ..., "mix": ...}`` with the entries the strategy uses.

=================  =============================================  =========================
strategy           total energy                                   parameters
=================  =============================================  =========================
``pure_physics``   :math:`V_\text{phys}`                          physics
``pure_network``   :math:`V_\text{NN}`                            learned
``additive``       :math:`V_\text{phys} + V_\text{NN}`            physics, learned
``physinet``       :math:`k V_\text{phys} + l V_\text{NN}`        physics, learned, mix {k, l}
=================  =============================================  =========================

``additive`` is the model of Δ-learning, of APHYNITY (Yin et al. 2021; its losses are in
:mod:`hybridpot.hybrid.aphynity`) and of Sequential Phy-ML (physics fitted first, then frozen:
:func:`hybridpot.hybrid.sequential.train_only`). ``physinet`` follows Sun & Shi (2021).
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp

Term = Callable[[Any, Any], jax.Array]
TermsFn = Callable[[dict, Any], "HybridTerms"]


class HybridTerms(NamedTuple):
    """The energies of a hybrid model: ``total`` and its ``physics`` and ``learned`` parts.

    Each has the shape of the terms' output (e.g. ``[n_points]`` or ``[n_graph]``), in the
    terms' energy unit. For ``physinet`` the parts are the unscaled terms.
    """

    total: jax.Array
    physics: jax.Array
    learned: jax.Array


def pure_physics(physics: Term) -> TermsFn:
    """Physics term alone: total = physics(params["physics"], x); learned part is zero."""

    def terms(params: dict, inputs: Any) -> HybridTerms:
        p = physics(params["physics"], inputs)
        return HybridTerms(p, p, jnp.zeros_like(p))

    return terms


def pure_network(learned: Term) -> TermsFn:
    """Learned term alone: total = learned(params["learned"], x); physics part is zero."""

    def terms(params: dict, inputs: Any) -> HybridTerms:
        n = learned(params["learned"], inputs)
        return HybridTerms(n, jnp.zeros_like(n), n)

    return terms


def additive(physics: Term, learned: Term) -> TermsFn:
    """Additive hybrid (Δ-learning, APHYNITY, Sequential Phy-ML): total = physics + learned."""

    def terms(params: dict, inputs: Any) -> HybridTerms:
        p = physics(params["physics"], inputs)
        n = learned(params["learned"], inputs)
        return HybridTerms(p + n, p, n)

    return terms


def physinet(physics: Term, learned: Term) -> TermsFn:
    """PhysiNet (Sun & Shi 2021): total = k·physics + l·learned with trainable scalars k, l.

    ``params["mix"] = {"k": scalar, "l": scalar}``; :func:`physinet_mix` makes it. The physics
    parameters are identified only up to the factor k (an energy scale and offset of the
    physics term trade against k).
    """

    def terms(params: dict, inputs: Any) -> HybridTerms:
        p = physics(params["physics"], inputs)
        n = learned(params["learned"], inputs)
        mix = params["mix"]
        return HybridTerms(mix["k"] * p + mix["l"] * n, p, n)

    return terms


def physinet_mix(k: float = 0.0, l: float = 0.0, dtype=jnp.float32) -> dict:
    """Initial PhysiNet mixing weights ``{"k": k, "l": l}`` (the paper's code starts at 0, 0)."""
    return {"k": jnp.asarray(k, dtype), "l": jnp.asarray(l, dtype)}
