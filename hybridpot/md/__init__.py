"""Molecular dynamics with trained potentials: an ASE calculator and jax-md glue.

* :class:`HybridpotCalculator`: ASE ``Calculator`` (energy, forces, stress; ensemble spreads).
* :class:`PaddedGraphBuilder`: reused (Verlet skin), padded neighbour lists, so MD compiles once.
* :func:`jax_md_neighbor_list` / :func:`jax_md_energy_fn`: the same potential inside jax-md.
"""

from hybridpot.md.calculator import HybridpotCalculator
from hybridpot.md.jaxmd import jax_md_energy_fn, jax_md_neighbor_list, jax_md_pair
from hybridpot.md.neighbours import PaddedGraphBuilder

__all__ = ["HybridpotCalculator", "PaddedGraphBuilder", "jax_md_energy_fn", "jax_md_neighbor_list", "jax_md_pair"]
