"""MD with a hybridpot GraphModel through jax-md's integrators, with a host-side Verlet neighbour list.

Why not jax-md's ``partition.neighbor_list``: a :class:`~hybridpot.models.GraphModel` reads a
``jraph.GraphsTuple`` (edges with periodic image shifts, full list, padding conventions of
:mod:`hybridpot.graph`) and, for angular models, triplets as pairs of *edge indices* k → j → i.
jax-md's lists give neighbour indices per atom and no image shifts or edge pairs; translating them
inside jit would cost O(N·M²) per step on padded slots. Issue 7's ``hybridpot/md`` did not exist
when this was written, so the glue lives here:

* the graph is built on the host with :func:`hybridpot.graph.build_graph` (vesin, O(N)) at
  ``cutoff + skin``, triplets with :func:`hybridpot.models.angular_triplets` at
  ``angular_cutoff + skin``, both padded to a capacity with head-room (recompiles only on
  overflow); edges beyond the cutoffs contribute exactly zero, so the energy is unchanged;
* inside a segment of steps, positions are unwrapped (``jax_md.space.free``) so the image shifts
  stay valid; the list is rebuilt (positions wrapped back into the cell) when an atom has moved
  more than skin/2 since the last build;
* integration is jax-md's ``simulate.nvt_langevin`` (or ``nvt_nose_hoover``), units eV, Å, amu,
  time in ASE units (``ase.units.fs``).
"""

from __future__ import annotations

import time
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax_md import simulate, space

from hybridpot.graph import build_graph, pad_graph
from hybridpot.graph.triplets import pad_triplets
from hybridpot.models import angular_triplets


class NeighbourGraph:
    """Host-side Verlet list: a padded graph + triplets valid while atoms move < skin/2."""

    def __init__(self, numbers, cell, cutoff: float, angular_cutoff: float | None, skin: float = 0.5,
                 headroom: float = 1.25, dtype=np.float32):
        self.numbers = np.asarray(numbers)
        self.cell = np.asarray(cell, np.float64)
        self.cutoff, self.angular_cutoff, self.skin = cutoff, angular_cutoff, skin
        self.headroom, self.dtype = headroom, dtype
        self.capacity = None  # (n_edge, n_triplet) after padding
        self.n_builds = 0
        self.build_seconds = 0.0

    def build(self, positions: np.ndarray):
        """(wrapped positions [N, 3], padded graph, padded triplets or None)."""
        t0 = time.perf_counter()
        frac = np.linalg.solve(self.cell.T, np.asarray(positions, np.float64).T).T
        wrapped = (frac % 1.0) @ self.cell
        g = build_graph(wrapped, self.numbers, self.cutoff + self.skin, cell=self.cell, pbc=True, dtype=self.dtype)
        n_edge = int(g.senders.shape[0])
        trip = None
        n_trip = 0
        if self.angular_cutoff is not None:
            trip = angular_triplets(g, self.angular_cutoff + self.skin)
            n_trip = int(trip.kj.shape[0])
        if self.capacity is None or n_edge >= self.capacity[0] or n_trip > self.capacity[1]:
            self.capacity = (int(n_edge * self.headroom) + 1, int(n_trip * self.headroom))
        n = len(self.numbers)
        padded = pad_graph(g, n + 1, self.capacity[0], 2)
        if trip is not None:
            trip = pad_triplets(trip, self.capacity[1], padding_edge=n_edge, n_graph=2)
            trip = jax.tree_util.tree_map(jnp.asarray, trip)
        self.n_builds += 1
        self.build_seconds += time.perf_counter() - t0
        return wrapped, padded, trip


def run_nvt(energy_fn: Callable, positions, numbers, cell, masses, *, cutoff: float, angular_cutoff: float | None,
            temperature_K: float, n_steps: int, dt_fs: float = 2.0, gamma_per_fs: float = 0.01, skin: float = 0.5,
            segment: int = 10, record_every: int = 10, seed: int = 0, thermostat: str = "langevin",
            dtype=np.float32, log: Callable | None = None, warmup: int = 0, schedule: Callable | None = None,
            on_record: Callable | None = None):
    """NVT MD of one periodic structure with jax-md; returns a dict of the trajectory and timings.

    Args:
        energy_fn: ``energy_fn(graph, triplets) -> [n_graph]`` eV (real graph first).
        positions: ``[N, 3]`` Å; numbers ``[N]``; cell ``[3, 3]`` Å; masses ``[N]`` amu.
        cutoff, angular_cutoff: model cutoffs, Å (angular None for models without triplets).
        temperature_K, n_steps, dt_fs, gamma_per_fs: Langevin (friction 1/fs) or Nosé–Hoover.
        segment: steps per compiled segment (the list is checked between segments).
        record_every: steps between stored frames (a multiple of ``segment``).
        warmup: steps run before the timer starts (not recorded; lets the padded capacity settle,
            so re-compilations after early list rebuilds are not timed).
        schedule: ``schedule(step) -> K``, the thermostat's target for the segment starting at
            ``step`` (default: ``temperature_K`` throughout; ``temperature_K`` draws the velocities).
        on_record: ``on_record(step, positions [N, 3] Å, e_pot eV, e_kin eV)`` at every stored frame
            (e.g. to analyse and save a long run as it goes).
    Returns:
        ``{"positions": [F, N, 3], "energy": [F] eV (potential), "kinetic": [F] eV, "step": [F],
        "seconds": wall time of the steps (compilation excluded), "n_builds", "build_seconds"}``.
    """
    from ase import units

    kT = units.kB * temperature_K
    dt = dt_fs * units.fs
    nl = NeighbourGraph(numbers, cell, cutoff, angular_cutoff, skin, dtype=dtype)
    wrapped, graph, trip = nl.build(positions)

    def potential(R, graph, triplets):
        g = graph._replace(nodes={**graph.nodes, "positions": jnp.concatenate([R, graph.nodes["positions"][-1:]])})
        return energy_fn(g, triplets)[0]

    _, shift = space.free()
    if thermostat == "langevin":
        init, apply = simulate.nvt_langevin(potential, shift, dt, kT, gamma=gamma_per_fs / units.fs)
    else:
        init, apply = simulate.nvt_nose_hoover(potential, shift, dt, kT)
    mass = jnp.asarray(masses, dtype)[:, None]

    @jax.jit
    def run_segment(state, graph, triplets, kT):
        def body(_, s):
            return apply(s, graph=graph, triplets=triplets, kT=kT)

        state = jax.lax.fori_loop(0, segment, body, state)
        return state, potential(state.position, graph, triplets)

    kT_target = jnp.asarray(kT, dtype)
    state = init(jax.random.PRNGKey(seed), jnp.asarray(wrapped, dtype), mass=mass, graph=graph, triplets=trip)
    ref = np.asarray(state.position)
    frames, energies, kinetic, steps = [], [], [], []
    # compile (and warm up) outside the timed loop
    jax.block_until_ready(run_segment(state, graph, trip, kT_target))
    for _ in range(warmup // segment):
        state, _ = run_segment(state, graph, trip, kT_target)
        pos = np.asarray(state.position)
        if np.max(np.linalg.norm(pos - ref, axis=1)) > 0.5 * skin:
            wrapped, graph, trip = nl.build(pos)
            state = state.set(position=jnp.asarray(wrapped, dtype))
            ref = wrapped
            jax.block_until_ready(run_segment(state, graph, trip, kT_target))  # compile a new capacity now
    builds_before, build_seconds_before = nl.n_builds, nl.build_seconds
    t0 = time.perf_counter()
    step = 0
    while step < n_steps:
        if schedule is not None:
            kT_target = jnp.asarray(units.kB * schedule(step), dtype)
        state, e = run_segment(state, graph, trip, kT_target)
        step += segment
        pos = np.asarray(state.position)
        if step % record_every == 0:
            frames.append(pos)
            energies.append(float(e))
            kinetic.append(float(0.5 * jnp.sum(state.momentum**2 / state.mass)))
            steps.append(step)
            if on_record is not None:
                on_record(step, pos, energies[-1], kinetic[-1])
            if log is not None and len(frames) % 10 == 0:
                log(f"step {step}: E_pot {float(e):.4f} eV, T {2 * kinetic[-1] / (3 * len(numbers) * units.kB):.0f} K")
        if np.max(np.linalg.norm(pos - ref, axis=1)) > 0.5 * skin:
            wrapped, graph, trip = nl.build(pos)
            state = state.set(position=jnp.asarray(wrapped, dtype))
            ref = wrapped
    jax.block_until_ready(state)
    seconds = time.perf_counter() - t0
    return {"positions": np.stack(frames) if frames else np.zeros((0, len(numbers), 3)),
            "energy": np.asarray(energies), "kinetic": np.asarray(kinetic), "step": np.asarray(steps),
            "seconds": seconds, "n_builds": nl.n_builds - builds_before,
            "build_seconds": nl.build_seconds - build_seconds_before,
            "capacity": nl.capacity}


def radial_distribution(frames, cell, r_max: float = 6.0, n_bins: int = 120, numbers=None, pair=None):
    """g(r) averaged over ``frames`` ``[F, N, 3]`` (periodic ``cell``), optionally for one element pair.

    Returns ``(r [n_bins] Å, g [n_bins])``; normalised to 1 for an ideal gas at the same density.
    """
    from hybridpot.graph import neighbour_list

    cell = np.asarray(cell, np.float64)
    volume = abs(np.linalg.det(cell))
    edges = np.linspace(0.0, r_max, n_bins + 1)
    hist = np.zeros(n_bins)
    n = frames.shape[1]
    sel_i = np.ones(n, bool)
    sel_j = np.ones(n, bool)
    if pair is not None:
        numbers = np.asarray(numbers)
        sel_i, sel_j = numbers == pair[0], numbers == pair[1]
    for pos in frames:
        s, r, shifts = neighbour_list(pos, r_max, cell, True)
        d = np.linalg.norm(pos[s] - pos[r] + shifts, axis=1)
        keep = sel_i[r] & sel_j[s]
        hist += np.histogram(d[keep], bins=edges)[0]
    shell = 4.0 / 3.0 * np.pi * (edges[1:] ** 3 - edges[:-1] ** 3)
    density_j = sel_j.sum() / volume
    g = hist / (len(frames) * sel_i.sum() * density_j * shell)
    return 0.5 * (edges[1:] + edges[:-1]), g
