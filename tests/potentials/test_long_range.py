"""Charge equilibration + Ewald/direct Coulomb (hybridpot.potentials.long_range): the Coulomb matrix against
the pure Ewald and direct sums, exact total charge, the equilibrium condition, finite-difference forces and
stress through the solve, padding and batching, bad input."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hybridpot.graph import batch_graphs, build_graph
from hybridpot.physics import direct_coulomb_energy, ewald_energy
from hybridpot.potentials import build_potential_model, physics_term
from hybridpot.potentials.long_range import qeq_charges, qeq_ewald
from hybridpot.testing import (
    assert_batch_equals_single,
    assert_forces_match_finite_differences,
    assert_invariant_under_rotation_translation,
    assert_no_gradient_leak_between_graphs,
    assert_padding_invariant,
    assert_permutation_invariant,
    assert_stress_matches_finite_differences,
    model_energy_fn,
)
from hybridpot.units import COULOMB_CONSTANT

CUTOFF = 5.0
SPECIES = [11, 17]
CHARGE_MODEL = {"kind": "pair_mlp", "args": {"cutoff": CUTOFF, "species": SPECIES, "hidden": [8], "dtype": "float64"}}


def _term(**kw):
    return qeq_ewald(CHARGE_MODEL, SPECIES, **{"max_cell_length": 8.0, **kw})


def _params(lr, graph):
    p = lr.term.init(jax.random.PRNGKey(0), graph)
    p["chi0"] = jnp.array([-3.0, 3.0])  # Na gives its electron to Cl
    return p


def _molecule(shift=0.0):
    return build_graph(np.array([[0, 0, 0], [2.4, 0, 0.0], [0, 2.6, 0], [2.5, 2.5, 0.1 + shift]]), [11, 17, 17, 11],
                       CUTOFF)


def _crystal(seed=0):
    fcc = np.array([[0, 0, 0], [0, .5, .5], [.5, 0, .5], [.5, .5, 0]]) * 5.64
    cell = 5.64 * np.eye(3) + np.array([[0, 0.2, 0], [0.1, 0, 0], [0, -0.15, 0.05]])  # triclinic
    pos = np.vstack([fcc, fcc + [2.82, 0, 0]]) + np.random.default_rng(seed).normal(0, 0.05, (8, 3))
    return build_graph(pos, [11] * 4 + [17] * 4, CUTOFF, cell=cell, pbc=True)


def _widths(lr_factor, z):
    from ase.data import covalent_radii

    return lr_factor * covalent_radii[np.asarray(z)]


@pytest.mark.parametrize("periodic", [pytest.param(False, marks=pytest.mark.heavy), True])
def test_energy_is_the_ewald_or_direct_sum_of_the_charges(periodic):
    """Nearly point-like Gaussians: E_elec − their self-energies = the pure Ewald (periodic) or direct sum."""
    factor = 1e-3
    lr = _term(width_factor=factor)
    g = _crystal() if periodic else _molecule()
    p = _params(lr, g)
    q = lr.charges(p, g)
    z = np.asarray(g.nodes["atomic_numbers"])
    self_energy = np.sum(COULOMB_CONSTANT * np.asarray(q) ** 2 / (2 * np.sqrt(np.pi) * _widths(factor, z)))
    e = float(lr.term.energy(p, g)[0]) - self_energy
    if periodic:
        ref = ewald_energy(g.nodes["positions"], q, g.globals["cell"][0], g.senders, g.receivers, g.edges["shifts"],
                           lr.alpha, lr.k_cutoff, lr.n_max)
    else:
        ref = direct_coulomb_energy(g.nodes["positions"], q)
    np.testing.assert_allclose(e, float(ref), rtol=1e-9, atol=1e-9)


def test_molecule_gaussian_energy_and_equilibrium_condition():
    """E_elec = direct sum of Gaussians + self-energies, and q* minimises E_Qeq at fixed total charge:
    ∂E_Qeq/∂q_i = χ_i + J_i q_i + ∂E_elec/∂q_i is the same for every atom (the Lagrange multiplier)."""
    lr = _term()
    g = _molecule()
    p = _params(lr, g)
    z = np.asarray(g.nodes["atomic_numbers"])
    s = np.array([SPECIES.index(int(v)) for v in z])
    sigma = _widths(0.5, z)
    pos = g.nodes["positions"]

    def e_elec(q):
        return direct_coulomb_energy(pos, q, sigma) + jnp.sum(COULOMB_CONSTANT * q**2 / (2 * np.sqrt(np.pi) * sigma))

    q = lr.charges(p, g)
    np.testing.assert_allclose(float(lr.term.energy(p, g)[0]), float(e_elec(q)), rtol=1e-12)
    from hybridpot.potentials.registry import build_model

    cm = build_model(CHARGE_MODEL["kind"], CHARGE_MODEL["args"])
    chi = cm.atomic_energy(p["charge_model"], g, None) + p["chi0"][s]
    hard = jax.nn.softplus(p["hardness"])[s]
    mu = chi + hard * q + jax.grad(e_elec)(q)
    np.testing.assert_allclose(np.asarray(mu), float(mu[0]), atol=1e-10)
    assert abs(float(jnp.sum(q))) < 1e-12 and float(q[0]) > 0 > float(q[1])


def test_total_charge_is_exact_per_graph():
    lr = _term()
    graphs = [_molecule(), _molecule(0.3), _crystal()]
    b = batch_graphs(graphs)
    b = b._replace(globals={**b.globals, "charge": jnp.array([1.0, -2.0, 0.0])})
    p = _params(lr, b)
    q = np.asarray(lr.charges(p, b))
    np.testing.assert_allclose([q[:4].sum(), q[4:8].sum(), q[8:].sum()], [1.0, -2.0, 0.0], atol=1e-12)
    # the same from the spec, as users read it
    spec = {"kind": "qeq_ewald", "charge_model": CHARGE_MODEL, "species": SPECIES, "max_cell_length": 8.0}
    np.testing.assert_allclose(np.asarray(qeq_charges(spec, p, b)), q, rtol=1e-12)


@pytest.mark.heavy  # demonstrative; the direct sum itself is checked in the default selection
def test_far_apart_ions_feel_each_other():
    """Na and Cl 16–18 Å apart (far beyond the 5 Å cutoff): energy, forces and charges still depend on the
    separation, and the forces are equal and opposite along the axis."""
    lr = _term()
    fn = model_energy_fn(lr.term)
    out = []
    for d in (16.0, 18.0):
        g = build_graph(np.array([[0, 0, 0], [d, 0, 0]]), [11, 17], CUTOFF)
        assert int(g.n_edge[0]) == 0  # nothing local
        p = _params(lr, g)
        e, grad = jax.value_and_grad(lambda x: fn(p, g._replace(nodes={**g.nodes, "positions": x})).sum())(
            g.nodes["positions"])
        out.append((float(e), -np.asarray(grad), np.asarray(lr.charges(p, g))))
    (e16, f16, q16), (e18, _, q18) = out
    assert abs(e18 - e16) > 5e-5 and abs(q18[0] - q16[0]) > 1e-5  # a local model gives exactly 0 for both
    np.testing.assert_allclose(f16[0], -f16[1], atol=1e-12)
    assert abs(f16[0, 0]) > 1e-5 and np.allclose(f16[:, 1:], 0.0)


@pytest.mark.parametrize("periodic", [False, True])
def test_forces_and_stress_match_finite_differences(periodic):
    lr = _term()
    fn = model_energy_fn(lr.term)
    g = _crystal() if periodic else _molecule()
    p = _params(lr, g)
    assert_forces_match_finite_differences(fn, p, g, delta=1e-5, rtol=1e-6, atol=1e-7)
    if periodic:
        assert_stress_matches_finite_differences(fn, p, g, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(jax.jit(fn)(p, g), fn(p, g), rtol=1e-12)


@pytest.mark.heavy  # ~60 s on 2 cores: many compiled variants
def test_padding_batching_and_invariances():
    lr = _term()
    fn = model_energy_fn(lr.term)
    p = _params(lr, _molecule())
    for g in (_molecule(), _crystal()):
        assert_padding_invariant(fn, p, g)
    assert_batch_equals_single(fn, p, [_crystal(), _molecule(0.2), _crystal(1)])
    assert_no_gradient_leak_between_graphs(fn, p, [_crystal(), _molecule(0.2)])

    def build(positions, numbers, cell=None):
        return build_graph(positions, numbers, CUTOFF, cell=cell, pbc=cell is not None)

    for g in (_molecule(), _crystal()):
        pos, z = np.asarray(g.nodes["positions"]), np.asarray(g.nodes["atomic_numbers"])
        cell = None if not bool(np.asarray(g.globals["pbc"]).any()) else np.asarray(g.globals["cell"][0])
        assert_invariant_under_rotation_translation(fn, p, build, pos, z, cell)
        assert_permutation_invariant(fn, p, build, pos, z, cell)


def test_hybrid_is_a_registered_composition():
    physics = {"kind": "qeq_ewald", "charge_model": CHARGE_MODEL, "species": SPECIES}
    model = build_potential_model("pair_mlp", CHARGE_MODEL["args"], physics)
    assert model.hybrid.physics is physics_term(**physics)
    g = _molecule()
    p = model.init(jax.random.PRNGKey(0), g)
    e = model.energy(p, g)
    parts = model.hybrid.physics.energy(p["physics"], g) + model.hybrid.learned.energy(p["learned"], g)
    np.testing.assert_allclose(e, parts, rtol=1e-12)


def test_bad_input_is_named():
    lr = _term()
    p = _params(lr, _molecule())
    slab = build_graph(np.array([[0, 0, 0], [2.8, 0, 0]]), [11, 17], CUTOFF, cell=6 * np.eye(3), pbc=[True, True, False])
    with pytest.raises(ValueError, match="all three directions"):
        lr.term.energy(p, slab)
    big = build_graph(np.array([[0, 0, 0], [2.8, 0, 0]]), [11, 17], CUTOFF, cell=9 * np.eye(3), pbc=True)
    with pytest.raises(ValueError, match="max_cell_length"):
        lr.term.energy(p, big)
    with pytest.raises(ValueError, match="max_cell_length=None"):
        qeq_ewald(CHARGE_MODEL, SPECIES).term.energy(p, _crystal())
    g = _molecule()
    with pytest.raises(ValueError, match="not an integer"):
        lr.term.energy(p, g._replace(globals={**g.globals, "charge": jnp.array([0.5])}))
    with pytest.raises(ValueError, match="more electrons"):
        lr.term.energy(p, g._replace(globals={**g.globals, "charge": jnp.array([57.0])}))
    c = _crystal()
    charged = c._replace(globals={**c.globals, "charge": jnp.array([1.0])})
    with pytest.raises(ValueError, match="neutralising background"):
        _term(background=False).term.energy(p, charged)
    assert np.isfinite(float(lr.term.energy(p, charged)[0]))  # with the background it is defined
    with pytest.raises(ValueError, match="not screened"):
        _term(width_factor=1.5)
    with pytest.raises(ValueError, match="unknown|species|element"):
        lr.term.energy(p, build_graph(np.array([[0, 0, 0], [2.8, 0, 0]]), [11, 9], CUTOFF))


def test_start_values_per_element():
    lr = _term(electronegativity={"Na": 2.843, "Cl": 8.564}, hardness={11: 4.592, 17: 9.892})
    p = lr.term.init(jax.random.PRNGKey(0), _molecule())
    np.testing.assert_allclose(p["chi0"], [2.843, 8.564])
    np.testing.assert_allclose(jax.nn.softplus(p["hardness"]), [4.592, 9.892], rtol=1e-12)
    with pytest.raises(ValueError, match=r"no value for element\(s\) \[17\]"):
        _term(electronegativity={"Na": 1.0})
    with pytest.raises(ValueError, match="hardness must be positive"):
        _term(hardness=-1.0)


def test_qeq_energy_forces_are_hellmann_feynman():
    """energy='qeq': E_Qeq(q*) is stationary in q, so its gradient equals that of E_Qeq at the charges held fixed."""
    from hybridpot.potentials.registry import build_model

    lr = _term(energy="qeq")
    g = _molecule()
    p = _params(lr, g)
    q = lr.charges(p, g)
    z = np.asarray(g.nodes["atomic_numbers"])
    s = np.array([SPECIES.index(int(v)) for v in z])
    sigma = _widths(0.5, z)
    cm = build_model(CHARGE_MODEL["kind"], CHARGE_MODEL["args"])
    hard = jax.nn.softplus(p["hardness"])[s]

    def fixed_q(pos):
        gg = g._replace(nodes={**g.nodes, "positions": pos})
        chi = cm.atomic_energy(p["charge_model"], gg, None) + p["chi0"][s]
        return (jnp.sum(chi * q + 0.5 * hard * q**2) + direct_coulomb_energy(pos, q, sigma)
                + jnp.sum(COULOMB_CONSTANT * q**2 / (2 * np.sqrt(np.pi) * sigma)))

    pos = g.nodes["positions"]
    np.testing.assert_allclose(float(lr.term.energy(p, g)[0]), float(fixed_q(pos)), rtol=1e-12)
    full = jax.grad(lambda x: lr.term.energy(p, g._replace(nodes={**g.nodes, "positions": x}))[0])(pos)
    np.testing.assert_allclose(np.asarray(full), np.asarray(jax.grad(fixed_q)(pos)), atol=1e-10)
    elec = jax.grad(lambda x: _term().term.energy(p, g._replace(nodes={**g.nodes, "positions": x}))[0])(pos)
    assert not np.allclose(np.asarray(elec), np.asarray(full), atol=1e-3)  # the two energies differ
    with pytest.raises(ValueError, match="'elec' or 'qeq'"):
        _term(energy="both")


def test_latent_charges():
    lr = _term(scheme="latent", initial_charges={"Na": 0.8, "Cl": -0.6})
    graphs = [_molecule(), _crystal()]
    b = batch_graphs(graphs)
    b = b._replace(globals={**b.globals, "charge": jnp.array([-1.0, 0.0])})
    p = lr.term.init(jax.random.PRNGKey(0), b)
    assert set(p) == {"charge_model", "q0"}
    q = np.asarray(lr.charges(p, b))
    np.testing.assert_allclose([q[:4].sum(), q[4:].sum()], [-1.0, 0.0], atol=1e-12)
    # the charges are local: the charge model's output + q0, shifted by one constant per structure
    from hybridpot.potentials.registry import build_model

    raw = np.asarray(build_model(CHARGE_MODEL["kind"], CHARGE_MODEL["args"]).atomic_energy(p["charge_model"], b, None))
    raw = raw + np.where(np.asarray(b.nodes["atomic_numbers"]) == 11, 0.8, -0.6)
    np.testing.assert_allclose(np.ptp(q[:4] - raw[:4]), 0.0, atol=1e-12)
    with pytest.raises(ValueError, match="scheme must be"):
        _term(scheme="eem")
    with pytest.raises(ValueError, match="energy='qeq' needs scheme='qeq'"):
        _term(scheme="latent", energy="qeq")
    with pytest.raises(ValueError, match="initial_charges belong"):
        _term(initial_charges={"Na": 1, "Cl": -1})


def test_cell_beyond_capacity_under_jit_gives_nan():
    """Under jax.jit nothing can be inspected: a cell beyond max_cell_length gives NaN, as documented."""
    lr = _term()
    big = build_graph(np.array([[0, 0, 0], [2.8, 0, 0]]), [11, 17], CUTOFF, cell=9 * np.eye(3), pbc=True)
    p = _params(lr, _molecule())
    assert np.isnan(float(jax.jit(lambda q, g: lr.term.energy(q, g))(p, big)[0]))
    assert np.isfinite(float(jax.jit(lambda q, g: lr.term.energy(q, g))(p, _crystal())[0]))


@pytest.mark.heavy
def test_latent_charge_forces_match_finite_differences():
    lr = _term(scheme="latent", initial_charges={"Na": 0.8, "Cl": -0.6})
    g = _molecule()
    p = lr.term.init(jax.random.PRNGKey(0), g)
    assert_forces_match_finite_differences(model_energy_fn(lr.term), p, g, delta=1e-5, rtol=1e-6, atol=1e-7)
