"""The pure energy function: inside jit/vmap/grad, and differentiated with respect to the parameters."""

import jax
import jax.numpy as jnp
import numpy as np

from hybridpot.graph import batch_graphs
from hybridpot.potentials import EnergyNormalisation, TrainedPotential, with_positions


def _setup():
    from ase.build import bulk

    pot = TrainedPotential.from_init("pair_mlp", {"cutoff": 4.0, "species": [29], "dtype": "float64"}, n_members=3,
                                     physics={"kind": "lennard_jones", "epsilon": 0.4, "sigma": 2.3,
                                              "envelope_cutoff": 4.0},
                                     normalisation=EnergyNormalisation(np.zeros(119), np.asarray(0.1)))
    atoms = bulk("Cu", "fcc", a=3.6, cubic=True)
    atoms.rattle(0.1, seed=0)
    return pot, atoms


def test_parts_add_up_and_vmap_over_members_equals_a_loop():
    pot, atoms = _setup()
    g = pot.graph(atoms)
    energy = jax.jit(pot.energy_fn())
    total = jax.jit(jax.vmap(pot.energy_fn(), in_axes=(0, None)))(pot.params, g)
    loop = [energy(pot.member_params(i), g) for i in range(3)]
    np.testing.assert_allclose(total, np.stack(loop), rtol=1e-12)
    phys = jax.jit(pot.energy_fn("physics"))(pot.member_params(1), g)
    learned = jax.jit(pot.energy_fn("learned"))(pot.member_params(1), g)
    np.testing.assert_allclose(phys + learned, total[1], rtol=1e-12)
    # batched graphs: one energy per graph
    two = batch_graphs([g, g])
    np.testing.assert_allclose(energy(pot.member_params(0), two), [total[0, 0]] * 2, rtol=1e-12)


def test_gradient_of_a_force_with_respect_to_the_parameters():
    """The documented example: d F_0 / d θ by jax.jacobian, checked by a finite difference in θ."""
    pot, atoms = _setup()
    energy = pot.energy_fn()
    graph = pot.graph(atoms)
    params = pot.member_params(0)

    def force_on_atom_0(params):
        return -jax.grad(lambda R: energy(params, with_positions(graph, R)).sum())(graph.nodes["positions"])[0]

    jac = jax.jit(jax.jacobian(force_on_atom_0))(params)
    direction = jax.tree.map(lambda x: jnp.asarray(np.random.default_rng(0).normal(size=x.shape)), params)
    predicted = sum(jnp.tensordot(j, d, axes=d.ndim) for j, d in zip(jax.tree.leaves(jac), jax.tree.leaves(direction)))
    h = 1e-5
    force = jax.jit(force_on_atom_0)
    plus = force(jax.tree.map(lambda p, d: p + h * d, params, direction))
    minus = force(jax.tree.map(lambda p, d: p - h * d, params, direction))
    np.testing.assert_allclose(predicted, (plus - minus) / (2 * h), rtol=1e-6, atol=1e-9)
    assert np.abs(np.asarray(predicted)).max() > 1e-6
