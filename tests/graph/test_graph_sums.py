"""Compensated per-graph sums: exact to one rounding in float32, and a crystal's energy per atom
that does not drift with its size."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from ase.build import bulk

from hybridpot.graph import graph_from_atoms
from hybridpot.graph.sums import contiguous_segment_sum
from hybridpot.potentials.physics_terms import embedded_atom_term

# Cleri–Rosato second-moment Al (eV, 1, eV, 1, Å); cutoff 5.5 Å takes four neighbour shells
AL = dict(a=0.1221, p=8.612, xi=1.316, q=2.516, r0=2.8637)
AL_CUTOFF = 5.5


def _sums_float64(values, counts):
    ends = np.cumsum(counts)
    return np.array([values[e - c:e].astype(np.float64).sum() for e, c in zip(ends, counts)])


def test_float32_sums_are_rounded_exact_sums_with_empty_runs():
    rng = np.random.default_rng(0)
    counts = np.array([0, 3, 50_000, 0, 1, 20_000, 0])
    values = (-3.0 + 1e-3 * rng.normal(size=counts.sum())).astype(np.float32)
    exact = _sums_float64(values, counts)
    got = np.asarray(jax.jit(contiguous_segment_sum)(jnp.asarray(values), jnp.asarray(counts)))
    assert got.dtype == np.float32
    # one rounding of the exact sum: within half an ulp of float32 (plus the float64 reference's own error)
    ulp = np.spacing(np.abs(exact).astype(np.float32)).astype(np.float64)
    np.testing.assert_array_less(np.abs(got - exact), 0.5 * ulp + 1e-9)
    assert got[0] == got[3] == got[6] == 0.0
    # the running float32 sum this replaces is off by many ulps
    plain = np.asarray(jax.ops.segment_sum(jnp.asarray(values), jnp.repeat(jnp.arange(7), counts), num_segments=7))
    assert np.abs(plain - exact)[2] > 4 * ulp[2]


def test_eager_jit_vmap_and_derivatives():
    rng = np.random.default_rng(1)
    counts = jnp.asarray([2, 0, 5])
    values = jnp.asarray(rng.normal(size=7))
    expected = np.array([values[:2].sum(), 0.0, values[2:].sum()])
    np.testing.assert_allclose(contiguous_segment_sum(values, counts), expected, rtol=1e-14, atol=1e-14)
    np.testing.assert_array_equal(jax.jit(contiguous_segment_sum)(values, counts), contiguous_segment_sum(values, counts))
    batched = jax.vmap(contiguous_segment_sum, in_axes=(0, None))(jnp.stack([values, 2 * values]), counts)
    np.testing.assert_allclose(batched[1], 2 * expected, rtol=1e-14, atol=1e-14)
    assert contiguous_segment_sum(jnp.zeros(0), jnp.asarray([0, 0])).shape == (2,)
    weights = jnp.asarray([1.0, -2.0, 3.0])

    def f(v):
        return jnp.sum(weights * contiguous_segment_sum(v, counts) ** 2)

    owner = np.repeat(np.arange(3), np.asarray(counts))
    np.testing.assert_allclose(jax.jit(jax.grad(f))(values), 2 * (weights * expected)[owner], rtol=1e-13)
    # second derivatives go through the custom JVP as well: d²f/dv_i dv_j = 2 w_g within graph g
    np.testing.assert_allclose(jax.jit(jax.hessian(f))(values), np.where(owner[:, None] == owner[None, :],
                                                              2 * np.asarray(weights)[owner][:, None], 0.0))


def _energy_per_atom_float32(n_rep: int) -> float:
    term = embedded_atom_term([13], AL_CUTOFF, **AL, trainable=True)  # parameters in the graph's dtype
    atoms = bulk("Al", "fcc", a=4.05, cubic=True).repeat(n_rep)
    graph = graph_from_atoms(atoms, AL_CUTOFF, dtype=np.float32)
    params = term.init(jax.random.PRNGKey(0), graph)
    energy = jax.jit(term.energy)(params, graph, None)
    assert energy.dtype == jnp.float32
    return float(energy[0]) / len(atoms)


def test_float32_crystal_energy_per_atom_same_at_4_and_4000_atoms():
    # with a running float32 segment_sum this differs by 3.5e-5 eV/atom (docs/scale.md)
    assert abs(_energy_per_atom_float32(10) - _energy_per_atom_float32(1)) < 1e-6


@pytest.mark.slow
def test_float32_crystal_energy_per_atom_same_at_4_and_108000_atoms():
    assert abs(_energy_per_atom_float32(30) - _energy_per_atom_float32(1)) < 1e-6
