"""hybridpot: hybrid physics + machine-learning interatomic potentials in JAX/Flax.

Layers (imports point down): pure kernels (``units``, ``elements``, ``physics``, ``basis``,
``graph``, ``potential``) and the hybrid combinators (``hybrid``) → the learned models
(``models``) → the assembled potential (``potentials``: physics terms, normalisation, trained
potentials, model files) → ``train``, ``io``, ``md``, ``uncertainty``, ``cli``, ``studies``.
"""

__version__ = "0.1.0"
