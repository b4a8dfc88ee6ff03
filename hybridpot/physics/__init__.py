r"""Pure pair-energy kernels of the distance r (Å, eV unless a name says otherwise).

Every kernel is a pure function (no Flax, no state), safe under ``jax.jit``, ``jax.vmap``
and ``jax.grad``; its parameters are ``NamedTuple`` pytrees, so they can be trained and
vmapped over.

Shared signature: the parametrised kernels

* :func:`morse_energy` (:class:`MorseParams`),
* :func:`lennard_jones_energy` (:class:`LennardJonesParams`),
* :func:`buckingham_energy` (:class:`BuckinghamParams`),
* :func:`harmonic_energy` (:class:`HarmonicParams`)

all have the form ``fn(r, params) -> energy`` (``energy`` broadcast from ``r`` and the
parameter leaves), so the hybrid layer plugs any of them in without a registry. The charge
kernels take per-edge species data instead: :func:`coulomb_energy` ``(r, q_i, q_j)``,
:func:`damped_shifted_force_coulomb_energy` ``(r, q_i, q_j, alpha, cutoff)`` and
:func:`zbl_energy` ``(r, z_i, z_j, params=ZBL_UNIVERSAL, switch=None)``; bind the
species with ``functools.partial`` or a closure to reach the same shape.

Electrostatics of whole structures (:mod:`hybridpot.physics.ewald`): the Ewald sum of a periodic
cell of any shape (:func:`ewald_energy` and its parts, parameters from :func:`ewald_splitting`) and
the direct sum :func:`direct_coulomb_energy` of a non-periodic one, point or Gaussian charges.

Guarding: each kernel gives finite values and gradients for every r > 0 (within the
range of the floating-point type). Padded edges have r = 0, where the 1/r kernels
(Lennard-Jones, Coulomb, DSF, ZBL) return ±inf and non-finite gradients. The pair-sum
layer masks them with a double ``jnp.where``::

    r_safe = jnp.where(mask, r, 1.0)               # no inf/NaN reaches the kernel
    e = jnp.where(mask, kernel(r_safe, params), 0.0)

Morse, harmonic and the guarded Buckingham are finite at r = 0 as well. Inputs are not
clamped anywhere else; the only deliberate change of a formula is the documented
Buckingham continuation below its maximum. Concrete parameters are validated (a
``ValueError`` names the problem); traced values are not inspected.
"""

from hybridpot.physics.buckingham import (
    BuckinghamParams,
    buckingham_energy,
    buckingham_r_max,
)
from hybridpot.physics.coulomb import (
    coulomb_energy,
    damped_shifted_force_coulomb_energy,
)
from hybridpot.physics.embedded_atom import (
    SecondMomentParams,
    second_moment_atomic_energies,
    second_moment_edge_terms,
    second_moment_params,
    symmetrize_params,
)
from hybridpot.physics.ewald import (
    EwaldSplitting,
    direct_coulomb_energy,
    ewald_background_energy,
    ewald_energy,
    ewald_real_space_energy,
    ewald_reciprocal_energy,
    ewald_self_energy,
    ewald_splitting,
    half_space_indices,
    reciprocal_n_max,
    reciprocal_weights,
)
from hybridpot.physics.harmonic import HarmonicParams, harmonic_energy
from hybridpot.physics.lennard_jones import LennardJonesParams, lennard_jones_energy
from hybridpot.physics.morse import MorseParams, morse_energy
from hybridpot.physics.zbl import (
    ZBL_UNIVERSAL,
    EnvelopeZBLSwitch,
    LammpsZBLSwitch,
    ZBLParams,
    lammps_zbl_switch_coefficients,
    zbl_energy,
)

__all__ = [
    "buckingham_energy",
    "buckingham_r_max",
    "BuckinghamParams",
    "coulomb_energy",
    "damped_shifted_force_coulomb_energy",
    "direct_coulomb_energy",
    "EnvelopeZBLSwitch",
    "ewald_background_energy",
    "ewald_energy",
    "ewald_real_space_energy",
    "ewald_reciprocal_energy",
    "ewald_self_energy",
    "ewald_splitting",
    "EwaldSplitting",
    "half_space_indices",
    "harmonic_energy",
    "HarmonicParams",
    "lammps_zbl_switch_coefficients",
    "LammpsZBLSwitch",
    "lennard_jones_energy",
    "LennardJonesParams",
    "morse_energy",
    "reciprocal_n_max",
    "reciprocal_weights",
    "MorseParams",
    "second_moment_atomic_energies",
    "second_moment_edge_terms",
    "second_moment_params",
    "SecondMomentParams",
    "symmetrize_params",
    "zbl_energy",
    "ZBL_UNIVERSAL",
    "ZBLParams",
]
