"""Flax modules holding the learned parts of potentials."""

from hybridpot.models.base import GraphModel
from hybridpot.models.mlp import MLP, Dense

__all__ = ["Dense", "GraphModel", "MLP"]
