r"""Long-range electrostatics with learned charges: charge equilibration + Ewald (or direct) Coulomb.

The physics term of a long-range hybrid E = E_elec(q) + E_short (MLP overview, "long-range forces";
fourth-generation HDNNP of Ko, Finkler, Goedecker & Behler, Nat. Commun. 12, 398 (2021)). Charges
come from a charge equilibration: any :class:`~hybridpot.potential.GraphModel` with per-atom outputs
(``charge_model``) predicts environment-dependent electronegativities χ_i = χ⁰_{Z_i} + NN_i (eV/e),
each element has a learned hardness J_Z = softplus(h_Z) (eV/e²) and a fixed Gaussian width σ_Z (Å),
and the charges minimise

.. math::
    E_\text{Qeq}(q) = \sum_i \big(\chi_i q_i + \tfrac12 J_{Z_i} q_i^2\big) + E_\text{elec}(q)
    \quad \text{subject to} \quad \sum_{i \in g} q_i = Q_g

by one linear solve per structure (a Lagrange multiplier per graph), so the total charge Q_g is exact.
E_elec(q) = ½ qᵀ A q is the Coulomb energy of Gaussian charges (with their self-energies
k_e q_i²/(2σ_i√π)): the Ewald sum of :mod:`hybridpot.physics.ewald` for periodic graphs (real space
over the graph's edges with the Gaussian screening, reciprocal space over the static k grid, self and
neutralising-background terms) and the direct sum over all pairs for molecules. The term's energy
is E_elec(q*) (eV) at the equilibrated charges q* (with ``energy="qeq"`` the minimum E_Qeq(q*), see
:func:`qeq_ewald`); forces and stress follow by ``jax.grad`` through the solve.

**Latent charges** (``scheme="latent"``, as in latent Ewald summation, Cheng 2024): the charge
model's per-atom outputs plus a per-element offset are the charges themselves, shifted uniformly
within each structure to its total charge; no solve, and no charge flows between distant fragments.

**Total charge** Q_g (e) is read from ``graph.globals["charge"]`` (``[n_graph]``), 0 when the graph
has no such entry (the graphs of :func:`hybridpot.graph.build_graph`: neutral). The trainer's graphs
carry :attr:`hybridpot.structures.Structure.charge` (read from ``atoms.info["charge"]``), and the ASE
calculator takes it from ``atoms.info["charge"]``.

**Cost**: the Coulomb matrix is dense over the nodes of a batch, O(N_batch² K) with K wave vectors for
periodic graphs, and the solve is O(N_batch³): meant for up to a few hundred atoms per batch
(molecular clusters, small cells), not for large MD cells.

**Capacities**: the k grid is sized by ``max_cell_length`` (Å, the longest lattice vector the term
accepts; None: molecules only). Concrete inputs beyond it raise a ``ValueError``; under ``jax.jit``
they cannot be inspected, and such a graph's energy is NaN (like unknown elements of the
Behler–Parrinello model).

Spec (plain JSON, a physics kind of :mod:`hybridpot.potentials.physics_terms`)::

    {"kind": "qeq_ewald", "species": [11, 17],
     "charge_model": {"kind": "pair_mlp", "args": {"cutoff": 5.0, "species": [11, 17]}},
     "accuracy": 1e-6, "max_cell_length": 20.0, "width_factor": 0.5,
     "electronegativity": {"Na": 2.843, "Cl": 8.564}, "hardness": {"Na": 4.592, "Cl": 9.892},
     "background": true, "energy": "elec"}
"""

from __future__ import annotations

import functools
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import jraph
import numpy as np

from hybridpot._checks import check_positive, is_concrete
from hybridpot.elements import check_species, check_species_list, species_index_table
from hybridpot.graph.batch import edge_mask, graph_mask, node_graph_index, node_mask
from hybridpot.graph.geometry import edge_distances
from hybridpot.physics.ewald import (
    ewald_background_energy,
    ewald_real_space_energy,
    ewald_self_energy,
    ewald_splitting,
    reciprocal_n_max,
    reciprocal_weights,
)
from hybridpot.potential import GraphModel, atomic_model
from hybridpot.units import COULOMB_CONSTANT

#: Initial hardness J_Z of charge equilibration without a table, eV/e².
DEFAULT_HARDNESS = 10.0

#: Largest erfc(r_c/√2γ) accepted: the Gaussian screening of a periodic real-space sum must be
#: complete within the real-space cutoff (it is summed over the graph's edges only).
GAUSSIAN_SCREENING_TOLERANCE = 1e-4


class QEqEwald(NamedTuple):
    """A charge-equilibration electrostatics term and the charges it predicts.

    Attributes:
        term: the physics term, ``energy(params, graph, triplets) -> [n_graph]`` eV (E_elec at q*).
        charges: ``(params, graph) -> [n_node]`` e, the equilibrated charges q* (padding atoms 0).
        check: ``(graph) -> None``, the host-side checks of a concrete graph (elements, total
            charges, periodicity, cell size, background), raising a ``ValueError``; the energy runs
            them too whenever its inputs are concrete.
        cutoff: real-space cutoff r_c, Å. alpha: Ewald α, Å⁻¹. k_cutoff: k_c, Å⁻¹.
        n_max: static size of the k grid (0: molecules only).
    """

    term: GraphModel
    charges: Callable[[dict, jraph.GraphsTuple], jax.Array]
    check: Callable[[jraph.GraphsTuple], None]
    cutoff: float
    alpha: float
    k_cutoff: float
    n_max: int


def _softplus_inverse(y: float) -> float:
    return float(np.log(np.expm1(y)))


def total_charges(graph: jraph.GraphsTuple) -> jax.Array:
    """``[n_graph]`` e: the total charge of each graph, ``globals["charge"]`` or 0 without one."""
    charge = graph.globals.get("charge") if isinstance(graph.globals, dict) else None
    if charge is None:
        return jnp.zeros(graph.n_node.shape[0], graph.nodes["positions"].dtype)
    return jnp.asarray(charge, graph.nodes["positions"].dtype).reshape(-1)


def check_total_charge(numbers, total_charge, where: str = "structure") -> None:
    """Raise a ``ValueError`` when a total charge cannot belong to a structure of these atoms.

    Args:
        numbers: ``[n]`` atomic numbers of one structure.
        total_charge: Q, e: must be finite, an integer (to 1e-6), and at most Σ Z (no more electrons
            can be removed than the atoms hold).
    """
    q = float(total_charge)
    n_electrons = int(np.sum(np.asarray(numbers)))
    if not np.isfinite(q) or abs(q - round(q)) > 1e-6:
        raise ValueError(f"{where}: total charge {q} e is not an integer number of elementary charges")
    if q > n_electrons:
        raise ValueError(f"{where}: total charge {q:+g} e would remove more electrons than the {n_electrons} "
                         f"the atoms hold")


def _check_graph(graph, species, max_cell_length, background) -> None:
    """Host-side checks of concrete graphs: elements, total charges, periodicity, cell size, background."""
    leaves = (graph.nodes["atomic_numbers"], graph.globals["pbc"], graph.globals["cell"], graph.n_node)
    if not all(is_concrete(x) for x in leaves):
        return
    z = np.asarray(graph.nodes["atomic_numbers"])
    check_species(z, species)
    pbc = np.asarray(graph.globals["pbc"]).reshape(-1, 3)
    cell = np.asarray(graph.globals["cell"]).reshape(-1, 3, 3)
    charge = total_charges(graph)
    charge = np.asarray(charge) if is_concrete(charge) else None
    gi = np.asarray(node_graph_index(graph))
    for g in np.flatnonzero(np.asarray(graph_mask(graph))):
        what = f"graph {g}"
        if charge is not None:
            check_total_charge(z[gi == g], charge[g], what)
        if pbc[g].any() and not pbc[g].all():
            raise ValueError(f"{what}: the Ewald sum needs a cell periodic in all three directions or none, "
                             f"got pbc={pbc[g].tolist()}")
        if not pbc[g].any():
            continue
        length = float(np.max(np.linalg.norm(cell[g], axis=-1)))
        if max_cell_length is None or length > max_cell_length + 1e-9:
            raise ValueError(f"{what}: a periodic cell with a lattice vector of {length:.4g} Å exceeds the "
                             f"reciprocal-space capacity of this electrostatics term (max_cell_length="
                             f"{max_cell_length} Å); build the term with a larger max_cell_length")
        if not background and charge is not None and abs(charge[g]) > 1e-8:
            raise ValueError(f"{what}: a periodic cell with net charge {charge[g]:+g} e has no finite Ewald energy "
                             "without the neutralising background; use background=True or a neutral cell")


def qeq_ewald(charge_model: dict, species, *, cutoff: float | None = None, accuracy: float = 1e-6,
              max_cell_length: float | None = None, width_factor: float = 0.5, hardness=None,
              electronegativity=None, background: bool = True, energy: str = "elec", scheme: str = "qeq",
              initial_charges=None) -> QEqEwald:
    """The learned-charge electrostatics term (charge equilibration or latent charges; module docstring)
    and its charge function.

    Equal arguments give the same object (compiled programs are shared).

    Args:
        charge_model: ``{"kind": ..., "args": {...}}`` of a registered model kind with per-atom
            energies (its per-atom outputs are the electronegativity corrections, eV/e); no triplets.
        species: atomic numbers (χ⁰, hardness and widths per element).
        cutoff: real-space cutoff r_c, Å (default: the charge model's cutoff); the graphs must be built
            with a cutoff ≥ r_c.
        accuracy: Ewald accuracy ε (:func:`hybridpot.physics.ewald_splitting`).
        max_cell_length: longest lattice vector accepted, Å (sizes the static k grid); None: only
            non-periodic structures.
        width_factor: σ_Z = width_factor × covalent radius of Z (ASE, Cordero 2008), Å. Ko et al. use
            the covalent radius itself; the default halves it so that the Gaussian screening of a
            periodic real-space sum is complete within a 5 Å cutoff.
        hardness: initial J_Z, eV/e² (> 0): one value, or ``{element: value}`` for every species
            (symbols or atomic numbers); None: :data:`DEFAULT_HARDNESS`.
        electronegativity: initial χ⁰_Z, eV/e, ``{element: value}`` for every species (e.g. the
            QEq table of Rappé & Goddard, J. Phys. Chem. 95, 3358 (1991)); None: 0 for all. A start
            away from χ⁰ = 0 matters: at χ = 0 the charges and the gradient of E_elec with respect
            to χ are both 0 (E_elec is quadratic in χ), so training cannot leave that point alone.
        background: add the neutralising background of a charged periodic cell (False: such a cell
            raises).
        energy: what the term adds to the total: ``"elec"`` (default), E_elec(q*) as in the 4G-HDNNP
            (Ko et al. 2021); ``"qeq"``, the minimised E_Qeq(q*) as in classic charge-equilibration
            force fields (Rappé & Goddard 1991). E_Qeq is stationary in q, so its forces are the
            Coulomb forces between the charges held fixed (Hellmann–Feynman), and two fragments far
            apart attract as k_e q_A q_B / d, whereas E_elec(q*) also changes as the charges flow.
        scheme: ``"qeq"`` (default), charge equilibration; ``"latent"``, latent charges as in latent
            Ewald summation (Cheng, arXiv:2408.15165 (2024)): q_i = NN_i + q⁰_Z straight from the
            charge model, shifted uniformly within each structure to its total charge. Latent charges
            are local: no charge flows between fragments far apart.
        initial_charges: initial q⁰_Z of the latent scheme, e, ``{element: value}``; None: 0 (at
            q = 0 the gradient of E_elec vanishes too, and training leaves it only as fast as the
            charge model's small initial outputs grow).
    Raises:
        ValueError: bad arguments, or Gaussian widths too wide for the real-space cutoff (named).
    """
    from hybridpot.potentials.physics_terms import _freeze

    return _qeq_ewald(_freeze(dict(charge_model=charge_model, species=list(check_species_list(species)),
                                   cutoff=cutoff, accuracy=accuracy, max_cell_length=max_cell_length,
                                   width_factor=width_factor, hardness=hardness,
                                   electronegativity=electronegativity, background=bool(background),
                                   energy=energy, scheme=scheme, initial_charges=initial_charges)))


def _per_species(name: str, value, species, default: float) -> np.ndarray:
    """``[S]`` floats from one number, ``{element: number}`` covering every species, or None (the default)."""
    if value is None:
        return np.full(len(species), float(default))
    if not isinstance(value, dict):
        return np.full(len(species), float(value))
    from ase.data import atomic_numbers

    table = {}
    for key, v in value.items():
        z = atomic_numbers.get(key) if isinstance(key, str) and not key.isdigit() else int(key)
        if z is None:
            raise ValueError(f"qeq_ewald {name}: unknown element {key!r}")
        table[int(z)] = float(v)
    missing = [z for z in species if z not in table]
    if missing:
        raise ValueError(f"qeq_ewald {name}: no value for element(s) {missing}")
    return np.array([table[z] for z in species])


@functools.lru_cache(maxsize=32)
def _qeq_ewald(frozen) -> QEqEwald:
    from ase.data import covalent_radii

    from hybridpot.potentials.physics_terms import _thaw
    from hybridpot.potentials.registry import build_model

    a = _thaw(frozen)
    spec = a["charge_model"]
    if not isinstance(spec, dict) or "kind" not in spec or set(spec) - {"kind", "args"}:
        raise ValueError(f"qeq_ewald: charge_model must be {{'kind': ..., 'args': {{...}}}}, got {spec!r}")
    model = build_model(spec["kind"], spec.get("args") or {})
    if model.atomic_energy is None or model.needs_triplets:
        raise ValueError(f"qeq_ewald: the charge model {spec['kind']!r} needs per-atom outputs and no triplets")
    species = tuple(int(z) for z in a["species"])
    if model.species is not None and set(model.species) != set(species):
        raise ValueError(f"qeq_ewald: the charge model's species {model.species} differ from {species}")
    cutoff = float(model.cutoff if a["cutoff"] is None else a["cutoff"])
    check_positive("qeq_ewald cutoff", cutoff)
    check_positive("qeq_ewald width_factor", a["width_factor"])
    hardness0 = _per_species("hardness", a["hardness"], species, DEFAULT_HARDNESS)
    check_positive("qeq_ewald hardness", hardness0)
    chi0 = _per_species("electronegativity", a["electronegativity"], species, 0.0)
    alpha, k_cutoff = ewald_splitting(cutoff, a["accuracy"])
    max_len = a["max_cell_length"]
    if max_len is not None:
        check_positive("qeq_ewald max_cell_length", max_len)
    n_max = 0 if max_len is None else reciprocal_n_max(np.eye(3) * float(max_len), k_cutoff)
    widths0 = float(a["width_factor"]) * np.asarray(covalent_radii)[list(species)]
    widest = float(np.sqrt(2.0) * np.max(widths0))
    from scipy.special import erfc

    if max_len is not None and erfc(cutoff / (np.sqrt(2.0) * widest)) > GAUSSIAN_SCREENING_TOLERANCE:
        raise ValueError(
            f"qeq_ewald: Gaussian charges of width up to {np.max(widths0):.3g} Å are not screened within the "
            f"real-space cutoff {cutoff} Å (erfc(r_c/√2γ) = {erfc(cutoff / (np.sqrt(2.0) * widest)):.2g} > "
            f"{GAUSSIAN_SCREENING_TOLERANCE}); lower width_factor or raise the cutoff")
    table = jnp.asarray(np.maximum(species_index_table(species), 0))
    background = bool(a["background"])
    if a["energy"] not in ("elec", "qeq"):
        raise ValueError(f"qeq_ewald energy must be 'elec' or 'qeq', got {a['energy']!r}")
    qeq_energy = a["energy"] == "qeq"
    if a["scheme"] not in ("qeq", "latent"):
        raise ValueError(f"qeq_ewald scheme must be 'qeq' or 'latent', got {a['scheme']!r}")
    latent = a["scheme"] == "latent"
    if latent and qeq_energy:
        raise ValueError("qeq_ewald: energy='qeq' needs scheme='qeq' (latent charges minimise nothing)")
    if latent and (a["electronegativity"] is not None or a["hardness"] is not None):
        raise ValueError("qeq_ewald: latent charges take initial_charges, not electronegativity or hardness")
    if not latent and a["initial_charges"] is not None:
        raise ValueError("qeq_ewald: initial_charges belong to scheme='latent'; charge equilibration starts "
                         "from electronegativity and hardness")
    q0 = _per_species("initial_charges", a["initial_charges"], species, 0.0)

    def init(key, graph, triplets=None):
        dtype = graph.nodes["positions"].dtype
        params = {"charge_model": model.init(jax.random.fold_in(key, 1), graph, None)}
        if latent:
            return {**params, "q0": jnp.asarray(q0, dtype)}
        return {**params, "chi0": jnp.asarray(chi0, dtype),
                "hardness": jnp.asarray([_softplus_inverse(h) for h in hardness0], dtype)}

    def solve(params, graph):
        """Charges ``[N]`` e, the Coulomb matrix ``[N, N]`` eV/e², the background ``[G]`` eV, and (charge
        equilibration) the electronegativities ``[N]`` eV/e and hardnesses ``[N]`` eV/e²."""
        _check_graph(graph, species, max_len, background)
        z = graph.nodes["atomic_numbers"]
        pos = graph.nodes["positions"]
        dtype = pos.dtype
        real = node_mask(graph)
        s = table[z]
        n, n_graph = z.shape[0], graph.n_node.shape[0]
        gi = node_graph_index(graph)
        sigma = jnp.asarray(widths0, dtype)[s]
        out = model.atomic_energy(params["charge_model"], graph, None).astype(dtype)
        same = (gi[:, None] == gi[None, :]) & real[:, None] & real[None, :]
        offdiag = same & ~jnp.eye(n, dtype=bool)
        gamma = jnp.sqrt(sigma[:, None] ** 2 + sigma[None, :] ** 2)
        d = pos[:, None, :] - pos[None, :, :]
        r = jnp.sqrt(jnp.where(offdiag, jnp.sum(d * d, axis=-1), 1.0))
        a_mat = jnp.where(offdiag, ewald_real_space_energy(r, 1.0, 1.0, 0.0, gamma), 0.0)  # direct: erf(r/√2γ)/r
        gauss_self = COULOMB_CONSTANT / (jnp.sqrt(jnp.pi) * sigma)  # twice a Gaussian's self-energy per q²
        periodic = graph.globals["pbc"].reshape(n_graph, 3).any(axis=-1)
        cell = graph.globals["cell"].reshape(n_graph, 3, 3)
        bg = jnp.zeros(n_graph, dtype)
        diag = gauss_self
        if n_max:
            node_periodic = periodic[gi]
            em = edge_mask(graph) & node_periodic[graph.receivers]
            re = edge_distances(graph)
            ge = gamma[graph.receivers, graph.senders]
            phi = jnp.where(em, ewald_real_space_energy(jnp.where(em, re, 1.0), 1.0, 1.0, alpha, ge), 0.0)
            real_space = jnp.zeros((n, n), dtype).at[graph.receivers, graph.senders].add(phi)
            safe_cell = jnp.where(periodic[:, None, None], cell, jnp.eye(3, dtype=dtype))
            k, w = jax.vmap(lambda c: reciprocal_weights(c, alpha, k_cutoff, n_max))(safe_cell)
            w = jnp.where(periodic[:, None], w, 0.0)
            phase = jnp.einsum("nkd,nd->nk", k[gi], pos)
            cos, sin, wn = jnp.cos(phase), jnp.sin(phase), w[gi]
            recip = 2.0 * ((cos * wn) @ cos.T + (sin * wn) @ sin.T)
            a_mat = jnp.where(same & node_periodic[:, None], real_space + recip, a_mat)
            diag = diag + jnp.where(node_periodic, 2.0 * ewald_self_energy(1.0, alpha), 0.0)
            if background:
                volume = jnp.abs(jnp.linalg.det(safe_cell))
                bg = jnp.where(periodic, ewald_background_energy(total_charges(graph), volume, alpha), 0.0)
            cell_len = jnp.max(jnp.linalg.norm(cell, axis=-1), axis=-1)
            beyond = periodic & (cell_len > float(max_len) + 1e-9)
        else:
            beyond = periodic  # molecules only: a periodic graph under jit gets NaN
        a_mat = a_mat + jnp.diag(jnp.where(real, diag, 0.0))
        total = total_charges(graph)
        if latent:  # q_i = NN_i + q⁰_Z, shifted uniformly within each graph to the total charge
            raw = jnp.where(real, out + params["q0"][s], 0.0)
            count = jax.ops.segment_sum(real.astype(dtype), gi, num_segments=n_graph)
            excess = (jax.ops.segment_sum(raw, gi, num_segments=n_graph) - total) / jnp.maximum(count, 1.0)
            q, chi, hard = raw - excess[gi], None, None
        else:
            # bordered system [[A + J, Bᵀ], [B, 0]] [q; λ] = [−χ; Q]; padding atoms, empty graphs: identity rows
            chi = jnp.where(real, out + params["chi0"][s], 0.0)
            hard = jax.nn.softplus(params["hardness"])[s]
            member = (jax.nn.one_hot(gi, n_graph, dtype=dtype) * real[:, None]).T  # [G, N]
            empty = ~graph_mask(graph)
            h = a_mat + jnp.diag(jnp.where(real, hard, 1.0))
            top = jnp.concatenate([h, member.T], axis=1)
            bottom = jnp.concatenate([member, jnp.diag(empty.astype(dtype))], axis=1)
            rhs = jnp.concatenate([-chi, jnp.where(empty, 0.0, total)])
            q = jnp.linalg.solve(jnp.concatenate([top, bottom], axis=0), rhs)[:n]
        q = jnp.where(real, q, 0.0)
        bg = jnp.where(beyond, jnp.nan, bg)
        return q, a_mat, bg, chi, hard

    def atomic_energy(params, graph, triplets=None):
        q, a_mat, bg, chi, hard = solve(params, graph)
        gi = node_graph_index(graph)
        real = node_mask(graph)
        n_real = jax.ops.segment_sum(real.astype(q.dtype), gi, num_segments=graph.n_node.shape[0])
        e = 0.5 * q * (a_mat @ q) + (bg / jnp.maximum(n_real, 1.0))[gi]
        if qeq_energy:
            e = e + chi * q + 0.5 * hard * q**2
        return jnp.where(real, e, 0.0)

    def charges(params, graph):
        return solve(params, graph)[0]

    term = atomic_model(init, atomic_energy, max(cutoff, float(model.cutoff)), species=species)

    def check(graph):
        _check_graph(graph, species, max_len, background)

    return QEqEwald(term, charges, check, cutoff, float(alpha), float(k_cutoff), int(n_max))


def qeq_from_spec(physics: dict | None) -> QEqEwald | None:
    """The :class:`QEqEwald` of a ``{"kind": "qeq_ewald", ...}`` physics spec (None for any other spec or None)."""
    if not isinstance(physics, dict) or physics.get("kind") != "qeq_ewald":
        return None
    return qeq_ewald(**{k: v for k, v in physics.items() if k != "kind"})


def qeq_charges(physics: dict, params, graph: jraph.GraphsTuple) -> jax.Array:
    """Charges ``[n_node]`` e (equilibrated or latent) of a ``qeq_ewald`` physics spec with its parameters; what users read.

    Args:
        physics: the ``{"kind": "qeq_ewald", ...}`` spec (e.g. ``TrainedPotential.physics``).
        params: the term's parameters (``params["physics"]`` of a hybrid, one member).
        graph: graphs built with a cutoff ≥ the term's; total charges in ``globals["charge"]``.
    Raises:
        ValueError: another kind of physics term.
    """
    qeq = qeq_from_spec(physics)
    if qeq is None:
        raise ValueError(f"charges need a 'qeq_ewald' physics term, got {physics!r}")
    return qeq.charges(params, graph)
