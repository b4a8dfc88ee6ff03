"""jax-md glue: a trained potential as a jax-md energy function with a jax-md neighbour list.

::

    from jax_md import space, simulate
    from hybridpot.md import jax_md_pair

    displacement, shift = space.periodic(box_length)            # or space.free()
    neighbor_fn, energy_fn = jax_md_pair(potential, displacement, box_length, atomic_numbers)
    nbrs = neighbor_fn.allocate(R)                              # R: [n, 3] Å (Cartesian)
    init, apply = simulate.nve(energy_fn, shift, dt=1e-3 * 98.2269)   # 1 fs in Å·sqrt(amu/eV)
    state = init(key, R, kT=0.025, mass=masses, neighbor=nbrs)
    state = apply(state, neighbor=nbrs); nbrs = nbrs.update(state.position)

Units: positions Å, energies eV, masses amu, so jax-md's time unit is Å·sqrt(amu/eV) ≈ 10.18 fs.

The neighbour list is jax-md's own (``Sparse`` format: both directions of every pair, padding
index ``n``), built with ``r_cutoff`` = the model cutoff and ``dr_threshold`` = the skin. Inside
the energy function, each listed pair becomes an edge of a hybridpot graph whose vector is
jax-md's displacement (minimum image for periodic boxes, so the cutoff + skin must stay below
half the box); pairs beyond the cutoff and padding entries become padding edges. Models that read
angular triplets are not supported here (their triplets are built on the host); use the ASE
calculator for them.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import jraph
import numpy as np

from hybridpot._checks import check_finite
from hybridpot.potentials.trained import TrainedPotential
from hybridpot.validation import check_close_pairs, check_minimum_image


def _box_cell(box, dtype):
    if box is None:
        return jnp.zeros((3, 3), dtype), jnp.zeros(3, bool)
    b = jnp.asarray(box, dtype)
    if b.ndim == 0:
        cell = jnp.eye(3, dtype=dtype) * b
    elif b.ndim == 1:
        cell = jnp.diag(b)
    else:
        cell = b.T  # jax-md boxes hold lattice vectors as columns; hybridpot cells as rows
    return cell, jnp.ones(3, bool)


def neighbour_graph(positions, neighbor_idx, atomic_numbers, displacement_fn, cutoff: float, box=None) -> jraph.GraphsTuple:
    """A padded hybridpot graph from jax-md positions and a ``Sparse`` neighbour index. Jittable.

    Args:
        positions: ``[n, 3]`` Å, Cartesian.
        neighbor_idx: ``[2, capacity]`` int (receivers, senders), padding entries equal ``n``.
        atomic_numbers: ``[n]`` int.
        displacement_fn: jax-md ``displacement(Ra, Rb) -> Ra − Rb`` (minimum image when periodic).
        cutoff: Å; listed pairs at or beyond it become padding edges.
        box: jax-md box (None for free space): scalar, ``[3]`` or ``[3, 3]`` (columns are lattice vectors).

    Returns:
        ``GraphsTuple`` with ``n + 1`` nodes (one padding node), ``capacity`` edges, 2 graphs.
    """
    positions = jnp.asarray(positions)
    n = positions.shape[0]
    dtype = positions.dtype
    receivers, senders = neighbor_idx[0], neighbor_idx[1]
    listed = (receivers < n) & (senders < n)
    r_safe, s_safe = jnp.where(listed, receivers, 0), jnp.where(listed, senders, 0)
    vec = jax.vmap(displacement_fn)(positions[s_safe], positions[r_safe])
    inside = listed & (jnp.sum(vec**2, axis=-1) < cutoff**2)
    shifts = jax.lax.stop_gradient(vec - (positions[s_safe] - positions[r_safe]))
    # real edges first (edge_graph_index reads contiguous segments), the rest join padding node n
    order = jnp.argsort(~inside, stable=True)
    inside = inside[order]
    receivers = jnp.where(inside, receivers[order], n).astype(jnp.int32)
    senders = jnp.where(inside, senders[order], n).astype(jnp.int32)
    shifts = jnp.where(inside[:, None], shifts[order], 0.0)
    n_real = jnp.sum(inside).astype(jnp.int32)
    capacity = neighbor_idx.shape[1]
    cell, pbc = _box_cell(box, dtype)
    return jraph.GraphsTuple(
        nodes={"positions": jnp.concatenate([positions, jnp.zeros((1, 3), dtype)]),
               "atomic_numbers": jnp.concatenate([jnp.asarray(atomic_numbers, jnp.int32), jnp.zeros(1, jnp.int32)])},
        edges={"shifts": shifts},
        globals={"cell": jnp.stack([cell, jnp.zeros((3, 3), dtype)]), "pbc": jnp.stack([pbc, jnp.zeros(3, bool)])},
        senders=senders, receivers=receivers,
        n_node=jnp.array([n, 1], jnp.int32), n_edge=jnp.stack([n_real, capacity - n_real]),
    )


def jax_md_energy_fn(potential: TrainedPotential, displacement_fn, atomic_numbers, *, box=None):
    """``energy_fn(R, neighbor, params=None) -> []`` eV: the potential on jax-md inputs.

    Args:
        potential: a trained potential whose model does not read triplets.
        displacement_fn: from ``jax_md.space`` (``free()`` or ``periodic(box)``), Cartesian positions.
        atomic_numbers: ``[n]`` int, fixed for the run.
        box: the box given to ``space.periodic`` (None for ``space.free``); sets the graph's cell.

    The returned function is pure and jittable. With ``params=None`` it is the ensemble-mean energy
    (the single model for one member); pass one member's parameters (no leading axis) to use them
    — e.g. to differentiate an MD observable with respect to the parameters.
    """
    if potential.needs_triplets:
        raise ValueError("the jax-md glue builds graphs inside jit and has no triplets; this model reads angular "
                         "triplets: use hybridpot.md.HybridpotCalculator with ASE instead")
    numbers = np.asarray(atomic_numbers, np.int32)
    potential.check_species(numbers, "atomic_numbers")
    energy = potential.energy_fn()
    cutoff = potential.cutoff
    stacked = potential.params

    def energy_fn(R, neighbor, params=None, **unused):
        graph = neighbour_graph(R, neighbor.idx, numbers, displacement_fn, cutoff, box)
        if params is not None:
            return energy(params, graph)[0]
        cast = jax.tree.map(lambda x: jnp.asarray(x, R.dtype) if jnp.issubdtype(x.dtype, jnp.floating) else x, stacked)
        return jnp.mean(jax.vmap(lambda p: energy(p, graph)[0])(cast))

    return energy_fn


def jax_md_neighbor_list(potential: TrainedPotential, displacement_fn, box, *, skin: float = 0.5,
                         capacity_multiplier: float = 1.25, **kwargs):
    """A jax-md ``neighbor_fn`` (``Sparse`` format) for the potential's cutoff with a Verlet ``skin`` (Å).

    ``box`` is what ``space.periodic`` got (any positive number for ``space.free``); ``kwargs``
    go to ``jax_md.partition.neighbor_list`` (e.g. ``disable_cell_list=True`` for free space).
    Its ``allocate`` (host-side) rejects non-finite positions and atoms closer than
    :data:`hybridpot.validation.MIN_DISTANCE` with a ``ValueError``.
    """
    from jax_md import partition

    fns = partition.neighbor_list(displacement_fn, box, potential.cutoff, dr_threshold=skin,
                                  capacity_multiplier=capacity_multiplier, format=partition.Sparse, **kwargs)

    def allocate(position, *args, **kw):
        # host-side, like jax-md's own allocate (which cannot be jitted): the structure checks of
        # hybridpot.validation on the listed pairs, so coincident atoms never reach the energy
        check_finite("positions", position)
        nbrs = fns.allocate(position, *args, **kw)
        idx = np.asarray(nbrs.idx)
        listed = (idx[0] < len(position)) & (idx[1] < len(position))
        receivers, senders = idx[0][listed], idx[1][listed]
        R = jnp.asarray(position)
        vec = jax.vmap(displacement_fn)(R[senders], R[receivers])
        check_close_pairs(np.linalg.norm(np.asarray(vec), axis=-1), receivers, senders, "positions")
        return nbrs

    return partition.NeighborListFns(allocate, fns.update)


def jax_md_pair(potential: TrainedPotential, displacement_fn, box, atomic_numbers, *, skin: float = 0.5,
                capacity_multiplier: float = 1.25, periodic: bool | None = None, **kwargs):
    """``(neighbor_fn, energy_fn)`` as jax-md's ``*_neighbor_list`` energies return them.

    Args:
        potential: trained potential (no triplets).
        displacement_fn: jax-md displacement (Cartesian).
        box: box of ``space.periodic``; for ``space.free`` a box enclosing the atoms (cell list).
        atomic_numbers: ``[n]`` int.
        skin: Verlet skin, Å.
        capacity_multiplier: jax-md's neighbour capacity headroom.
        periodic: whether ``displacement_fn`` is periodic (sets the graph's cell); default: True.
        kwargs: to ``jax_md.partition.neighbor_list``.

    Raises:
        ValueError: a periodic box narrower than twice ``cutoff + skin`` (minimum-image
            displacements would miss pairs), atomic numbers the model does not know, a model that
            reads triplets; ``neighbor_fn.allocate`` also rejects non-finite or coincident positions.
    """
    if periodic is None or periodic:
        cell, pbc = _box_cell(box, np.float64)
        check_minimum_image(np.asarray(cell), np.asarray(pbc), potential.cutoff + skin, "box")
    neighbor_fn = jax_md_neighbor_list(potential, displacement_fn, box, skin=skin,
                                       capacity_multiplier=capacity_multiplier, **kwargs)
    energy_fn = jax_md_energy_fn(potential, displacement_fn, atomic_numbers,
                                 box=box if (periodic is None or periodic) else None)
    return neighbor_fn, energy_fn
