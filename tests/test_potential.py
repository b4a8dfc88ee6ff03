"""energy → forces/stress layer, checked with a Lennard-Jones pair energy (float64)."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.lj import LennardJones
from ase.stress import voigt_6_to_full_3x3_stress

from hybridpot import testing
from hybridpot.basis import polynomial_envelope
from hybridpot.graph import batch_graphs, build_graph, graph_from_atoms, pad_graph
from hybridpot.potential import (
    _check_periodic,
    energy_and_forces,
    energy_forces_stress,
    pair_energy,
)

CUTOFF = 5.0
PARAMS = {"epsilon": jnp.asarray(0.4), "sigma": jnp.asarray(2.3)}


def lj(r, epsilon, sigma):
    """Local LJ kernel 4ε[(σ/r)¹² − (σ/r)⁶] (eV, r in Å); inf at r = 0."""
    s6 = (sigma / r) ** 6
    return 4.0 * epsilon * (s6 * s6 - s6)


def lj_energy(params, graph):
    """LJ truncated and shifted at CUTOFF (ASE's smooth=False convention)."""
    e0 = lj(CUTOFF, params["epsilon"], params["sigma"])
    return pair_energy(graph, lambda r, zi, zj: lj(r, params["epsilon"], params["sigma"]) - e0)


def smooth_lj_energy(params, graph):
    """LJ times a polynomial envelope: energy and forces go smoothly to 0 at CUTOFF."""
    return pair_energy(
        graph, lambda r, zi, zj: lj(r, params["epsilon"], params["sigma"]) * polynomial_envelope(r, CUTOFF)
    )


def raw_lj_energy(params, graph):
    """Untruncated LJ: pair_fn(0) = inf, so padded edges must be masked with a double where."""
    return pair_energy(graph, lambda r, zi, zj: lj(r, params["epsilon"], params["sigma"]))


build = functools.partial(build_graph, cutoff=CUTOFF)
build_periodic = functools.partial(build_graph, cutoff=CUTOFF, pbc=True)


def cu_atoms(seed=0, rattle=0.05):
    atoms = bulk("Cu", "fcc", a=3.6, cubic=True)
    atoms.rattle(rattle, seed=seed)
    return atoms


def cluster(seed=0, n=5):
    rng = np.random.default_rng(seed)
    positions = [np.zeros(3)]
    while len(positions) < n:  # random cluster, atoms 2.2–3.5 Å apart
        p = positions[rng.integers(len(positions))] + rng.normal(size=3)
        p = positions[-1] + (p - positions[-1]) / np.linalg.norm(p - positions[-1]) * rng.uniform(2.3, 3.0)
        if min(np.linalg.norm(p - q) for q in positions) > 2.2:
            positions.append(p)
    return np.array(positions), np.full(n, 29)


@pytest.fixture(scope="module")
def crystal():
    return graph_from_atoms(cu_atoms(), CUTOFF)


@pytest.fixture(scope="module")
def mol():
    positions, numbers = cluster()
    return build(positions, numbers)


@pytest.mark.parametrize("energy_fn", [lj_energy, smooth_lj_energy])
def test_forces_match_finite_differences(energy_fn, crystal, mol):
    testing.assert_forces_match_finite_differences(energy_fn, PARAMS, crystal)
    testing.assert_forces_match_finite_differences(energy_fn, PARAMS, mol)


def test_stress_matches_finite_differences(crystal):
    # rebuilt neighbour lists: checks the strained shifts independently
    testing.assert_stress_matches_finite_differences(lj_energy, PARAMS, crystal, build_fn=build_periodic)
    testing.assert_stress_matches_finite_differences(lj_energy, PARAMS, crystal)


def test_stress_matches_finite_differences_triclinic():
    atoms = bulk("Cu", "fcc", a=3.6)  # primitive cell: one atom, many periodic images
    atoms.set_cell(atoms.cell[:] + np.array([[0.1, 0.0, 0.0], [0.0, 0.0, 0.05], [0.0, 0.1, 0.0]]), scale_atoms=True)
    g = graph_from_atoms(atoms, CUTOFF)
    testing.assert_stress_matches_finite_differences(smooth_lj_energy, PARAMS, g, build_fn=build_periodic)


def test_against_ase_lennard_jones():
    atoms = cu_atoms(seed=3)
    atoms.calc = LennardJones(epsilon=0.4, sigma=2.3, rc=CUTOFF, smooth=False)
    energy, forces, stress = jax.jit(energy_forces_stress(lj_energy))(PARAMS, graph_from_atoms(atoms, CUTOFF))
    np.testing.assert_allclose(energy[0], atoms.get_potential_energy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(forces, atoms.get_forces(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(stress[0], voigt_6_to_full_3x3_stress(atoms.get_stress()), rtol=1e-10, atol=1e-12)


def test_against_ase_molecule():
    from ase import Atoms

    positions, numbers = cluster(seed=1, n=6)
    atoms = Atoms(numbers=numbers, positions=positions)
    atoms.calc = LennardJones(epsilon=0.4, sigma=2.3, rc=CUTOFF, smooth=False)
    energy, forces = jax.jit(energy_and_forces(lj_energy))(PARAMS, build(positions, numbers))
    np.testing.assert_allclose(energy[0], atoms.get_potential_energy(), rtol=1e-12)
    np.testing.assert_allclose(forces, atoms.get_forces(), rtol=1e-10, atol=1e-12)


def test_supercell_energy_per_atom_and_stress():
    atoms = bulk("Cu", "fcc", a=3.55, cubic=True)
    f = jax.jit(energy_forces_stress(lj_energy))
    e1, f1, s1 = f(PARAMS, graph_from_atoms(atoms, CUTOFF))
    e8, f8, s8 = f(PARAMS, graph_from_atoms(atoms.repeat((2, 2, 2)), CUTOFF))
    np.testing.assert_allclose(e8[0] / 32, e1[0] / 4, rtol=1e-12)
    np.testing.assert_allclose(s8, s1, rtol=1e-10, atol=1e-12)
    assert np.abs(s1[0] - np.diag(np.diag(s1[0]))).max() < 1e-12  # cubic: isotropic, diagonal
    np.testing.assert_allclose(np.abs(f8).max(), 0.0, atol=1e-12)


def test_invariances(crystal, mol):
    atoms = cu_atoms()
    for check in (testing.assert_invariant_under_rotation_translation, testing.assert_permutation_invariant):
        check(lj_energy, PARAMS, build_periodic, atoms.positions, atoms.numbers, atoms.cell[:])
        positions, numbers = cluster()
        check(lj_energy, PARAMS, build, positions, numbers)


def test_padded_equals_unpadded(crystal, mol):
    testing.assert_padding_invariant(lj_energy, PARAMS, crystal)
    # raw LJ is inf at r = 0: padded edges must be masked before pair_fn sees them
    testing.assert_padding_invariant(raw_lj_energy, PARAMS, batch_graphs([mol, crystal]))


def test_padding_gives_exact_zeros_and_finite_gradients(mol):
    padded = pad_graph(mol, 10, int(mol.n_edge[0]) + 7, 3)

    def loss(params, positions):
        g = padded._replace(nodes={**padded.nodes, "positions": positions})
        return jnp.sum(raw_lj_energy(params, g))

    energy = np.asarray(jax.jit(raw_lj_energy)(PARAMS, padded))
    assert energy[1:].tolist() == [0.0, 0.0] and np.isfinite(energy[0])
    g_params, g_pos = jax.jit(jax.grad(loss, argnums=(0, 1)))(PARAMS, padded.nodes["positions"])
    assert all(np.isfinite(x) for x in jax.tree_util.tree_leaves(g_params))
    assert np.all(np.isfinite(g_pos)) and np.all(np.asarray(g_pos)[5:] == 0.0)


def test_jit_equals_eager(crystal):
    fn = energy_and_forces(lj_energy)
    eager = fn(PARAMS, crystal)
    jitted = jax.jit(fn)(PARAMS, crystal)
    for a, b in zip(eager, jitted):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-13)


def test_vmap_over_parameter_sets_equals_loop(crystal):
    stacked = {"epsilon": jnp.array([0.2, 0.4, 0.6]), "sigma": jnp.array([2.2, 2.3, 2.4])}
    fn = energy_forces_stress(lj_energy)
    batched = jax.jit(jax.vmap(fn, in_axes=(0, None)))(stacked, crystal)
    single = jax.jit(fn)
    for k in range(3):
        one = single(jax.tree_util.tree_map(lambda x: x[k], stacked), crystal)
        for a, b in zip(batched, one):
            np.testing.assert_allclose(a[k], b, rtol=1e-12, atol=1e-13)
    # energy_and_forces under vmap too
    e, f = jax.jit(jax.vmap(energy_and_forces(lj_energy), in_axes=(0, None)))(stacked, crystal)
    np.testing.assert_allclose(e, batched[0], rtol=1e-12)


def test_batch_single_and_gradient_leaks(crystal, mol):
    other = graph_from_atoms(cu_atoms(seed=7), CUTOFF)
    testing.assert_batch_equals_single(lj_energy, PARAMS, [crystal, other])
    testing.assert_batch_equals_single(lj_energy, PARAMS, [mol, crystal])
    testing.assert_no_gradient_leak_between_graphs(lj_energy, PARAMS, [mol, crystal, other])


def test_far_apart_add_up_and_forces_vanish_at_cutoff():
    pa, za = cluster(seed=2, n=4)
    pb, zb = cluster(seed=3, n=3)
    testing.assert_far_apart_add_up(lj_energy, PARAMS, build, pa, za, pb, zb)
    testing.assert_forces_vanish_at_cutoff(smooth_lj_energy, PARAMS, build, [29, 29], CUTOFF)
    with pytest.raises(AssertionError, match="force at r = cutoff"):  # truncated LJ: force jumps
        testing.assert_forces_vanish_at_cutoff(lj_energy, PARAMS, build, [29, 29], CUTOFF)


def test_checks_catch_a_broken_model(crystal):
    def leaky(params, graph):  # couples graphs through a global sum
        e = lj_energy(params, graph)
        return e + 1e-3 * jnp.sum(graph.nodes["positions"][:, 0])

    with pytest.raises(AssertionError, match="depends on other graphs"):
        testing.assert_no_gradient_leak_between_graphs(leaky, PARAMS, [crystal, crystal])

    def wrong_forces(params, graph):  # energy not translation invariant
        return lj_energy(params, graph) + 0.1 * jnp.sum(graph.nodes["positions"][:, 1])

    with pytest.raises(AssertionError, match="rotation"):
        atoms = cu_atoms()
        testing.assert_invariant_under_rotation_translation(
            wrong_forces, PARAMS, build_periodic, atoms.positions, atoms.numbers, atoms.cell[:]
        )


def test_stress_on_molecule_raises(mol):
    with pytest.raises(ValueError, match="stress needs periodic graphs"):
        energy_forces_stress(lj_energy)(PARAMS, mol)
    with pytest.raises(ValueError, match=r"graph\(s\) \[0\] are non-periodic"):
        _check_periodic(batch_graphs([mol, graph_from_atoms(cu_atoms(), CUTOFF)]))
    # padding graphs are ignored by the check and get zero stress
    padded = pad_graph(graph_from_atoms(cu_atoms(), CUTOFF), 8, 400, 3)
    _check_periodic(padded)
    _, _, stress = jax.jit(energy_forces_stress(lj_energy))(PARAMS, padded)
    assert not np.any(stress[1:]) and np.any(stress[0])
