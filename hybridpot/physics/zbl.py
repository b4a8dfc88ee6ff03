r"""Ziegler–Biersack–Littmark (ZBL) universal screened nuclear repulsion.

.. math::
    E(r) = k_e \frac{Z_i Z_j}{r}\, \phi\!\left(\frac{r}{a}\right), \qquad
    a = \frac{0.46850\ \text{Å}}{Z_i^{0.23} + Z_j^{0.23}},

.. math::
    \phi(x) = 0.18175\, e^{-3.19980 x} + 0.50986\, e^{-0.94229 x}
            + 0.28022\, e^{-0.40290 x} + 0.02817\, e^{-0.20162 x},

with k_e = e²/4πε₀ = 14.3996454784 eV·Å (``hybridpot.units.COULOMB_CONSTANT``); Z in units of
e (atomic numbers), r in Å, E in eV (J. F. Ziegler, J. P. Biersack, U. Littmark, *The
Stopping and Range of Ions in Solids*, Pergamon 1985). 0.46850 Å = 0.8854 a_B is the
LAMMPS value. The coefficients, exponents, screening length and screening exponent live in
a :class:`ZBLParams` pytree, so they can be trained; :data:`ZBL_UNIVERSAL` holds the
published values.

Two optional cutoff treatments, passed as ``switch``:

* :class:`LammpsZBLSwitch` — the additive switch of LAMMPS ``pair_style zbl inner outer``
  (the same as ``lj/gromacs``). With t = r − r₁ (r₁ = inner), t_c = r_c − r₁ (r_c = outer):

  .. math::
      E_\mathrm{sw}(r) = \begin{cases}
          E(r) + C & r \le r_1 \\
          E(r) + \tfrac{A}{3} t^3 + \tfrac{B}{4} t^4 + C & r_1 < r < r_c \\
          0 & r \ge r_c
      \end{cases}

  .. math::
      A = \frac{-3E'(r_c) + t_c E''(r_c)}{t_c^2}, \quad
      B = \frac{2E'(r_c) - t_c E''(r_c)}{t_c^3}, \quad
      C = -E(r_c) + \frac{t_c}{2} E'(r_c) - \frac{t_c^2}{12} E''(r_c),

  chosen so that E_sw, E_sw′ and E_sw″ vanish at r_c. Below r₁ the potential is the bare
  ZBL shifted by the constant C (forces unchanged there). E′, E″ are evaluated in closed
  form, so A, B, C are differentiable in the parameters and the charges.

* :class:`EnvelopeZBLSwitch` — multiplicative: E(r) · u_p(r / r_c) with the DimeNet
  polynomial envelope (:func:`hybridpot.basis.envelopes.polynomial_envelope`), so E, E′ and
  E″ vanish at r_c and the short-range repulsion is reduced smoothly everywhere below r_c.

Values and gradients are finite for every r > 0; at r = 0 (padded edges) E is +inf, so
the pair sum must mask padded edges with a double ``jnp.where`` (a safe r inside, zero
energy outside). Padded atoms may carry Z = 0: the pair energy is then exactly 0 and the
screening length stays finite.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from hybridpot._checks import check_finite, check_positive, is_concrete
from hybridpot.basis.envelopes import polynomial_envelope
from hybridpot.units import COULOMB_CONSTANT


class ZBLParams(NamedTuple):
    """Parameters of the ZBL screening function (a pytree: trainable, vmappable).

    Attributes:
        coefficients: c_k of φ(x) = Σ_k c_k e^{−d_k x}, shape [K] (K = 4), dimensionless.
        exponents: d_k (> 0), shape [K], dimensionless.
        screening_length: a₀ in a = a₀ / (Z_i^p + Z_j^p) (> 0), Å.
        screening_exponent: p in the same formula, dimensionless.
    """

    coefficients: ArrayLike
    exponents: ArrayLike
    screening_length: ArrayLike = 0.46850
    screening_exponent: ArrayLike = 0.23


#: The universal ZBL screening function (Ziegler, Biersack & Littmark 1985).
#: Stored as float64 NumPy arrays so that the precision follows the JAX x64 setting at use.
ZBL_UNIVERSAL = ZBLParams(
    coefficients=np.array([0.18175, 0.50986, 0.28022, 0.02817]),
    exponents=np.array([3.19980, 0.94229, 0.40290, 0.20162]),
    screening_length=0.46850,
    screening_exponent=0.23,
)


class LammpsZBLSwitch(NamedTuple):
    """Additive LAMMPS ``pair_style zbl inner outer`` switch (pytree).

    Attributes:
        inner: r₁, where the switching polynomial starts (> 0), Å.
        outer: r_c, the cutoff where E, E′, E″ reach zero (> inner), Å.
    """

    inner: ArrayLike
    outer: ArrayLike


class EnvelopeZBLSwitch(NamedTuple):
    """Multiplicative polynomial-envelope cutoff (pytree; ``p`` is static, not a leaf).

    Attributes:
        cutoff: r_c (> 0), Å.
        p: envelope order, a positive Python int (DimeNet: 6).
    """

    cutoff: ArrayLike
    p: int = 6


# p selects the polynomial, so it is static metadata rather than a (traceable) leaf.
jax.tree_util.register_pytree_node(
    EnvelopeZBLSwitch,
    lambda s: ((s.cutoff,), s.p),
    lambda p, children: EnvelopeZBLSwitch(children[0], p),
)


def _check_params(params: ZBLParams) -> None:
    if np.shape(params.coefficients)[-1:] != np.shape(params.exponents)[-1:]:
        raise ValueError(
            "zbl coefficients and exponents must have the same length, got "
            f"{np.shape(params.coefficients)} and {np.shape(params.exponents)}"
        )
    check_finite("zbl coefficients", params.coefficients)
    check_positive("zbl exponents", params.exponents)
    check_positive("zbl screening_length", params.screening_length)
    check_finite("zbl screening_exponent", params.screening_exponent)


def _as_float(x) -> jnp.ndarray:
    x = jnp.asarray(x)
    return x if jnp.issubdtype(x.dtype, jnp.floating) else x.astype(jnp.result_type(float))


def _screened_terms(z_i, z_j, params: ZBLParams):
    """Prefactor k_e Z_i Z_j [...] eV·Å and the decay rates b_k = d_k / a [..., K] Å⁻¹."""
    zi, zj = _as_float(z_i), _as_float(z_j)
    p = params.screening_exponent
    # Z = 0 (padding) would give 0**p (NaN gradient in p); the prefactor is 0 there anyway.
    zi_s = jnp.where(zi > 0, zi, 1.0)
    zj_s = jnp.where(zj > 0, zj, 1.0)
    inv_a = (zi_s**p + zj_s**p) / params.screening_length
    rates = jnp.asarray(params.exponents) * inv_a[..., None]
    return COULOMB_CONSTANT * zi * zj, rates


def _bare_with_derivatives(r, z_i, z_j, params: ZBLParams, order: int):
    """E(r) and, for order 2, E′(r) and E″(r) in closed form (eV, eV/Å, eV/Å²).

    With S(r) = Σ c_k e^{−b_k r}: E = K S/r, E′ = K (S′/r − S/r²),
    E″ = K (S″/r − 2S′/r² + 2S/r³).
    """
    pref, rates = _screened_terms(z_i, z_j, params)
    r = jnp.asarray(r)
    c = jnp.asarray(params.coefficients)
    terms = c * jnp.exp(-rates * r[..., None])
    s = terms.sum(-1)
    e = pref * s / r
    if order == 0:
        return e
    s1 = -(terms * rates).sum(-1)
    s2 = (terms * rates * rates).sum(-1)
    e1 = pref * (s1 / r - s / r**2)
    e2 = pref * (s2 / r - 2.0 * s1 / r**2 + 2.0 * s / r**3)
    return e, e1, e2


def _check_switch(switch) -> None:
    if isinstance(switch, LammpsZBLSwitch):
        check_positive("zbl switch inner", switch.inner)
        check_positive("zbl switch outer", switch.outer)
        if is_concrete(switch.inner) and is_concrete(switch.outer):
            if np.any(np.asarray(switch.inner) >= np.asarray(switch.outer)):
                raise ValueError(
                    f"zbl switch inner must be smaller than outer, got inner={switch.inner}, "
                    f"outer={switch.outer}"
                )
    elif isinstance(switch, EnvelopeZBLSwitch):
        check_positive("zbl envelope cutoff", switch.cutoff)
    elif switch is not None:
        raise ValueError(
            "zbl switch must be None, LammpsZBLSwitch or EnvelopeZBLSwitch, got "
            f"{type(switch).__name__}"
        )


def lammps_zbl_switch_coefficients(
    z_i: ArrayLike, z_j: ArrayLike, switch: LammpsZBLSwitch, params: ZBLParams = ZBL_UNIVERSAL
):
    r"""Coefficients (A, B, C) of the LAMMPS ZBL switch S(r) = A/3 t³ + B/4 t⁴ + C, t = r − r₁.

    A = (−3E′_c + t_c E″_c)/t_c², B = (2E′_c − t_c E″_c)/t_c³,
    C = −E_c + t_c E′_c/2 − t_c² E″_c/12, with E_c, E′_c, E″_c the bare ZBL energy and its
    derivatives at r_c = ``switch.outer`` and t_c = outer − inner.

    Args:
        z_i, z_j: atomic numbers, broadcasting shapes, e.
        switch: :class:`LammpsZBLSwitch` (inner < outer, Å).
        params: :class:`ZBLParams`.
    Returns:
        (A [eV/Å³], B [eV/Å⁴], C [eV]), each of shape ``broadcast(z_i, z_j, switch)``.
    """
    _check_params(params)
    _check_switch(switch)
    if not isinstance(switch, LammpsZBLSwitch):
        raise ValueError(
            f"lammps_zbl_switch_coefficients needs a LammpsZBLSwitch, got {type(switch).__name__}"
        )
    z_i, z_j = _as_float(z_i), _as_float(z_j)
    outer = jnp.asarray(switch.outer)
    r_c = jnp.broadcast_to(outer, jnp.broadcast_shapes(outer.shape, z_i.shape, z_j.shape))
    e_c, d1, d2 = _bare_with_derivatives(r_c, z_i, z_j, params, order=2)
    tc = switch.outer - switch.inner
    a = (-3.0 * d1 + tc * d2) / tc**2
    b = (2.0 * d1 - tc * d2) / tc**3
    c = -e_c + 0.5 * tc * d1 - tc**2 / 12.0 * d2
    return a, b, c


def zbl_energy(
    r: ArrayLike,
    z_i: ArrayLike,
    z_j: ArrayLike,
    params: ZBLParams = ZBL_UNIVERSAL,
    switch: LammpsZBLSwitch | EnvelopeZBLSwitch | None = None,
) -> jnp.ndarray:
    r"""ZBL screened nuclear repulsion E = k_e Z_i Z_j φ(r/a) / r; the short-range wall of a hybrid.

    Equations and switches in the module docstring. Without ``switch`` the bare ZBL energy.

    Args:
        r: distances, any shape, Å.
        z_i, z_j: atomic numbers (int or float, ≥ 0; 0 for padding), broadcasting with ``r``.
        params: :class:`ZBLParams` (default :data:`ZBL_UNIVERSAL`).
        switch: ``None``, :class:`LammpsZBLSwitch` or :class:`EnvelopeZBLSwitch`.

    Returns:
        E(r), shape ``broadcast(r, z_i, z_j)``, eV; +inf at r = 0 (mask padded edges).
    """
    _check_params(params)
    _check_switch(switch)
    check_positive("zbl z_i", z_i, allow_zero=True)
    check_positive("zbl z_j", z_j, allow_zero=True)
    r = jnp.asarray(r)
    e = _bare_with_derivatives(r, z_i, z_j, params, order=0)
    if switch is None:
        return e
    if isinstance(switch, EnvelopeZBLSwitch):
        return e * polynomial_envelope(r, switch.cutoff, switch.p)
    a, b, c = lammps_zbl_switch_coefficients(z_i, z_j, switch, params)
    t = jnp.where(r > switch.inner, r - switch.inner, 0.0)
    e_sw = e + c + t**3 * (a / 3.0 + b / 4.0 * t)
    return jnp.where(r < switch.outer, e_sw, 0.0)
