"""ASE calculator for any trained hybridpot potential (single model or ensemble).

::

    from hybridpot.potentials import load_potential
    from hybridpot.md import HybridpotCalculator

    atoms.calc = HybridpotCalculator(load_potential("model.npz"))
    atoms.get_potential_energy()        # eV
    atoms.get_forces()                  # [n, 3] eV/Å
    atoms.get_stress()                  # [6] eV/Å³ (Voigt xx yy zz yz xz xy), periodic cells only
    atoms.get_potential_energies()      # [n] eV per atom, summing to the energy
    atoms.get_charges()                 # [n] e, potentials with learned charges (qeq_ewald) only

An ensemble (parameters with a leading ``[n_members]`` axis) gives the member mean as
``energy``/``forces``/``stress`` and, in ``calc.results``, their standard deviations over members
(``energy_std`` eV, ``forces_std`` ``[n, 3]`` eV/Å, ``stress_std`` ``[6]`` eV/Å³, and
``energies_std`` ``[n]`` eV once per-atom energies were asked for) and every member's energy
(``energies_members`` ``[n_members]`` eV).

A potential with learned charges (physics term ``qeq_ewald``, :mod:`hybridpot.potentials.long_range`)
reads the structure's total charge from ``atoms.info["charge"]`` (e, default 0) and checks it, the
cell and the periodicity on the host before evaluating (a ``ValueError`` names the problem).

Graphs come from :class:`~hybridpot.md.neighbours.PaddedGraphBuilder` (Verlet skin, padded
capacity with headroom), so an MD run compiles once per capacity, not once per step;
``calc.n_compilations`` counts the compilations.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from ase.calculators.calculator import (
    Calculator,
    PropertyNotImplementedError,
    all_changes,
)
from ase.stress import full_3x3_to_voigt_6_stress

from hybridpot.md.neighbours import PaddedGraphBuilder
from hybridpot.potential import energy_and_forces, energy_forces_stress, memory_checked_jit
from hybridpot.potentials.long_range import check_total_charge, qeq_from_spec
from hybridpot.potentials.trained import TrainedPotential


class HybridpotCalculator(Calculator):
    """ASE ``Calculator``: energy (eV), per-atom energies (eV), forces (eV/Å), stress (eV/Å³) and, for
    learned charges, per-atom charges (e) of a :class:`TrainedPotential`.

    Args:
        potential: the trained potential (or a model-file path).
        skin: Verlet skin of the reused neighbour list, Å.
        headroom: padded edge capacity / edge count when the capacity is (re)sized (≥ 1).
        dtype: float dtype of the computation (default float64 when ``jax_enable_x64`` is on,
            else float32); parameters are cast to it.
        members: indices of the ensemble members to use (default: all).
        kwargs: passed to ``ase.calculators.calculator.Calculator``.
    """

    implemented_properties = ["energy", "free_energy", "energies", "forces", "stress", "charges"]

    def __init__(self, potential, *, skin: float = 0.5, headroom: float = 1.25, dtype=None, members=None, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(potential, TrainedPotential):
            from hybridpot.potentials.files import load_potential

            potential = load_potential(potential)
        self.potential = potential
        if dtype is None:
            dtype = np.float64 if jax.config.read("jax_enable_x64") else np.float32
        self.dtype = np.dtype(dtype)
        params = potential.params
        if members is not None:
            idx = np.asarray(members, int)
            params = jax.tree.map(lambda x: np.asarray(x)[idx], params)
        self._params = jax.tree.map(
            lambda x: jnp.asarray(x, self.dtype) if np.issubdtype(np.asarray(x).dtype, np.floating) else jnp.asarray(x),
            params,
        )
        self.n_members = int(jax.tree.leaves(self._params)[0].shape[0])
        self._builder = PaddedGraphBuilder(potential.cutoff, skin, headroom, potential.needs_triplets, self.dtype)
        self.n_compilations = 0
        self._fns = {}
        self._qeq = qeq_from_spec(potential.physics)

    def _compiled(self, with_stress: bool):
        if with_stress not in self._fns:
            energy = self.potential.energy_fn()
            wrap = energy_forces_stress if with_stress else energy_and_forces

            def one(params, graph, triplets):
                return wrap(lambda p, g: energy(p, g, triplets))(params, graph)

            def all_members(params, graph, triplets):
                self.n_compilations += 1  # runs once per trace, i.e. per compilation
                return jax.vmap(one, in_axes=(0, None, None))(params, graph, triplets)

            self._fns[with_stress] = memory_checked_jit(all_members, _describe)
        return self._fns[with_stress]

    def _compiled_atomic(self):
        if "atomic" not in self._fns:
            try:
                energy = self.potential.energy_fn(per_atom=True)
            except ValueError as err:
                raise PropertyNotImplementedError(str(err)) from None

            def all_members(params, graph, triplets):
                self.n_compilations += 1
                return jax.vmap(energy, in_axes=(0, None, None))(params, graph, triplets)

            self._fns["atomic"] = memory_checked_jit(all_members, _describe)
        return self._fns["atomic"]

    def _compiled_charges(self):
        if "charges" not in self._fns:
            charges = self._qeq.charges

            def all_members(params, graph):
                self.n_compilations += 1
                return jax.vmap(charges, in_axes=(0, None))(params["physics"], graph)

            self._fns["charges"] = memory_checked_jit(all_members, lambda params, graph: _describe(params, graph, None))
        return self._fns["charges"]

    @property
    def n_neighbour_searches(self) -> int:
        """Neighbour searches so far (the other evaluations reused the Verlet list)."""
        return self._builder.n_searches

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        """Compute energy, forces and (for periodic cells) stress of ``atoms`` into ``self.results``."""
        super().calculate(atoms, properties, system_changes)
        atoms = self.atoms
        numbers = atoms.get_atomic_numbers()
        self.potential.check_species(numbers, "the atoms")
        pbc = np.asarray(atoms.get_pbc())
        periodic = bool(pbc.any())
        if "stress" in properties and not periodic:
            raise PropertyNotImplementedError("stress needs a periodic cell (atoms.pbc has no True direction)")
        if "charges" in properties and self._qeq is None:
            raise PropertyNotImplementedError("charges need a potential with learned charges (physics 'qeq_ewald')")
        graph, triplets = self._builder(atoms.get_positions(), numbers, np.asarray(atoms.get_cell()), pbc)
        if self._qeq is not None:
            total = atoms.info.get("charge", 0.0)
            check_total_charge(numbers, total, "the atoms")
            graph = graph._replace(globals={**graph.globals, "charge": np.array([float(total), 0.0], self.dtype)})
            self._qeq.check(graph)
        graph = jax.tree.map(jnp.asarray, graph)
        triplets = None if triplets is None else jax.tree.map(jnp.asarray, triplets)
        out = jax.device_get(self._compiled(periodic)(self._params, graph, triplets))
        n = len(atoms)
        energies = np.asarray(out[0][:, 0], np.float64)
        forces = np.asarray(out[1][:, :n], np.float64)
        self.results["energy"] = float(energies.mean())
        self.results["free_energy"] = self.results["energy"]
        self.results["forces"] = forces.mean(axis=0)
        if periodic:
            stress = np.array([full_3x3_to_voigt_6_stress(s) for s in np.asarray(out[2][:, 0], np.float64)])
            self.results["stress"] = stress.mean(axis=0)
        if "charges" in properties:
            charges = np.asarray(jax.device_get(self._compiled_charges()(self._params, graph))[:, :n], np.float64)
            self.results["charges"] = charges.mean(axis=0)
            if self.n_members > 1:
                self.results["charges_std"] = charges.std(axis=0)
        if "energies" in properties:  # a forward pass of its own, only when asked for
            atomic = np.asarray(jax.device_get(self._compiled_atomic()(self._params, graph, triplets))[:, :n], np.float64)
            self.results["energies"] = atomic.mean(axis=0)
            if self.n_members > 1:
                self.results["energies_std"] = atomic.std(axis=0)
        if self.n_members > 1:
            self.results["energies_members"] = energies
            self.results["energy_std"] = float(energies.std())
            self.results["forces_std"] = forces.std(axis=0)
            if periodic:
                self.results["stress_std"] = stress.std(axis=0)


def _describe(params, graph, triplets) -> str:
    """The system an evaluation is for, in words (for :func:`~hybridpot.potential.memory_checked_jit`'s error)."""
    n_real = int(np.asarray(graph.n_node)[0])
    text = f"{n_real:,} atoms ({int(graph.senders.shape[0]):,} edges"
    if triplets is not None:
        text += f", {int(triplets.kj.shape[0]):,} triplets"
    return text + ", padding included)"
