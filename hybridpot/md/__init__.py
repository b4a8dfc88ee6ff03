"""Molecular dynamics with trained potentials: an ASE calculator and jax-md glue.

* :class:`HybridpotCalculator`: ASE ``Calculator`` (energy, forces, stress; ensemble spreads).
* :class:`PaddedGraphBuilder`: reused (Verlet skin), padded neighbour lists, so MD compiles once.
* :func:`jax_md_neighbor_list` / :func:`jax_md_energy_fn`: the same potential inside jax-md.
* :class:`~hybridpot.md.lammps.LammpsHybridpot`: the potential inside LAMMPS (``fix external``), one JAX
  evaluation per MPI rank (``hybridpot.md.lammps``; the ``lammps`` extra).
* :class:`MDWatch` / :class:`MDGuard`: log temperature, drift, largest force and closest pair of
  an ASE run, and stop it when the structure collapses or the energy drifts.
* :func:`serve_ipi`: serve any ASE calculator to an i-PI server (path-integral MD), the
  ``hybridpot serve-ipi`` command; :class:`IPIConnectionLost` when the server goes away.
"""

from hybridpot.md.calculator import HybridpotCalculator
from hybridpot.md.ipi import IPIConnectionLost, serve_ipi
from hybridpot.md.jaxmd import jax_md_energy_fn, jax_md_neighbor_list, jax_md_pair
from hybridpot.md.neighbours import PaddedGraphBuilder
from hybridpot.md.watch import MDGuard, MDGuardError, MDWatch, closest_pair

__all__ = ["HybridpotCalculator", "IPIConnectionLost", "MDGuard", "MDGuardError", "MDWatch", "PaddedGraphBuilder", "closest_pair",
           "jax_md_energy_fn", "jax_md_neighbor_list", "jax_md_pair", "serve_ipi"]
