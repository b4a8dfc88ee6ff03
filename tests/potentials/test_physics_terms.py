"""Physics terms as graph models: the factory, ZBL's switches, every kind's forces, specs of older files."""

import functools

import jax
import numpy as np
import pytest
from ase.build import bulk

from hybridpot import testing
from hybridpot.graph import build_graph, graph_from_atoms
from hybridpot.physics import (
    ZBL_UNIVERSAL,
    LammpsZBLSwitch,
    second_moment_params,
    zbl_energy,
)
from hybridpot.potential import energy_and_forces
from hybridpot.potentials import (
    PHYSICS_KINDS,
    build_physics,
    embedded_atom_term,
    physics_term,
    structure_energies,
    zbl_switch,
    zbl_term,
)

PAIR_SPECS = {
    "zbl_envelope": {"kind": "zbl", "cutoff": 3.0, "switch": "envelope"},
    "zbl_lammps": {"kind": "zbl", "cutoff": 3.0, "switch": "lammps", "inner": 1.2},
    "zbl_trainable": {"kind": "zbl", "cutoff": 3.0, "trainable": True},
    "morse": {"kind": "morse", "d_e": 0.5, "a": 1.4, "r_e": 1.6, "envelope_cutoff": 3.0, "trainable": True},
    "lennard_jones": {"kind": "lennard_jones", "epsilon": 0.01, "sigma": 1.5, "envelope_cutoff": 3.0},
    "buckingham": {"kind": "buckingham", "a": 50.0, "rho": 0.3, "c": 1.0, "envelope_cutoff": 3.0},
    "harmonic": {"kind": "harmonic", "k": 2.0, "r_0": 1.5, "envelope_cutoff": 3.0},
    "coulomb": {"kind": "coulomb", "charges": {"H": 0.4, "C": -0.2, "O": -0.6}, "cutoff": 3.0, "alpha": 0.3},
}


def _molecule(seed=0, n=6):
    rng = np.random.default_rng(seed)
    while True:
        pos = rng.uniform(0, 3.0, (n, 3))
        d = np.linalg.norm(pos[:, None] - pos[None], axis=-1) + 9 * np.eye(n)
        if d.min() > 0.7:
            return pos, rng.choice([1, 6, 8], n)


@pytest.mark.parametrize("name", sorted(PAIR_SPECS))
def test_every_pair_kind_has_finite_difference_forces_and_is_padding_safe(name):
    term = build_physics(PAIR_SPECS[name])
    pos, z = _molecule()
    g = build_graph(pos, z, 3.0)
    params = term.init(jax.random.PRNGKey(0), g, None)
    fn = lambda p, graph: term.energy(p, graph, None)  # noqa: E731
    testing.assert_forces_match_finite_differences(fn, params, g, rtol=1e-6, atol=1e-7)
    testing.assert_padding_invariant(fn, params, g)
    testing.assert_invariant_under_rotation_translation(fn, params, functools.partial(build_graph, cutoff=3.0), pos, z)
    testing.assert_atomic_energies_sum_to_energy(term, params, [g, build_graph(pos[:4], z[:4], 3.0)])
    assert np.isfinite(float(fn(params, g)[0]))


@pytest.mark.parametrize("switch", ["envelope", "lammps"])
def test_zbl_switches_reach_zero_smoothly_at_the_cutoff(switch):
    """A dimer just inside the cutoff: energy and force are ~0; at the cutoff the term is exactly 0."""
    term = zbl_term(2.0, switch)
    for r, tol in ((2.0 - 1e-4, 1e-6), (2.0, 0.0)):
        g = build_graph(np.array([[0.0, 0, 0], [r, 0, 0]]), [6, 8], 2.5)
        e, f = jax.jit(energy_and_forces(lambda p, gr: term.energy(p, gr, None)))({}, g)
        assert abs(float(e[0])) <= tol and np.abs(np.asarray(f)).max() <= max(tol * 1e3, 0.0)


def test_zbl_term_is_the_pair_sum_of_the_kernel_with_the_chosen_switch():
    pos, z = _molecule(1)
    g = build_graph(pos, z, 3.0)
    switches = (("lammps", LammpsZBLSwitch(1.5, 3.0)), ("envelope", zbl_switch("envelope", 3.0)), ("none", None))
    for switch, sw in switches:
        got = float(zbl_term(3.0, switch).energy({}, g, None)[0])
        expected = 0.0
        for i in range(len(z)):
            for j in range(i + 1, len(z)):
                r = np.linalg.norm(pos[i] - pos[j])
                if r < 3.0:
                    expected += float(zbl_energy(r, z[i], z[j], ZBL_UNIVERSAL, sw))
        np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_the_factory_shares_terms_names_bad_arguments_and_reads_older_specs():
    assert build_physics(PAIR_SPECS["morse"]) is build_physics(dict(PAIR_SPECS["morse"]))
    assert physics_term("zbl", cutoff=3.0) is build_physics({"kind": "zbl", "cutoff": 3.0})
    assert set(PHYSICS_KINDS) >= {"zbl", "morse", "lennard_jones", "buckingham", "harmonic", "embedded_atom", "coulomb"}
    with pytest.raises(ValueError, match="unknown physics kind 'ewald'"):
        build_physics({"kind": "ewald"})
    with pytest.raises(ValueError, match=r"unknown parameter\(s\) \['depth'\]"):
        build_physics({"kind": "morse", "depth": 1.0})
    with pytest.raises(ValueError, match="unknown zbl switch 'cosine'"):
        zbl_term(2.0, "cosine")
    with pytest.raises(ValueError, match="inner < cutoff"):
        zbl_term(2.0, "lammps", inner=2.5)
    with pytest.raises(ValueError, match="unknown element 'Xx'"):
        build_physics({"kind": "coulomb", "charges": {"Xx": 1.0}, "cutoff": 3.0})
    # hybridpot 0.1 wrote the LAMMPS switch as switch_inner/switch_outer, and bare ZBL as kind alone
    pos, z = _molecule(2)
    g = build_graph(pos, z, 3.0)
    old = build_physics({"kind": "zbl", "switch_inner": 1.0, "switch_outer": 2.5}).energy({}, g, None)
    new = zbl_term(2.5, "lammps", inner=1.0).energy({}, g, None)
    np.testing.assert_array_equal(old, new)
    bare = build_physics({"kind": "zbl"})
    assert bare.cutoff is None and float(bare.energy({}, g, None)[0]) > float(new[0])


@pytest.mark.heavy  # over 20 s of compilation on 2 cores
def test_embedded_atom_term_forces_stress_padding_and_species():
    atoms = bulk("Al", "fcc", a=4.05, cubic=True)
    atoms.numbers[[1, 3]] = 28
    atoms.rattle(0.05, seed=0)
    g = graph_from_atoms(atoms, 5.0)
    term = embedded_atom_term([13, 28], 5.0, **second_moment_params(2, r0=2.6)._asdict(), trainable=True)
    params = term.init(jax.random.PRNGKey(0), g, None)
    fn = lambda p, graph: term.energy(p, graph, None)  # noqa: E731
    testing.assert_forces_match_finite_differences(fn, params, g, rtol=1e-6, atol=1e-7)
    testing.assert_stress_matches_finite_differences(fn, params, g, rtol=1e-6, atol=1e-8)
    testing.assert_padding_invariant(fn, params, g)
    testing.assert_atomic_energies_sum_to_energy(term, params, [g])
    grads = jax.grad(lambda p: fn(p, g).sum())(params)
    assert all(np.isfinite(np.asarray(x)).all() for x in grads) and np.any(np.asarray(grads.a) != 0)
    with pytest.raises(ValueError, match=r"\[2, 2\]"):
        embedded_atom_term([13, 28], 5.0, a=np.ones(3), p=10.0, xi=1.5, q=2.5, r0=2.7)
    with pytest.raises(ValueError, match=r"Cu \(Z=29\)"):
        atoms.numbers[0] = 29
        term.energy(params, graph_from_atoms(atoms, 5.0), None)


def test_structure_energies_of_bare_zbl_sum_each_pair_within_the_cutoff_once():
    rng = np.random.default_rng(3)
    positions = [rng.uniform(0, 4, (n, 3)) for n in (2, 5, 7)]
    numbers = [rng.choice([1, 6, 8], n) for n in (2, 5, 7)]
    cutoff = 3.0
    expected = []
    for pos, z in zip(positions, numbers):
        total = 0.0
        for i in range(len(z)):
            for j in range(i + 1, len(z)):
                r = np.linalg.norm(pos[i] - pos[j])
                if r < cutoff:
                    total += float(zbl_energy(r, z[i], z[j]))
        expected.append(total)
    with jax.enable_x64(True):
        got = structure_energies(zbl_term(cutoff, "none"), positions, numbers, chunk=2)
        shared = structure_energies(zbl_term(cutoff, "none"), np.stack([positions[1]] * 3), numbers[1])
    np.testing.assert_allclose(got, expected, rtol=1e-10)
    np.testing.assert_allclose(shared, [expected[1]] * 3, rtol=1e-10)


def test_structure_energies_forces_of_zbl_match_finite_differences():
    rng = np.random.default_rng(4)
    positions = [rng.uniform(0, 3, (n, 3)) for n in (3, 6)]
    numbers = [rng.choice([1, 6, 8], n) for n in (3, 6)]
    cutoff, h = 10.0, 1e-5  # every pair inside the cutoff: the energy is smooth in R
    with jax.enable_x64(True):
        energies, forces = structure_energies(zbl_term(cutoff, "none"), positions, numbers, chunk=1,
                                              return_forces=True)
        np.testing.assert_allclose(energies, structure_energies(zbl_term(cutoff, "none"), positions, numbers))
        for k, (pos, z) in enumerate(zip(positions, numbers)):
            assert forces[k].shape == pos.shape
            fd = np.zeros_like(pos)
            for i in range(len(z)):
                for a in range(3):
                    step = np.zeros_like(pos)
                    step[i, a] = h
                    e_plus, e_minus = structure_energies(zbl_term(cutoff, "none"), [pos + step, pos - step], [z, z])
                    fd[i, a] = -(e_plus - e_minus) / (2 * h)
            np.testing.assert_allclose(forces[k], fd, rtol=1e-6, atol=1e-6)
