r"""Where the properties' derivatives come from: exact ones of a hybridpot potential by JAX, or finite
differences through any ASE calculator.

Every property of :mod:`hybridpot.properties` needs a few derivatives of the energy of one crystal,

.. math::
    E(\mathbf u, \mathbf e) = E\big((\mathbf R + \mathbf u)(I + \varepsilon(\mathbf e))\big),\qquad
    \varepsilon(\mathbf e) = \begin{pmatrix} e_1 & e_6/2 & e_5/2\\ e_6/2 & e_2 & e_4/2\\ e_5/2 & e_4/2 & e_3\end{pmatrix}

(positions R ``[n, 3]`` Å as rows, displacements u, Voigt strain e with engineering shears, the cell
strained with the atoms): the energy, the forces, the blocks ∂²E/∂e², ∂²E/∂e∂u, ∂²E/∂u² of its
Hessian at u = 0, e = 0 (elastic constants), and rows of the position Hessian of a supercell
(force constants). A *source* provides them:

* :class:`GraphEnergySource`: an ``energy_fn(params, graph[, triplets]) -> [n_graph] eV`` with its
  parameters (every potential of hybridpot: :func:`potential_source` builds it from a
  :class:`~hybridpot.potentials.TrainedPotential`). The derivatives are exact (``jax.hessian``,
  forward-over-reverse ``jax.jvp`` of ``jax.grad``), of the energy on the graph of the reference
  structure (its neighbour list fixed, so the derivatives are those of the smooth energy there).
* :class:`CalculatorSource`: any ASE calculator, by central finite differences of forces and
  stress (steps ``displacement`` Å and ``strain``).

:func:`as_source` turns a model file, a ``TrainedPotential``, an ASE calculator or a source into a
source.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

from hybridpot.graph import build_graph, build_triplets, pad_graph, pad_triplets
from hybridpot.potential import strain_graph
from hybridpot.potentials.trained import TrainedPotential, with_positions

#: Default largest residual force of a structure whose elastic constants or phonons are asked for, eV/Å.
DEFAULT_FMAX = 1e-3


#: ``[6, 3, 3]``: ∂ε/∂e_I, the strain tensor of each unit Voigt strain (xx yy zz yz xz xy, engineering shears).
VOIGT_BASIS = np.zeros((6, 3, 3))
for _i, (_k, _l) in enumerate(((0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1))):
    VOIGT_BASIS[_i, _k, _l] = VOIGT_BASIS[_i, _l, _k] = 1.0 if _k == _l else 0.5


def voigt_strain(e):
    """The symmetric strain tensor ``[3, 3]`` of a Voigt strain ``e: [6]`` (xx yy zz yz xz xy, engineering
    shears γ = 2ε), dimensionless; numpy or JAX arrays."""
    return (e[..., :, None, None] * VOIGT_BASIS).sum(-3)


@dataclasses.dataclass(frozen=True)
class CrystalDerivatives:
    """Energy, forces and the second derivatives of one periodic structure at u = 0, e = 0 (module docstring).

    Attributes:
        energy: eV.
        forces: ``[n, 3]`` eV/Å.
        stress: ``[3, 3]`` eV/Å³ (ASE sign: (1/V) ∂E/∂ε).
        strain_strain: ``[6, 6]`` ∂²E/∂e_I∂e_J, eV.
        strain_position: ``[6, 3n]`` ∂²E/∂e_I∂u_k, eV/Å (k = 3·atom + direction).
        position_position: ``[3n, 3n]`` ∂²E/∂u_k∂u_l, eV/Å².
        volume: cell volume, Å³.
    """

    energy: float
    forces: np.ndarray
    stress: np.ndarray
    strain_strain: np.ndarray
    strain_position: np.ndarray
    position_position: np.ndarray
    volume: float


def _volume(atoms) -> float:
    return float(abs(np.linalg.det(np.asarray(atoms.get_cell()))))


def check_periodic(atoms, what: str) -> None:
    """``ValueError`` unless ``atoms`` is periodic in all three directions with a non-singular cell."""
    if not np.all(atoms.get_pbc()) or _volume(atoms) <= 0:
        raise ValueError(f"{what} needs a crystal periodic in x, y and z with a non-singular cell; got pbc="
                         f"{atoms.get_pbc().tolist()}, volume {_volume(atoms):.4g} Å³")


def check_relaxed(forces, fmax: float, what: str) -> None:
    """``ValueError`` when the largest residual force (``forces: [n, 3]`` eV/Å) exceeds ``fmax`` eV/Å."""
    largest = float(np.max(np.linalg.norm(np.asarray(forces), axis=1))) if len(forces) else 0.0
    if largest > fmax:
        raise ValueError(f"{what} needs a relaxed structure: the largest residual force is {largest:.3g} eV/Å, above "
                         f"fmax={fmax:g} eV/Å. Relax the atoms first (e.g. ase.optimize.BFGS, or `hybridpot "
                         "properties --relax`), or raise fmax knowingly.")


def _capacity(n: int) -> int:
    """A padded size ≥ n + 1 on the ladder 2^(k/4), so structures of similar size share one compiled program."""
    return int(np.ceil(2.0 ** (np.ceil(4 * np.log2(n + 1)) / 4)))


@dataclasses.dataclass(frozen=True, eq=False)
class GraphEnergySource:
    """Exact derivatives (JAX) of ``energy_fn(params, graph[, triplets]) -> [n_graph]`` eV.

    Args:
        energy_fn: a hybridpot energy function (e.g. ``TrainedPotential.energy_fn()``).
        params: its parameters (one member, no leading axis).
        cutoff: the neighbour cutoff the graphs must be built with, Å; also the interaction range
            checked against the supercell of phonons.
        needs_triplets: pass ``triplets`` (angular models).
        species: atomic numbers the potential accepts (None: any).
    """

    energy_fn: Callable
    params: Any
    cutoff: float
    needs_triplets: bool = False
    species: tuple[int, ...] | None = None

    # ------------------------------------------------------------------ inputs
    def _inputs(self, atoms):
        from hybridpot.validation import check_atomic_numbers

        check_atomic_numbers(atoms.get_atomic_numbers(), self.species, "the structure")
        dtype = np.float64 if jax.config.read("jax_enable_x64") else np.float32
        graph = build_graph(atoms.get_positions(), atoms.get_atomic_numbers(), self.cutoff,
                            cell=np.asarray(atoms.get_cell()), pbc=np.asarray(atoms.get_pbc()), dtype=dtype)
        n, n_edge = len(atoms), int(np.sum(np.asarray(graph.n_edge)))
        padded = pad_graph(graph, n + 1, _capacity(n_edge), 2)
        triplets = None
        if self.needs_triplets:
            t = build_triplets(graph)
            triplets = jax.tree.map(jnp.asarray, pad_triplets(t, _capacity(int(np.asarray(t.kj).shape[0])),
                                                              padding_edge=n_edge, n_graph=2))
        return padded, triplets

    def _energy(self, params, graph, triplets, positions, strain):
        """Energy (eV) of the first graph with ``positions: [n_pad, 3]`` Å and ``strain: [3, 3]``."""
        strains = jnp.zeros((2, 3, 3), positions.dtype).at[0].set(strain)
        g = strain_graph(with_positions(graph, positions), strains)
        e = self.energy_fn(params, g, triplets) if self.needs_triplets else self.energy_fn(params, g)
        return e[0]

    def _energy_forces_fn(self, params, graph, triplets):
        """Energy, forces ``[n_pad, 3]`` and ∂E/∂ε ``[3, 3]`` (eager; :attr:`_jit` holds it compiled)."""
        zero = jnp.zeros((3, 3), graph.nodes["positions"].dtype)
        e, (gp, gs) = jax.value_and_grad(self._energy, argnums=(3, 4))(params, graph, triplets,
                                                                        graph.nodes["positions"], zero)
        return e, -gp, gs

    def _hessian_fn(self, params, graph, triplets):
        """The Hessian ``[6 + 3 n_pad, 6 + 3 n_pad]`` of E in (Voigt strain, displacements) at 0 (eager)."""
        x0 = graph.nodes["positions"]
        basis = jnp.asarray(VOIGT_BASIS, x0.dtype)

        def flat(z):
            e, u = z[:6], z[6:].reshape(x0.shape)
            return self._energy(params, graph, triplets, x0 + u, jnp.einsum("i,ijk->jk", e, basis))

        return jax.hessian(flat)(jnp.zeros(6 + x0.size, x0.dtype))

    def _rows_fn(self, params, graph, triplets, tangents):
        """Hessian-vector products ``[k, n_pad, 3]`` along ``tangents: [k, n_pad, 3]`` (forward over reverse; eager)."""
        x0 = graph.nodes["positions"]
        zero = jnp.zeros((3, 3), x0.dtype)
        grad = jax.grad(lambda x: self._energy(params, graph, triplets, x, zero))
        return jax.vmap(lambda t: jax.jvp(grad, (x0,), (t,))[1])(tangents)

    @functools.cached_property
    def _jit(self):
        """The three functions above, compiled (one program per padded shape)."""
        return {"energy_forces": jax.jit(self._energy_forces_fn), "hessian": jax.jit(self._hessian_fn),
                "rows": jax.jit(self._rows_fn)}

    # ------------------------------------------------------------------ the source interface
    def energy_forces(self, atoms) -> tuple[float, np.ndarray]:
        """Energy (eV) and forces ``[n, 3]`` (eV/Å) of ``atoms``."""
        graph, triplets = self._inputs(atoms)
        e, f, _ = self._jit["energy_forces"](self.params, graph, triplets)
        return float(e), np.asarray(f, np.float64)[: len(atoms)]

    def derivatives(self, atoms) -> CrystalDerivatives:
        """:class:`CrystalDerivatives` of a periodic ``atoms``, exact (``jax.hessian``)."""
        check_periodic(atoms, "strain derivatives")
        graph, triplets = self._inputs(atoms)
        e, f, g_strain = self._jit["energy_forces"](self.params, graph, triplets)
        h = np.asarray(self._jit["hessian"](self.params, graph, triplets), np.float64)
        k = 3 * len(atoms)
        v = _volume(atoms)
        return CrystalDerivatives(float(e), np.asarray(f, np.float64)[: len(atoms)], np.asarray(g_strain, np.float64) / v,
                                  h[:6, :6], h[:6, 6:6 + k], h[6:6 + k, 6:6 + k], v)

    def force_constant_rows(self, atoms, indices) -> np.ndarray:
        """``[len(indices), 3, n, 3]`` eV/Å²: ∂²E/∂R_{i,α}∂R_{j,β} for the atoms ``indices`` of ``atoms``,
        exact (forward-over-reverse: one ``jax.jvp`` of ``jax.grad`` per row)."""
        graph, triplets = self._inputs(atoms)
        n_pad = graph.nodes["positions"].shape[0]
        idx = np.asarray(indices, int)
        tangents = np.zeros((len(idx), 3, n_pad, 3))
        for a, i in enumerate(idx):
            tangents[a, :, i, :] = np.eye(3)
        tangents = jnp.asarray(tangents.reshape(-1, n_pad, 3), graph.nodes["positions"].dtype)
        rows = np.asarray(self._jit["rows"](self.params, graph, triplets, tangents), np.float64)
        return rows.reshape(len(idx), 3, n_pad, 3)[:, :, : len(atoms)]


def potential_source(potential, member: int = 0) -> GraphEnergySource:
    """The exact source of one member of a :class:`~hybridpot.potentials.TrainedPotential` (or a model-file path)."""
    if not isinstance(potential, TrainedPotential):
        from hybridpot.potentials import load_potential

        potential = load_potential(potential)
    dtype = np.float64 if jax.config.read("jax_enable_x64") else np.float32
    params = jax.tree.map(lambda x: jnp.asarray(x, dtype) if np.issubdtype(np.asarray(x).dtype, np.floating)
                          else jnp.asarray(x), potential.member_params(member))
    return GraphEnergySource(potential.energy_fn(), params, potential.cutoff, potential.needs_triplets,
                             potential.species)


@dataclasses.dataclass(frozen=True, eq=False)
class CalculatorSource:
    """Derivatives of any ASE calculator by central finite differences.

    Args:
        calculator: an ASE calculator with forces and (for elastic constants) stress.
        displacement: atomic displacement step, Å.
        strain: strain step (dimensionless).
        cutoff: interaction range of the calculator, Å, checked against the supercell of phonons
            (None: not checked).
    """

    calculator: Any
    displacement: float = 1e-3
    strain: float = 1e-4
    cutoff: float | None = None

    def _run(self, atoms, positions=None, cell=None):
        a = atoms.copy()
        if cell is not None:
            a.set_cell(cell, scale_atoms=False)
        if positions is not None:
            a.set_positions(positions)
        a.calc = self.calculator
        return a

    def energy_forces(self, atoms) -> tuple[float, np.ndarray]:
        """Energy (eV) and forces ``[n, 3]`` (eV/Å) of ``atoms``."""
        a = self._run(atoms)
        return float(a.get_potential_energy()), np.asarray(a.get_forces(), np.float64)

    def _strained_gradients(self, atoms, e):
        """∂E/∂e ``[6]`` and ∂E/∂u ``[3n]`` at the Voigt strain ``e`` (u = 0), from stress and forces."""
        from ase.stress import voigt_6_to_full_3x3_stress

        eps = np.asarray(voigt_strain(e), np.float64)
        deform = np.eye(3) + eps
        a = self._run(atoms, atoms.get_positions() @ deform, np.asarray(atoms.get_cell()) @ deform)
        sigma = voigt_6_to_full_3x3_stress(a.get_stress())
        d_e = _volume(a) * np.einsum("kl,lm,Imk->I", sigma, np.linalg.inv(deform), VOIGT_BASIS)
        d_u = -(np.asarray(a.get_forces()) @ deform.T).ravel()
        return d_e, d_u

    def derivatives(self, atoms) -> CrystalDerivatives:
        """:class:`CrystalDerivatives` of a periodic ``atoms`` by central differences (12 strained and 6n
        displaced evaluations)."""
        from ase.stress import voigt_6_to_full_3x3_stress

        check_periodic(atoms, "strain derivatives")
        n = len(atoms)
        h_e = self.strain
        strain_rows = []
        for i in range(6):
            step = np.eye(6)[i] * h_e
            (pe, pu), (me, mu) = self._strained_gradients(atoms, step), self._strained_gradients(atoms, -step)
            strain_rows.append(np.concatenate([pe - me, pu - mu]) / (2 * h_e))
        strain_rows = np.asarray(strain_rows)
        hessian = self.force_constant_rows(atoms, np.arange(n)).reshape(3 * n, 3 * n)
        a = self._run(atoms)
        return CrystalDerivatives(float(a.get_potential_energy()), np.asarray(a.get_forces(), np.float64),
                                  voigt_6_to_full_3x3_stress(a.get_stress()), strain_rows[:, :6],
                                  strain_rows[:, 6:], 0.5 * (hessian + hessian.T), _volume(atoms))

    def force_constant_rows(self, atoms, indices) -> np.ndarray:
        """``[len(indices), 3, n, 3]`` eV/Å² by central differences of the forces (6 evaluations per atom)."""
        x0 = atoms.get_positions()
        rows = np.zeros((len(indices), 3, len(atoms), 3))
        for a, i in enumerate(indices):
            for alpha in range(3):
                forces = []
                for sign in (1.0, -1.0):
                    x = x0.copy()
                    x[i, alpha] += sign * self.displacement
                    forces.append(self._run(atoms, x).get_forces())
                rows[a, alpha] = -(forces[0] - forces[1]) / (2 * self.displacement)
        return rows


def as_source(model, *, member: int = 0):
    """A source from a model-file path, a :class:`~hybridpot.potentials.TrainedPotential` (exact), an ASE
    calculator (finite differences, default steps) or a source (returned as is)."""
    if isinstance(model, (GraphEnergySource, CalculatorSource)):
        return model
    if isinstance(model, TrainedPotential) or isinstance(model, str) or hasattr(model, "__fspath__"):
        return potential_source(model, member)
    if hasattr(model, "get_potential_energy") or hasattr(model, "calculate"):
        return CalculatorSource(model)
    raise ValueError(f"cannot compute properties from a {type(model).__name__}: give a model file, a TrainedPotential, "
                     "an ASE calculator or a source of hybridpot.properties")
