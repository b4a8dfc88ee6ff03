"""Ewald summation: Madelung constants, independence of α, forces and stress by finite differences,
a triclinic cell against pymatgen, the reciprocal sum against jax-md, the direct sum, bad input."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hybridpot.graph import build_graph
from hybridpot.physics import (
    direct_coulomb_energy,
    ewald_energy,
    ewald_reciprocal_energy,
    ewald_splitting,
    reciprocal_n_max,
)
from hybridpot.units import COULOMB_CONSTANT


def _energy(positions, charges, cell, cutoff=8.0, accuracy=1e-10, background=True):
    g = build_graph(positions, np.ones(len(charges), int), cutoff, cell=cell, pbc=True)
    alpha, kc = ewald_splitting(cutoff, accuracy)
    n_max = reciprocal_n_max(cell, kc)
    return ewald_energy(g.nodes["positions"], jnp.asarray(charges, float), jnp.asarray(cell, float), g.senders,
                        g.receivers, g.edges["shifts"], alpha, kc, n_max, background=background)


def _rock_salt():
    fcc = np.array([[0, 0, 0], [0, 1, 1], [1, 0, 1], [1, 1, 0]], float)  # a = 2, r0 = 1
    return np.vstack([fcc, fcc + [1, 0, 0]]), np.array([1.0] * 4 + [-1.0] * 4), 2.0 * np.eye(3), 1.0, 4


def _cesium_chloride():
    return np.array([[0, 0, 0], [0.5, 0.5, 0.5]]), np.array([1.0, -1.0]), np.eye(3), np.sqrt(3) / 2, 1


def _zinc_blende():
    fcc = np.array([[0, 0, 0], [0, 2, 2], [2, 0, 2], [2, 2, 0]], float)  # a = 4, r0 = √3
    return np.vstack([fcc, fcc + 1.0]), np.array([1.0] * 4 + [-1.0] * 4), 4.0 * np.eye(3), np.sqrt(3.0), 4


@pytest.mark.parametrize("crystal, madelung", [(_rock_salt, 1.747565), (_cesium_chloride, 1.762675),
                                               (_zinc_blende, 1.638055)])
def test_madelung_constants(crystal, madelung):
    positions, charges, cell, r0, n_pairs = crystal()
    m = -float(_energy(positions, charges, cell)) * r0 / (n_pairs * COULOMB_CONSTANT)
    assert abs(m - madelung) < 1e-6


def test_primitive_cell_smaller_than_cutoff():
    """Rock salt in its 2-atom primitive cell (edges 1.41 Å) with an 8 Å cutoff: many images per pair."""
    cell = np.array([[0, 1, 1], [1, 0, 1], [1, 1, 0]], float)
    m = -float(_energy(np.array([[0, 0, 0], [1.0, 0, 0]]), np.array([1.0, -1.0]), cell)) / COULOMB_CONSTANT
    assert abs(m - 1.747565) < 1e-6


def _triclinic():
    rng = np.random.default_rng(0)
    cell = np.array([[5.1, 0.0, 0.0], [1.3, 4.7, 0.0], [-0.9, 0.8, 5.6]])
    frac = rng.uniform(size=(6, 3))
    charges = np.array([1.0, -1.0, 2.0, -0.5, -0.5, -1.0])
    return frac @ cell, charges, cell


@pytest.mark.parametrize("cutoff", [6.0, 7.5, 10.0])
def test_independent_of_splitting(cutoff):
    positions, charges, cell = _triclinic()
    reference = float(_energy(positions, charges, cell, cutoff=12.0, accuracy=1e-12))
    assert abs(float(_energy(positions, charges, cell, cutoff=cutoff)) - reference) < 1e-8 * abs(reference)


def test_triclinic_matches_pymatgen():
    pmg = pytest.importorskip("pymatgen.core")
    from pymatgen.analysis.ewald import EwaldSummation

    positions, charges, cell = _triclinic()
    structure = pmg.Structure(pmg.Lattice(cell), ["Na"] * len(charges), positions, coords_are_cartesian=True,
                              site_properties={"charge": charges})
    reference = EwaldSummation(structure, acc_factor=14.0).total_energy
    assert abs(float(_energy(positions, charges, cell)) - reference) < 1e-7 * abs(reference)


def test_charged_cell_background_matches_pymatgen():
    pmg = pytest.importorskip("pymatgen.core")
    from pymatgen.analysis.ewald import EwaldSummation

    positions, charges, cell = _triclinic()
    charges = charges + np.array([0.3, 0, 0, 0, 0, 0])
    structure = pmg.Structure(pmg.Lattice(cell), ["Na"] * len(charges), positions, coords_are_cartesian=True,
                              site_properties={"charge": charges})
    reference = EwaldSummation(structure, acc_factor=14.0, compute_forces=False).total_energy
    assert abs(float(_energy(positions, charges, cell)) - reference) < 1e-7 * abs(reference)
    with pytest.raises(ValueError, match="net charge"):
        _energy(positions, charges, cell, background=False)


def test_reciprocal_part_matches_jax_md():
    energy = pytest.importorskip("jax_md.energy")
    rng = np.random.default_rng(1)
    side, alpha, kc = 6.0, 0.45, 3.2
    positions = rng.uniform(0, side, (5, 3))
    charges = np.array([1.0, -1.0, 0.5, -0.7, 0.2])
    ours = ewald_reciprocal_energy(positions, charges, side * np.eye(3), alpha, kc, reciprocal_n_max(side * np.eye(3), kc))
    # jax-md's sum is over the full sphere with 2π/V in units of e²/4πε₀ = 1
    theirs = energy.coulomb_recip_ewald(jnp.asarray(charges), side, alpha, kc)(jnp.asarray(positions))
    np.testing.assert_allclose(float(ours), COULOMB_CONSTANT * float(theirs), rtol=1e-10)


def _efs_by_strain(positions, charges, cell, cutoff=7.0):
    g = build_graph(positions, np.ones(len(charges), int), cutoff, cell=cell, pbc=True)
    alpha, kc = ewald_splitting(cutoff, 1e-8)
    n_max = reciprocal_n_max(cell, kc) + 1  # room for the strained cells

    def energy(pos, eps):
        deform = jnp.eye(3) + 0.5 * (eps + eps.T)
        return ewald_energy(pos @ deform, jnp.asarray(charges), jnp.asarray(cell) @ deform, g.senders, g.receivers,
                            g.edges["shifts"] @ deform, alpha, kc, n_max)

    return energy, g.nodes["positions"]


def test_forces_and_stress_match_finite_differences():
    positions, charges, cell = _triclinic()
    energy, pos = _efs_by_strain(positions, charges, cell)
    zero = jnp.zeros((3, 3))
    g_pos, g_eps = jax.grad(energy, argnums=(0, 1))(pos, zero)
    h = 1e-5
    for i, d in [(0, 0), (2, 1), (5, 2)]:
        step = jnp.zeros_like(pos).at[i, d].set(h)
        fd = (energy(pos + step, zero) - energy(pos - step, zero)) / (2 * h)
        np.testing.assert_allclose(g_pos[i, d], fd, rtol=1e-6, atol=1e-8)
    for a, b in [(0, 0), (1, 2), (2, 2)]:
        step = jnp.zeros((3, 3)).at[a, b].set(h).at[b, a].set(h)
        fd = (energy(pos, step) - energy(pos, -step)) / (2 * h)
        np.testing.assert_allclose(g_eps[a, b] + g_eps[b, a] if a != b else g_eps[a, a], fd, rtol=1e-6, atol=1e-8)
    # forces sum to zero (translation invariance)
    np.testing.assert_allclose(np.sum(np.asarray(g_pos), axis=0), 0.0, atol=1e-9)


def test_charge_derivative_is_the_potential():
    """∂E/∂q_i is the electrostatic potential at i; E is a quadratic form, so q · ∂E/∂q = 2E (neutral, no background)."""
    positions, charges, cell = _triclinic()
    energy, pos = _efs_by_strain(positions, charges, cell)
    g = build_graph(positions, np.ones(len(charges), int), 7.0, cell=cell, pbc=True)
    alpha, kc = ewald_splitting(7.0, 1e-8)

    def e_of_q(q):
        return ewald_energy(pos, q, jnp.asarray(cell), g.senders, g.receivers, g.edges["shifts"], alpha, kc,
                            reciprocal_n_max(cell, kc))

    q = jnp.asarray(charges)
    np.testing.assert_allclose(jnp.dot(q, jax.grad(e_of_q)(q)), 2 * e_of_q(q), rtol=1e-10)


def test_jit_equals_eager():
    positions, charges, cell = _triclinic()
    energy, pos = _efs_by_strain(positions, charges, cell)
    zero = jnp.zeros((3, 3))
    np.testing.assert_allclose(jax.jit(energy)(pos, zero), energy(pos, zero), rtol=1e-12)


def test_direct_sum_of_a_pair_and_gaussians():
    positions = np.array([[0.0, 0, 0], [0, 0, 3.0], [0, 4.0, 0]])
    q = np.array([1.0, -1.0, 0.5])
    r = np.array([3.0, 4.0, 5.0])
    expected = COULOMB_CONSTANT * (-1 / r[0] + 0.5 / r[1] - 0.5 / r[2])
    np.testing.assert_allclose(direct_coulomb_energy(positions, q), expected, rtol=1e-14)
    from scipy.special import erf

    s = np.array([0.5, 0.8, 1.1])
    gam = np.sqrt(np.array([s[0]**2 + s[1]**2, s[0]**2 + s[2]**2, s[1]**2 + s[2]**2]))
    expected = COULOMB_CONSTANT * np.sum(np.array([-1, 0.5, -0.5]) * erf(r / (np.sqrt(2) * gam)) / r)
    np.testing.assert_allclose(direct_coulomb_energy(positions, q, s), expected, rtol=1e-12)
    # padding atoms (mask False) add nothing
    padded = direct_coulomb_energy(np.vstack([positions, 0 * positions[:1]]), np.append(q, 0.7),
                                   mask=np.array([True, True, True, False]))
    np.testing.assert_allclose(padded, direct_coulomb_energy(positions, q), rtol=1e-14)


def test_splitting_rejects_bad_accuracy():
    with pytest.raises(ValueError, match="accuracy"):
        ewald_splitting(5.0, 1.5)
    with pytest.raises(ValueError, match="cutoff"):
        ewald_splitting(-1.0)


def test_padded_edges_add_nothing():
    positions, charges, cell = _triclinic()
    g = build_graph(positions, np.ones(len(charges), int), 7.0, cell=cell, pbc=True)
    alpha, kc = ewald_splitting(7.0, 1e-8)
    n_max = reciprocal_n_max(cell, kc)
    args = (jnp.asarray(charges), jnp.asarray(cell), alpha, kc, n_max)

    def energy(senders, receivers, shifts, mask=None):
        return ewald_energy(g.nodes["positions"], args[0], args[1], senders, receivers, shifts, *args[2:],
                            edge_mask=mask)

    pad = 5  # padded edges join atom 0 to itself with zero shift (r = 0)
    padded = energy(jnp.concatenate([g.senders, jnp.zeros(pad, int)]), jnp.concatenate([g.receivers, jnp.zeros(pad, int)]),
                    jnp.concatenate([g.edges["shifts"], jnp.zeros((pad, 3))]),
                    jnp.arange(len(g.senders) + pad) < len(g.senders))
    np.testing.assert_allclose(padded, energy(g.senders, g.receivers, g.edges["shifts"]), rtol=1e-14)
    assert np.isfinite(float(padded))
