"""Physics terms as graph models, built by one factory from a name and parameters.

Each term is a :class:`~hybridpot.potential.GraphModel` over the kernels of :mod:`hybridpot.physics`;
its parameters are ``{}`` when it is fixed and the kernel's parameter ``NamedTuple`` (as arrays)
when it is trainable. This is the only place where the cutoff treatment of ZBL (its switch) is
chosen. A spec is plain JSON, as configs and model files store it::

    physics_term("zbl", ranges="covalent", species=[1, 6, 8])
    physics_term("zbl", switch="envelope", cutoff=5.0)
    build_physics({"kind": "morse", "d_e": 4.7, "a": 1.9, "r_e": 0.74, "envelope_cutoff": 3.0})

Kinds and their parameters (distances Å, energies eV):

* ``zbl`` with ``ranges="covalent"``: pair-specific ranges r_out,ij = ``factor`` · (r_cov,i + r_cov,j)
  (covalent radii), the ``switch`` (``"lammps"`` default, or ``"envelope"``) from r_out,ij / 2 to
  r_out,ij; ``species`` bounds the term's cutoff; ``trainable`` (the screening function's
  coefficients and exponents). This is what :func:`zbl_term` builds by default.
* ``zbl`` with a ``cutoff`` (one range for every pair): ``switch`` (``"envelope"``: ZBL × u₆(r /
  cutoff), smooth to second order; ``"lammps"``: the LAMMPS polynomial switch from ``inner``
  (default cutoff / 2) to ``cutoff``; ``"none"``: bare ZBL, truncated at ``cutoff``), ``inner``,
  ``trainable``. ``switch_inner``/``switch_outer`` (files of hybridpot 0.1) mean
  ``switch="lammps"``; neither ``cutoff`` nor ``ranges`` (0.1 files too) is bare ZBL over the
  graph's edges.
* ``morse`` (``d_e``, ``a`` Å⁻¹, ``r_e``, ``shift``), ``lennard_jones`` (``epsilon``, ``sigma``),
  ``buckingham`` (``a``, ``rho``, ``c`` eV·Å⁶), ``harmonic`` (``k`` eV/Å², ``r_0``): one pair
  kernel for every pair of elements; ``trainable`` makes its parameters trainable.
* ``embedded_atom``: the second-moment (Gupta / Cleri–Rosato) model over ``species`` with
  ``[S, S]`` parameters ``a``, ``p``, ``xi``, ``q``, ``r0`` and a ``cutoff``; ``trainable``.
* ``qeq_ewald``: learned charges by charge equilibration with Ewald (periodic) or direct
  (molecules) Coulomb of Gaussian charges (:mod:`hybridpot.potentials.long_range`): ``charge_model``
  ``{"kind", "args"}``, ``species``, ``cutoff``, ``accuracy``, ``max_cell_length``,
  ``width_factor``, ``hardness``, ``electronegativity``, ``background``, ``energy``, ``scheme`` (``"qeq"`` or ``"latent"``
  charges), ``initial_charges``; always trainable.
* ``coulomb``: damped shifted-force point charges ``charges`` (``{"Na": 1, "Cl": -1}`` or
  ``{11: 1, 17: -1}``, e), ``alpha`` Å⁻¹, ``cutoff``.

Every pair kind takes ``envelope_cutoff``: multiply the pair energy by the polynomial envelope
u₆(r / envelope_cutoff) so it goes smoothly to 0 (without it a term that is not 0 at the graph's
cutoff jumps there); it is then the term's cutoff.
"""

from __future__ import annotations

import functools
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from hybridpot._checks import check_positive
from hybridpot.basis.envelopes import polynomial_envelope
from hybridpot.elements import (
    N_ELEMENTS,
    check_species,
    check_species_list,
    species_index_table,
)
from hybridpot.graph.batch import batch_graphs, edge_mask, node_mask
from hybridpot.graph.build import build_graph
from hybridpot.graph.geometry import edge_distances
from hybridpot.potential import GraphModel, atomic_model, energy_and_forces, pair_atomic_energy

_SWITCHES = ("envelope", "lammps", "none")


def zbl_switch(name: str, cutoff: float, inner: float | None = None):
    """The ZBL cutoff treatment by name: ``"envelope"`` → ``EnvelopeZBLSwitch(cutoff, 6)``,
    ``"lammps"`` → ``LammpsZBLSwitch(inner or cutoff / 2, cutoff)``, ``"none"`` → None (bare ZBL;
    :func:`zbl_term` truncates it at ``cutoff``). Distances in Å."""
    from hybridpot.physics.zbl import EnvelopeZBLSwitch, LammpsZBLSwitch

    check_positive("zbl cutoff", cutoff)
    if name == "envelope":
        return EnvelopeZBLSwitch(float(cutoff), 6)
    if name == "lammps":
        inner = float(cutoff) / 2 if inner is None else float(inner)
        if not 0 < inner < float(cutoff):
            raise ValueError(f"zbl: the LAMMPS switch needs 0 < inner < cutoff, got inner={inner}, cutoff={cutoff} Å")
        return LammpsZBLSwitch(inner, float(cutoff))
    if name == "none":
        return None
    raise ValueError(f"unknown zbl switch {name!r}; use one of {list(_SWITCHES)}")


def _as_arrays(params, dtype=jnp.float32):
    return type(params)(*(jnp.asarray(np.asarray(x, np.float64), dtype) for x in params))


def _term(atomic_of, cutoff, params0, trainable: bool, species=None) -> GraphModel:
    """A GraphModel of ``atomic_of(params, graph) -> [n_node]`` (energies per atom, summed per graph)
    with fixed or trainable ``params0``."""

    def init(key, graph, triplets=None):
        return _as_arrays(params0, graph.nodes["positions"].dtype) if trainable else {}

    def atomic_energy(params, graph, triplets=None):
        return atomic_of(params if trainable else params0, graph)

    return atomic_model(init, atomic_energy, None if cutoff is None else float(cutoff), species=species)


def _pair_term(kernel: Callable, params0, trainable: bool, cutoff: float | None,
               envelope_cutoff: float | None) -> GraphModel:
    """The pair sum of ``kernel(r, z_i, z_j, params)`` (× the envelope of ``envelope_cutoff``)."""
    if envelope_cutoff is not None:
        check_positive("envelope_cutoff", envelope_cutoff)
        cutoff = float(envelope_cutoff) if cutoff is None else min(float(cutoff), float(envelope_cutoff))

    def atomic_of(params, graph):
        def pair_fn(r, z_i, z_j):
            u = kernel(r, z_i, z_j, params)
            if envelope_cutoff is not None:
                u = u * polynomial_envelope(r, float(envelope_cutoff))
            if cutoff is not None:
                u = jnp.where(r < cutoff, u, 0.0)
            return u

        return pair_atomic_energy(graph, pair_fn)

    return _term(atomic_of, cutoff, params0, trainable)


#: f of the covalent ZBL ranges r_out,ij = f · (r_cov,i + r_cov,j), inner r_out,ij / 2 (docs/zbl_prior.md).
COVALENT_ZBL_FACTOR = 0.7


def covalent_zbl_ranges(z_i, z_j, factor: float = COVALENT_ZBL_FACTOR):
    """Pair-specific ZBL switch radii from tabulated covalent radii (ASE's ``covalent_radii``, Cordero 2008).

    ``outer = factor · (r_cov(z_i) + r_cov(z_j))``, ``inner = outer / 2``: the switch window lies well
    inside the equilibrium bond length r_cov,i + r_cov,j, so the prior is zero at bonding distances.

    Args:
        z_i, z_j: atomic numbers, broadcasting integer arrays (0, padding, gets ASE's 0.2 Å).
        factor: f > 0, dimensionless.
    Returns:
        ``(inner, outer)``, each of shape ``broadcast(z_i, z_j)``, Å.
    """
    from ase.data import covalent_radii

    check_positive("zbl factor", factor)
    table = jnp.asarray(np.asarray(covalent_radii, np.float64))
    outer = float(factor) * (table[jnp.asarray(z_i)] + table[jnp.asarray(z_j)])
    return outer / 2, outer


def zbl_term(cutoff: float | None = None, switch: str | None = None, inner: float | None = None, *,
             factor: float = COVALENT_ZBL_FACTOR, species=None, trainable: bool = False,
             envelope_cutoff: float | None = None) -> GraphModel:
    """Σ_{pairs} E_ZBL(r_ij, Z_i, Z_j) per graph (eV): screened nuclear repulsion with the real nuclear
    charges, the short-range prior of a hybrid.

    Two ways to bound its range:

    * ``cutoff=None`` (default, for molecular models): pair-specific ranges from covalent radii
      (:func:`covalent_zbl_ranges`, ``factor``); the ``"lammps"`` switch (default) runs from
      ``outer/2`` to ``outer`` with the bare ZBL force below, ``"envelope"`` multiplies by
      u₆(r / outer). The term's cutoff is the largest ``outer`` over ``species`` (all elements when
      ``species`` is None).
    * ``cutoff`` in Å: one range for every pair, cut off by ``switch`` (default ``"envelope"``, the
      paper's choice; ``"lammps"`` from ``inner``, default cutoff / 2; ``"none"``, truncated).

    ``trainable``: the screening parameters are ``params`` (:class:`~hybridpot.physics.zbl.ZBLParams`,
    universal values at init), else ``params = {}``.

    Raises:
        ValueError: an unknown switch, ``inner`` or ``"none"`` with covalent ranges, bad radii.
    """
    from hybridpot.physics.zbl import ZBL_UNIVERSAL, EnvelopeZBLSwitch, LammpsZBLSwitch, zbl_energy

    if cutoff is not None:
        sw = zbl_switch(switch or "envelope", cutoff, inner)
        return _pair_term(lambda r, zi, zj, p: zbl_energy(r, zi, zj, p, sw), ZBL_UNIVERSAL, trainable,
                          float(cutoff), envelope_cutoff)
    switch = switch or "lammps"
    if switch not in ("lammps", "envelope"):
        raise ValueError(f"zbl with covalent ranges takes switch 'lammps' or 'envelope', got {switch!r}")
    if inner is not None:
        raise ValueError("zbl with covalent ranges sets inner = outer / 2 per pair; give cutoff= for a global inner radius")
    zs = np.arange(1, N_ELEMENTS) if species is None else np.asarray(check_species_list(species))
    reach = float(np.max(np.asarray(covalent_zbl_ranges(zs[:, None], zs[None, :], factor)[1])))

    def kernel(r, zi, zj, p):
        lo, hi = covalent_zbl_ranges(zi, zj, factor)
        sw = LammpsZBLSwitch(lo, hi) if switch == "lammps" else EnvelopeZBLSwitch(hi, 6)
        return zbl_energy(r, zi, zj, p, sw)

    return _pair_term(kernel, ZBL_UNIVERSAL, trainable, reach, envelope_cutoff)


def _kernel_term(kernel_name: str, params_name: str):
    def make(*, envelope_cutoff: float | None = None, trainable: bool = False, **values) -> GraphModel:
        import hybridpot.physics as physics

        params_cls = getattr(physics, params_name)
        kernel = getattr(physics, kernel_name)
        known = list(params_cls._fields)
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ValueError(f"physics term {kernel_name!r}: unknown parameter(s) {unknown}; known: {known}")
        params = params_cls(**_float_params(kernel_name, values))
        return _pair_term(lambda r, zi, zj, p: kernel(r, p), params, trainable, None, envelope_cutoff)

    make.__name__ = kernel_name.removesuffix("_energy")
    make.__doc__ = (f"One :func:`hybridpot.physics.{kernel_name}` for every pair, parameters "
                    f":class:`hybridpot.physics.{params_name}` (eV, Å) as keywords.")
    return make


def _float_params(name: str, values: dict) -> dict:
    out = {}
    for k, v in values.items():
        if isinstance(v, bool):
            raise ValueError(f"physics term {name!r}: parameter {k!r} must be a number, got {v!r}")
        try:
            out[k] = float(v)
        except (TypeError, ValueError):
            raise ValueError(f"physics term {name!r}: parameter {k!r} must be a number, got {v!r}") from None
    return out


def embedded_atom_term(species, cutoff: float, *, a, p, xi, q, r0, trainable: bool = False) -> GraphModel:
    """Second-moment (Gupta / Cleri–Rosato) embedded-atom energy per graph, eV.

    Args:
        species: atomic numbers indexing the ``[S, S]`` parameters.
        cutoff: envelope cutoff, Å (the term's cutoff).
        a, p, xi, q, r0: :class:`~hybridpot.physics.embedded_atom.SecondMomentParams` fields,
            each ``[S, S]`` (eV, 1, eV, 1, Å) or a scalar for every pair.
        trainable: the parameters are ``params`` (else fixed, ``params = {}``).
    """
    from hybridpot.physics.embedded_atom import (
        SecondMomentParams,
        second_moment_atomic_energies,
    )

    species = check_species_list(species)
    check_positive("embedded_atom cutoff", cutoff)
    n = len(species)
    fields = {}
    for name, v in dict(a=a, p=p, xi=xi, q=q, r0=r0).items():
        arr = np.broadcast_to(np.asarray(v, np.float64), (n, n)) if np.ndim(v) == 0 else np.asarray(v, np.float64)
        if arr.shape != (n, n):
            raise ValueError(f"embedded_atom: {name} must be a scalar or [{n}, {n}] for species {list(species)}, "
                             f"got shape {list(arr.shape)}")
        fields[name] = np.array(arr)
    params0 = SecondMomentParams(**fields)
    table = species_index_table(species)

    def atomic_of(params, graph):
        z = graph.nodes["atomic_numbers"]
        check_species(z, species)
        s = jnp.asarray(np.maximum(table, 0))[z]
        mask = edge_mask(graph)
        e = second_moment_atomic_energies(edge_distances(graph), s[graph.receivers], s[graph.senders], graph.receivers,
                                          mask.astype(jnp.float32), z.shape[0], params, float(cutoff))
        return jnp.where(node_mask(graph), e, 0.0)

    return _term(atomic_of, cutoff, params0, trainable, species)


def coulomb_term(charges: dict, cutoff: float, alpha: float = 0.2) -> GraphModel:
    """Damped shifted-force Coulomb energy of fixed per-element point charges, eV.

    Args:
        charges: element → charge (e), keyed by symbol or atomic number; other elements raise.
        cutoff: r_c, Å (energy and force go to 0 there).
        alpha: damping α, Å⁻¹ (0: shifted-force Coulomb).
    """
    from ase.data import atomic_numbers

    from hybridpot.physics.coulomb import damped_shifted_force_coulomb_energy

    check_positive("coulomb cutoff", cutoff)
    q = np.zeros(N_ELEMENTS)
    species = []
    for key, value in charges.items():
        z = atomic_numbers.get(key) if isinstance(key, str) and not key.isdigit() else int(key)
        if z is None or not 0 < z < N_ELEMENTS:
            raise ValueError(f"coulomb: unknown element {key!r} in charges")
        q[z] = float(value)
        species.append(z)
    table = jnp.asarray(q)

    def kernel(r, zi, zj, _):
        return damped_shifted_force_coulomb_energy(r, table[zi], table[zj], float(alpha), float(cutoff))

    model = _pair_term(kernel, None, False, float(cutoff), None)
    return model._replace(species=tuple(sorted(species)))


def _zbl_kind(*, cutoff: float | None = None, switch: str | None = None, inner: float | None = None,
              trainable: bool = False, envelope_cutoff: float | None = None, switch_inner: float | None = None,
              switch_outer: float | None = None, ranges: str | None = None, factor: float = COVALENT_ZBL_FACTOR,
              species=None) -> GraphModel:
    if ranges == "covalent":
        if cutoff is not None or switch_inner is not None:
            raise ValueError("physics term 'zbl': ranges='covalent' sets the range per pair; drop cutoff/switch_inner")
        return zbl_term(None, switch, inner, factor=factor, species=species, trainable=trainable,
                        envelope_cutoff=envelope_cutoff)
    if ranges not in (None, "global"):
        raise ValueError(f"physics term 'zbl': ranges must be 'covalent' or 'global', got {ranges!r}")
    if (switch_inner is None) != (switch_outer is None):
        raise ValueError("physics term 'zbl': give both switch_inner and switch_outer (Å), or neither")
    if switch_inner is not None:  # the spec of hybridpot 0.1 model files
        if switch is not None or cutoff is not None:
            raise ValueError("physics term 'zbl': give switch/cutoff/inner or switch_inner/switch_outer, not both")
        switch, cutoff, inner = "lammps", switch_outer, switch_inner
    if cutoff is None:  # bare ZBL over the graph's edges (× the envelope when given), as in hybridpot 0.1
        from hybridpot.physics.zbl import ZBL_UNIVERSAL, zbl_energy

        return _pair_term(lambda r, zi, zj, p: zbl_energy(r, zi, zj, p), ZBL_UNIVERSAL, trainable, None,
                          envelope_cutoff)
    return zbl_term(float(cutoff), switch, inner, trainable=trainable, envelope_cutoff=envelope_cutoff)


def _qeq_ewald_kind(**args) -> GraphModel:
    from hybridpot.potentials.long_range import qeq_ewald

    return qeq_ewald(**args).term


#: Physics kinds: name → ``constructor(**args) -> GraphModel`` (see the module docstring).
PHYSICS_KINDS: dict[str, Callable[..., GraphModel]] = {
    "zbl": _zbl_kind,
    "morse": _kernel_term("morse_energy", "MorseParams"),
    "lennard_jones": _kernel_term("lennard_jones_energy", "LennardJonesParams"),
    "buckingham": _kernel_term("buckingham_energy", "BuckinghamParams"),
    "harmonic": _kernel_term("harmonic_energy", "HarmonicParams"),
    "embedded_atom": embedded_atom_term,
    "coulomb": coulomb_term,
    "qeq_ewald": _qeq_ewald_kind,
}


def physics_term(kind: str, **args) -> GraphModel:
    """The physics term ``kind`` with ``args`` (see the module docstring) as a ``GraphModel``.

    Equal arguments give the *same* object, so compiled programs are shared.

    Raises:
        ValueError: unknown kind or bad arguments (named).
    """
    return build_physics({"kind": kind, **args})


def _freeze(value):
    if isinstance(value, dict):
        return ("__dict__", tuple(sorted((str(k), _freeze(v)) for k, v in value.items())))
    if isinstance(value, (list, tuple, np.ndarray)):
        return ("__list__", tuple(_freeze(v) for v in np.asarray(value, dtype=object).tolist()))
    return value


def _thaw(value):
    if isinstance(value, tuple) and value and value[0] == "__dict__":
        return {k: _thaw(v) for k, v in value[1]}
    if isinstance(value, tuple) and value and value[0] == "__list__":
        return [_thaw(v) for v in value[1]]
    return value


def build_physics(spec: dict | None) -> GraphModel | None:
    """The physics term of a spec ``{"kind": name, **args}`` (None → None); equal specs give the same object.

    Raises:
        ValueError: missing or unknown kind, or bad arguments (named).
    """
    if spec is None:
        return None
    if not isinstance(spec, dict) or "kind" not in spec:
        raise ValueError(f"a physics term must be a mapping with a 'kind' (one of {sorted(PHYSICS_KINDS)}), got {spec!r}")
    return _build_physics(_freeze(spec))


@functools.lru_cache(maxsize=64)
def _build_physics(frozen) -> GraphModel:
    spec = _thaw(frozen)
    kind = spec.pop("kind")
    if kind not in PHYSICS_KINDS:
        raise ValueError(f"unknown physics kind {kind!r}; known: {sorted(PHYSICS_KINDS)}")
    try:
        return PHYSICS_KINDS[kind](**spec)
    except TypeError as err:
        raise ValueError(f"physics term {kind!r}: {err}") from None


def structure_energies(term: GraphModel, positions, numbers, params=None, *, chunk: int = 4096,
                       return_forces: bool = False):
    """Energy of each isolated structure under one physics term, ``[n_struct]`` eV (float64 on the host):
    e.g. E_ZBL of a training set, to fit reference energies on E − E_ZBL before training.

    Args:
        term: a physics term with a cutoff (graphs are built with it), e.g. :func:`zbl_term`.
        positions: per structure ``[n_i, 3]`` Å (a list, or one ``[n_struct, n, 3]`` array).
        numbers: per structure ``[n_i]`` atomic numbers, or one ``[n]`` array shared by all.
        params: the term's parameters (default: its initial ones, ``{}`` for a fixed term).
        chunk: structures per compiled call.
        return_forces: also return the forces −∂E/∂R, eV/Å, e.g. to size the network of a hybrid
            by the residual F − F_ZBL it has to learn.
    Returns:
        energies ``[n_struct]``; with ``return_forces``, ``(energies, forces)`` where forces is a
        list of ``[n_i, 3]`` arrays.
    """
    if term.cutoff is None:
        raise ValueError("structure_energies: the physics term has no cutoff to build graphs with; give it one")
    if term.needs_triplets:
        raise ValueError("structure_energies: terms that read angular triplets are not supported")
    shared = np.ndim(numbers[0]) == 0

    def energy(p, g):
        return term.energy(p, g, None)

    # the backward pass only when the forces are asked for
    compute = jax.jit(energy_and_forces(energy) if return_forces else lambda p, g: (energy(p, g), None))
    energies, forces = [], []
    for start in range(0, len(positions), chunk):
        graphs = [build_graph(p, numbers if shared else numbers[start + k], term.cutoff)
                  for k, p in enumerate(positions[start : start + chunk])]
        graph = batch_graphs(graphs)
        p = term.init(jax.random.PRNGKey(0), graph, None) if params is None else params
        e, f = compute(p, graph)
        energies.append(np.asarray(e, np.float64))
        if return_forces:
            sizes = np.cumsum([g.n_node[0] for g in graphs])[:-1]
            forces.extend(np.split(np.asarray(f, np.float64), sizes))
    energies = np.concatenate(energies) if energies else np.zeros(0)
    return (energies, forces) if return_forces else energies
