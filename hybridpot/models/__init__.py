"""Flax modules holding the learned parts of potentials."""

from hybridpot.models.mlp import MLP, Dense

__all__ = ["MLP", "Dense"]
