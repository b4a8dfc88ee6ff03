"""Hybrid strategies: a physics term composed with a learned term (see ``compose``)."""

from hybridpot.hybrid.aphynity import (
    aphynity_adaptive_loss,
    aphynity_penalty_loss,
    update_multiplier,
    weighted_mean_square,
)
from hybridpot.hybrid.compose import (
    HybridTerms,
    additive,
    physinet,
    physinet_mix,
    pure_network,
    pure_physics,
)
from hybridpot.hybrid.sequential import train_only

__all__ = [
    "HybridTerms",
    "additive",
    "aphynity_adaptive_loss",
    "aphynity_penalty_loss",
    "physinet",
    "physinet_mix",
    "pure_network",
    "pure_physics",
    "train_only",
    "update_multiplier",
    "weighted_mean_square",
]
