"""hybridpot: hybrid physics + machine-learning interatomic potentials in JAX/Flax.

Layers (imports point down): ``units`` → ``physics``, ``basis`` (pure functions) → ``graph``,
``potential`` → ``models``, ``hybrid`` → ``train`` → ``studies``, ``cli``.
"""

__version__ = "0.1.0"
