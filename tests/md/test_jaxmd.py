"""jax-md glue: same energy as the ASE calculator, NVE conserves energy, NVT thermostats."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

jax_md = pytest.importorskip("jax_md")
from jax_md import quantity, simulate, space  # noqa: E402
from md_helpers import copper, hybrid_potential  # noqa: E402

from hybridpot.md import HybridpotCalculator, jax_md_pair  # noqa: E402

#: jax-md time unit with Å, eV, amu: Å·sqrt(amu/eV) = 10.1805 fs.
FS = 1.0 / 10.1805


@pytest.fixture(scope="module")
def system():
    atoms = copper(repeat=2, rattle=0.02)  # 32 atoms, 7.2 Å box > 2 (cutoff + skin) for minimum images
    box = float(atoms.cell[0, 0])
    displacement, shift = space.periodic(box)
    pot = hybrid_potential(cutoff=3.2)
    neighbor_fn, energy_fn = jax_md_pair(pot, displacement, box, atoms.numbers, skin=0.3)
    return atoms, pot, box, shift, neighbor_fn, energy_fn


def test_energy_and_forces_match_the_ase_calculator(system):
    atoms, pot, box, shift, neighbor_fn, energy_fn = system
    R = jnp.asarray(atoms.positions)
    nbrs = neighbor_fn.allocate(R)
    atoms.calc = HybridpotCalculator(pot)
    np.testing.assert_allclose(float(jax.jit(energy_fn)(R, nbrs)), atoms.get_potential_energy(), rtol=1e-10)
    forces = -jax.jit(jax.grad(energy_fn))(R, nbrs)
    np.testing.assert_allclose(np.asarray(forces), atoms.get_forces(), atol=1e-9)


def test_nve_conserves_energy_and_nvt_runs(system):
    atoms, pot, box, shift, neighbor_fn, energy_fn = system
    R = jnp.asarray(atoms.positions)
    nbrs = neighbor_fn.allocate(R)
    mass = jnp.asarray(atoms.get_masses())[:, None]
    kT = 300 * 8.617333e-5
    init, apply = simulate.nve(energy_fn, shift, dt=1.0 * FS)
    state = init(jax.random.PRNGKey(0), R, kT=kT, mass=mass, neighbor=nbrs)

    def total(state, nbrs):
        return energy_fn(state.position, nbrs) + quantity.kinetic_energy(momentum=state.momentum, mass=state.mass)

    def steps(apply_fn, length):
        """``length`` MD steps of ``apply_fn`` with the neighbour list updated after each, as one scan."""

        def run(state, nbrs):
            def step(carry, _):
                state, nbrs = carry
                state = apply_fn(state, neighbor=nbrs)
                return (state, nbrs.update(state.position)), None

            return jax.lax.scan(step, (state, nbrs), None, length=length)[0]

        return run

    nve = steps(apply, 40)

    @jax.jit
    def block(state, nbrs):
        state, nbrs = nve(state, nbrs)
        return state, nbrs, total(state, nbrs)

    e0 = float(total(state, nbrs))
    energies = []
    for _ in range(5):  # 200 fs
        state, nbrs, e = block(state, nbrs)
        assert not nbrs.did_buffer_overflow
        energies.append(float(e))
    drift = (max(energies) - min(energies + [e0])) / len(atoms)
    print(f"NVE 200 fs, 32 atoms, dt 1 fs: total-energy spread {drift:.2e} eV/atom")
    assert drift < 2e-4

    init_t, apply_t = simulate.nvt_langevin(energy_fn, shift, dt=2.0 * FS, kT=kT, gamma=0.1)
    state = init_t(jax.random.PRNGKey(1), R, mass=mass, neighbor=nbrs)

    state, nbrs = jax.jit(steps(apply_t, 100))(state, nbrs)
    assert not nbrs.did_buffer_overflow
    t = float(quantity.temperature(momentum=state.momentum, mass=state.mass)) / 8.617333e-5
    assert np.isfinite(t) and 50 < t < 1000


def test_triplet_models_are_refused():
    displacement, _ = space.free()
    with pytest.raises(ValueError, match="triplets"):
        jax_md_pair(hybrid_potential(three_body=True), displacement, 10.0, [29, 29])
