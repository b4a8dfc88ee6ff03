"""The ZBL short-range prior with pair-specific ranges from covalent radii: the radii, the pair sum,
zero at bonding distances, smooth at each pair's cutoff, and the same composition for every model."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from ase.data import covalent_radii

from hybridpot import testing
from hybridpot.graph import build_graph, build_triplets
from hybridpot.hybrid import additive, hybrid_terms
from hybridpot.io import bundled_md17
from hybridpot.models import (
    behler_parrinello,
    dimenet_pp,
    fit_descriptor_scaling,
    pair_mlp_model,
    symmetry_function_spec,
)
from hybridpot.physics import ZBL_UNIVERSAL, LammpsZBLSwitch, zbl_energy
from hybridpot.potential import energy_and_forces
from hybridpot.potentials import (
    COVALENT_ZBL_FACTOR,
    build_physics,
    build_potential_model,
    covalent_zbl_ranges,
    dimezblnet,
    structure_energies,
    zbl_term,
)

#: Cordero et al., Dalton Trans. 2008, 2832 (the table ASE ships): H, C, O covalent radii, Å.
CORDERO = {1: 0.31, 6: 0.76, 8: 0.66}


def _water_like(r_oh: float):
    return np.array([[0.0, 0, 0], [r_oh, 0, 0], [-0.24, 0.93, 0]]), np.array([8, 1, 1])


def test_ranges_are_the_published_covalent_radii_times_the_factor():
    inner, outer = covalent_zbl_ranges(np.array([6, 8, 1]), np.array([1, 6, 1]), 0.7)
    expected = 0.7 * np.array([CORDERO[6] + CORDERO[1], CORDERO[8] + CORDERO[6], 2 * CORDERO[1]])
    np.testing.assert_allclose(outer, expected, rtol=1e-12)
    np.testing.assert_allclose(inner, expected / 2, rtol=1e-12)
    assert COVALENT_ZBL_FACTOR == 0.7
    # the term's cutoff is the widest pair of its species, or of the whole table
    assert zbl_term(species=[1, 6, 8]).cutoff == pytest.approx(0.7 * 2 * CORDERO[6])
    assert zbl_term().cutoff == pytest.approx(0.7 * 2 * float(np.max(covalent_radii[1:])))


@pytest.mark.parametrize("switch", ["lammps", "envelope"])
def test_the_prior_is_the_pair_sum_with_each_pairs_own_switch(switch):
    """Against an independent pair loop over the kernel with r_out = f (r_cov,i + r_cov,j), float64."""
    from hybridpot.physics import EnvelopeZBLSwitch

    rng = np.random.default_rng(3)
    z = np.array([8, 6, 1, 1, 6, 1])
    pos = rng.uniform(0, 1.6, (6, 3))
    factor = 1.2  # wide windows, so that most pairs of this random cluster are inside them
    g = build_graph(pos, z, 5.0)
    got = float(zbl_term(switch=switch, factor=factor).energy({}, g, None)[0])
    expected, inside = 0.0, 0
    for i in range(6):
        for j in range(i + 1, 6):
            r = np.linalg.norm(pos[i] - pos[j])
            outer = factor * (covalent_radii[z[i]] + covalent_radii[z[j]])
            if r < outer:
                inside += 1
                sw = LammpsZBLSwitch(outer / 2, outer) if switch == "lammps" else EnvelopeZBLSwitch(outer, 6)
                expected += float(zbl_energy(r, z[i], z[j], ZBL_UNIVERSAL, sw))
    assert inside >= 3
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    term = zbl_term(switch=switch, factor=factor, trainable=True)
    fn = lambda p, graph: term.energy(p, graph, None)  # noqa: E731
    params = term.init(jax.random.PRNGKey(0), g, None)
    testing.assert_forces_match_finite_differences(fn, params, g, rtol=1e-6, atol=1e-7)
    testing.assert_padding_invariant(fn, params, g)
    testing.assert_atomic_energies_sum_to_energy(term, params, [g])


def test_each_pair_reaches_zero_smoothly_at_its_own_outer_radius():
    term = zbl_term(species=[1, 8])
    outer = float(covalent_zbl_ranges(8, 1)[1])
    f = jax.jit(energy_and_forces(lambda p, g: term.energy(p, g, None)))
    for r, tol in ((outer - 1e-4, 1e-7), (outer, 0.0), (outer + 0.2, 0.0)):
        e, forces = f({}, build_graph(*_water_like(r), 3.0))
        assert abs(float(e[0])) <= tol and np.abs(np.asarray(forces)).max() <= tol * 1e3
    # inside the inner radius the force is the bare ZBL force (the LAMMPS switch only shifts E there)
    r = 0.3
    _, forces = f({}, build_graph(*_water_like(r), 3.0))
    bare = jax.grad(lambda x: zbl_energy(x, 8, 1))(r)
    np.testing.assert_allclose(float(forces[1, 0]), -float(bare), rtol=1e-10)


def test_the_prior_is_exactly_zero_on_every_bundled_ethanol_frame():
    """At f = 0.7 no pair of the 200 rMD17 frames reaches its window: the network sees the plain labels."""
    frames = bundled_md17()
    energies, forces = structure_energies(zbl_term(species=[1, 6, 8]), frames.positions, frames.numbers,
                                          return_forces=True)
    assert np.all(energies == 0.0) and all(np.all(f == 0.0) for f in forces)
    # the global 5 Å variant (the paper's) is tens of eV there
    assert structure_energies(zbl_term(5.0), frames.positions[:2], frames.numbers).min() > 10.0


def test_specs_name_the_ranges_and_bad_combinations_are_refused():
    spec = {"kind": "zbl", "ranges": "covalent", "species": [1, 6, 8]}
    g = build_graph(*_water_like(0.5), 3.0)
    np.testing.assert_array_equal(build_physics(spec).energy({}, g, None), zbl_term(species=[1, 6, 8]).energy({}, g, None))
    np.testing.assert_array_equal(build_physics({"kind": "zbl", "ranges": "global", "cutoff": 3.0}).energy({}, g, None),
                                  zbl_term(3.0).energy({}, g, None))
    # a model file's or train file's spec without species takes the learned model's
    model = build_potential_model("pair_mlp", {"cutoff": 3.0, "species": [1, 8], "hidden": [4]},
                                  physics={"kind": "zbl", "ranges": "covalent"})
    assert model.hybrid.physics.cutoff == pytest.approx(0.7 * 2 * CORDERO[8])
    with pytest.raises(ValueError, match="switch 'lammps' or 'envelope'"):
        zbl_term(switch="none")
    with pytest.raises(ValueError, match="inner = outer / 2"):
        zbl_term(inner=0.3)
    with pytest.raises(ValueError, match="ranges must be 'covalent' or 'global'"):
        build_physics({"kind": "zbl", "ranges": "metallic"})
    with pytest.raises(ValueError, match="drop cutoff"):
        build_physics({"kind": "zbl", "ranges": "covalent", "cutoff": 5.0})
    with pytest.raises(ValueError, match="zbl factor"):
        zbl_term(factor=-1.0)


@pytest.mark.heavy  # one program per model family: kept out of the 5-minute default selection
def test_every_model_family_takes_the_prior_by_the_same_composition():
    """additive(zbl_term(species=...), model) for a pair MLP, Behler–Parrinello and DimeNet++: the
    total is prior + network, the prior 0 at an equilibrium O–H and a wall when it is compressed."""
    species = (1, 8)
    prior = zbl_term(species=species)
    graphs = [build_graph(*_water_like(r), 3.0) for r in (0.96, 0.3)]
    sf = symmetry_function_spec(species, 3.0, 2.0, num_radial=2, num_angular_eta=2, zetas=(1.0,))
    models = {
        "pair_mlp": pair_mlp_model(cutoff=3.0, species=species, hidden=[4], dtype="float64"),
        "behler_parrinello": behler_parrinello(sf, fit_descriptor_scaling(sf, graphs), hidden=(4,), param_dtype=jnp.float64),
        "dimenet++": dimenet_pp(species, cutoff=3.0, emb_size=4, out_emb_size=4, int_emb_size=2, basis_emb_size=2,
                                num_blocks=1, num_spherical=2, num_radial=3, num_dense_output=1, num_after_skip=1,
                                param_dtype=jnp.float64),
    }
    for name, net in models.items():
        model = additive(prior, net)
        triplets = [build_triplets(g) if model.needs_triplets else None for g in graphs]
        params = model.init(jax.random.PRNGKey(0), graphs[0], triplets[0])
        physics = [float(hybrid_terms(model, params, g, t).physics[0]) for g, t in zip(graphs, triplets)]
        assert physics[0] == 0.0 and physics[1] > 10.0, (name, physics)
        for g, t in zip(graphs, triplets):
            np.testing.assert_allclose(model.energy(params, g, t), prior.energy({}, g, None)
                                       + net.energy(params["learned"], g, t), rtol=1e-12)
    # DimezblNet takes the same prior by default, the paper's global 5 Å ZBL on request
    default = dimezblnet(species, emb_size=4).hybrid.physics
    assert default.cutoff == prior.cutoff
    np.testing.assert_array_equal(default.energy({}, graphs[1], None), prior.energy({}, graphs[1], None))
    assert dimezblnet(species, emb_size=4, zbl_ranges="global").hybrid.physics.cutoff == 5.0
