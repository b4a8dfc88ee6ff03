"""Shared pieces of the Al–Ni study scripts: data, splits, models and the embedded-atom baseline fit.

Used by ``train_bp.py``, ``md_jaxmd.py`` and ``benchmarks/bp_md_scaling.py``.
"""

from __future__ import annotations

import os

import jax
import jax.numpy as jnp
import numpy as np
import scipy.optimize

from hybridpot.graph import batch_graphs, build_graph
from hybridpot.models import SymmetryFunctionSpec, behler_parrinello, fit_descriptor_scaling, symmetry_function_spec
from hybridpot.physics import SecondMomentParams, second_moment_params
from hybridpot.potential import GraphModel, energy_and_forces
from hybridpot.potentials import embedded_atom_term
from hybridpot.train import Dataset

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA = os.path.join(ROOT, "hybridpot", "data", "alni_emt.extxyz")
SPECIES = (13, 28)
CUTOFF = 4.0  # Å, radial = angular: the trainer builds every triplet of the graph (see docs)


def load_dataset(path: str = DATA) -> tuple[Dataset, list]:
    """The EMT Al–Ni structures as a :class:`Dataset` and their ``config_type`` labels."""
    from ase.io import read

    images = read(path, ":")
    return Dataset.from_atoms(images), [a.info.get("config_type", "?") for a in images]


def split_indices(n: int, n_test: int = 60, n_valid: int = 30, seed: int = 0):
    """Random (pool, valid, test) index arrays; training sets are prefixes of the shuffled pool."""
    order = np.random.default_rng(seed).permutation(n)
    return order[n_test + n_valid :], order[n_test : n_test + n_valid], order[:n_test]


def make_spec(cutoff: float = CUTOFF, num_angular_eta: int = 3, num_radial: int = 8) -> SymmetryFunctionSpec:
    """Al–Ni features: 2×``num_radial`` radial G2 + 3 pairs × (``num_angular_eta`` η × ζ∈{1,4} × λ=±1)
    angular G4 (52 with the defaults; ``num_angular_eta=0``: radial only)."""
    return symmetry_function_spec(SPECIES, cutoff, cutoff, num_radial=num_radial, num_angular_eta=num_angular_eta,
                                  zetas=(1.0, 4.0))


def graphs_of(dataset: Dataset, cutoff: float = CUTOFF) -> list:
    """One graph per structure (float64)."""
    return [build_graph(s.positions, s.numbers, cutoff, cell=s.cell, pbc=s.pbc) for s in dataset.structures]


def make_bp(dataset: Dataset, hidden=(32, 32), cutoff: float = CUTOFF, num_angular_eta: int = 3, num_radial: int = 8):
    """A BP network whose feature scaling is fitted on ``dataset``; returns (model, spec, scaling)."""
    spec = make_spec(cutoff, num_angular_eta, num_radial)
    scaling = fit_descriptor_scaling(spec, graphs_of(dataset, cutoff))
    return behler_parrinello(spec, scaling, hidden=hidden), spec, scaling


def second_moment_term(params: SecondMomentParams, cutoff: float = CUTOFF, trainable: bool = False) -> GraphModel:
    """The second-moment embedded-atom baseline over :data:`SPECIES` as a physics term
    (:func:`hybridpot.potentials.embedded_atom_term`) with the ``[S, S]`` fields of ``params``:
    fixed (``params = {}``) or, with ``trainable``, reading its parameters from ``params``."""
    return embedded_atom_term(SPECIES, cutoff, **params._asdict(), trainable=trainable)


def second_moment_spec(params: SecondMomentParams, cutoff: float = CUTOFF) -> dict:
    """The fixed baseline as a physics spec (``{"kind": "embedded_atom", ...}``, plain JSON), as a
    train file or a model file names it; ``build_physics`` of it is :func:`second_moment_term`."""
    return {"kind": "embedded_atom", "species": list(SPECIES), "cutoff": cutoff,
            **{k: np.asarray(v).tolist() for k, v in params._asdict().items()}}


def fit_second_moment(dataset: Dataset, cutoff: float = CUTOFF, force_weight: float = 1.0, maxiter: int = 400):
    """Least-squares fit of the second-moment baseline (+ per-element energy offsets) to energies
    per atom and forces of ``dataset`` (L-BFGS-B, float64, one batched graph).

    Returns:
        ``(params, offsets {Z: eV/atom}, info)``; ``info`` holds the RMSE of the fit.
    """
    graph = batch_graphs(graphs_of(dataset, cutoff))
    n_atoms = np.asarray(graph.n_node, np.float64)
    e_ref = np.array([s.energy for s in dataset.structures])
    f_ref = np.concatenate([s.forces for s in dataset.structures])
    counts = np.stack([[np.sum(s.numbers == z) for z in SPECIES] for s in dataset.structures]).astype(np.float64)
    start = second_moment_params(len(SPECIES), a=0.1, p=10.0, xi=1.6, q=2.5, r0=2.7)
    iu = np.triu_indices(len(SPECIES))
    n_pair = len(iu[0])

    def unpack(x):
        x = jnp.asarray(x)
        leaves = []
        for k in range(5):
            v = x[k * n_pair : (k + 1) * n_pair]
            v = jnp.exp(v) if k != 4 else v  # a, p, xi, q positive via log; r0 as is
            m = jnp.zeros((len(SPECIES), len(SPECIES))).at[iu].set(v)
            leaves.append(m + jnp.triu(m, 1).T)
        return SecondMomentParams(*leaves), x[5 * n_pair :]

    x0 = np.concatenate([np.log(np.asarray(start.a)[iu]), np.log(np.asarray(start.p)[iu]),
                         np.log(np.asarray(start.xi)[iu]), np.log(np.asarray(start.q)[iu]),
                         np.asarray(start.r0)[iu], np.zeros(len(SPECIES))])
    term = second_moment_term(start, cutoff, trainable=True)  # energy(params, graph) of any SecondMomentParams
    ef = energy_and_forces(lambda p, g: term.energy(p, g, None))
    e_scale = np.std(e_ref / n_atoms) + 1e-3
    f_scale = np.sqrt(np.mean(f_ref**2)) + 1e-3

    @jax.jit
    def loss(x):
        params, offsets = unpack(x)
        e, f = ef(params, graph)
        e = e + counts @ offsets
        le = jnp.mean(((e - e_ref) / n_atoms) ** 2) / e_scale**2
        lf = jnp.mean((f - f_ref) ** 2) / f_scale**2
        return le + force_weight * lf

    grad = jax.jit(jax.value_and_grad(loss))
    # an initial guess for the offsets: the mean residual per atom
    e0, _ = ef(unpack(x0)[0], graph)
    x0[5 * n_pair :] = np.linalg.lstsq(counts, e_ref - np.asarray(e0), rcond=None)[0]
    res = scipy.optimize.minimize(lambda x: tuple(np.asarray(v, np.float64) for v in grad(x)), x0, jac=True,
                                  method="L-BFGS-B", options={"maxiter": maxiter})
    params, offsets = unpack(res.x)
    e, f = ef(params, graph)
    e = np.asarray(e) + counts @ np.asarray(offsets)
    info = {"energy_rmse_per_atom": float(np.sqrt(np.mean(((e - e_ref) / n_atoms) ** 2))),
            "forces_rmse": float(np.sqrt(np.mean((np.asarray(f) - f_ref) ** 2))), "n_iter": int(res.nit)}
    params = SecondMomentParams(*(np.asarray(v) for v in params))
    return params, dict(zip(SPECIES, np.asarray(offsets).tolist())), info
