"""Hybrid strategies: combinators that compose a physics term with a learned term (see ``compose``).

The same combinator takes two energy functions (the 1-D studies) or two
:class:`~hybridpot.potential.GraphModel` (any network of :mod:`hybridpot.models` with a physics
term of :mod:`hybridpot.potentials`) and returns the same kind of term.
"""

from hybridpot.hybrid.aphynity import (
    aphynity_adaptive_loss,
    aphynity_penalty_loss,
    update_multiplier,
    weighted_mean_square,
)
from hybridpot.hybrid.compose import (
    STRATEGIES,
    additive,
    aphynity,
    physinet,
    pure_network,
    pure_physics,
    sequential,
)
from hybridpot.hybrid.freezing import train_only
from hybridpot.hybrid.graph import HybridParts, hybrid_terms
from hybridpot.hybrid.terms import HybridTerms, Strategy, physinet_mix

__all__ = [
    "HybridParts",
    "HybridTerms",
    "STRATEGIES",
    "Strategy",
    "additive",
    "aphynity",
    "aphynity_adaptive_loss",
    "aphynity_penalty_loss",
    "hybrid_terms",
    "physinet",
    "physinet_mix",
    "pure_network",
    "pure_physics",
    "sequential",
    "train_only",
    "update_multiplier",
    "weighted_mean_square",
]
