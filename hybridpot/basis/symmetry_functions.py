r"""Behler–Parrinello atom-centred symmetry functions, per neighbour / per triplet terms.

Radial (G2) and angular (G4, G5) terms of Behler & Parrinello (PRL 98, 146401, 2007) and
Behler (J. Chem. Phys. 134, 074106, 2011), with the cosine cutoff f_c:

.. math::
    G^2_i = \sum_{j \ne i} e^{-\eta (r_{ij} - r_s)^2} f_c(r_{ij}),

    G^4_i = 2^{1-\zeta} \sum_{j \ne i} \sum_{k \ne i, j} (1 + \lambda \cos\theta_{ijk})^\zeta
            e^{-\eta (r_{ij}^2 + r_{ik}^2 + r_{jk}^2)} f_c(r_{ij}) f_c(r_{ik}) f_c(r_{jk}),

    G^5_i = 2^{1-\zeta} \sum_{j \ne i} \sum_{k \ne i, j} (1 + \lambda \cos\theta_{ijk})^\zeta
            e^{-\eta (r_{ij}^2 + r_{ik}^2)} f_c(r_{ij}) f_c(r_{ik}).

The functions here return the summand for one neighbour (G2) or one triplet (G4/G5), for a
vector of parameter sets at once; summing over neighbours/triplets belongs to the graph layer.
Conventions for the angular sums differ: summing over ordered pairs (j, k), j ≠ k, as written
above, counts each unordered pair twice (the ``k > j`` convention of many codes is half of it).
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from hybridpot._checks import check_integer, check_positive, is_concrete
from hybridpot.basis.envelopes import cosine_cutoff


def _as_params(name: str, x) -> jnp.ndarray:
    """A parameter vector ``[P]`` (scalars are promoted to ``[1]``)."""
    x = jnp.atleast_1d(jnp.asarray(x))
    if x.ndim != 1:
        raise ValueError(f"{name} must be a scalar or have shape [n_params], got {list(x.shape)}")
    return x


def radial_symmetry_terms(
    r_ij: ArrayLike, eta: ArrayLike, r_s: ArrayLike, cutoff: ArrayLike
) -> jnp.ndarray:
    r"""Radial (G2) summand exp(−η (r_ij − r_s)²) f_c(r_ij) for P parameter pairs (η_p, r_s,p).

    Args:
        r_ij: neighbour distances, any shape ``[...]``, Å.
        eta: η, shape ``[P]`` (or scalar), Å⁻², ≥ 0.
        r_s: shifts r_s, shape ``[P]`` (or scalar), Å; broadcast with ``eta``.
        cutoff: r_c, Å (> 0), scalar.

    Returns:
        ``[..., P]`` array, dimensionless; zero for r_ij ≥ r_c.
    """
    eta = _as_params("eta", eta)
    r_s = _as_params("r_s", r_s)
    check_positive("eta", eta, allow_zero=True)
    check_positive("cutoff", cutoff)
    r = jnp.asarray(r_ij)
    fc = cosine_cutoff(r, cutoff)[..., None]
    return jnp.exp(-eta * (r[..., None] - r_s) ** 2) * fc


def _angular_terms(cos_theta, radial_sq, cutoff_product, eta, zeta, lam) -> jnp.ndarray:
    """Shared core of G4/G5: 2^{1−ζ}(1+λ cosθ)^ζ exp(−η Σr²) Πf_c, output ``[..., P]``."""
    eta = _as_params("eta", eta)
    zeta = _as_params("zeta", zeta)
    lam = _as_params("lam", lam)
    check_positive("eta", eta, allow_zero=True)
    if is_concrete(zeta) and np.any(np.asarray(zeta) < 1.0):
        raise ValueError(
            f"zeta must be >= 1 (the gradient of (1 + λ cosθ)^ζ is singular otherwise), got {np.asarray(zeta).tolist()}"
        )
    if is_concrete(lam) and np.any(np.abs(np.asarray(lam)) > 1.0):
        raise ValueError(f"lam must lie in [-1, 1] (usually ±1), got {np.asarray(lam).tolist()}")
    base = 1.0 + lam * jnp.asarray(cos_theta)[..., None]
    # clamp round-off negatives (cosθ = −1 − 1e-16) so a non-integer ζ never sees base < 0;
    # '>=' keeps the gradient at base = 0, where lax.pow's JVP is finite for ζ ≥ 1
    base = jnp.where(base >= 0.0, base, 0.0)
    angular = 2.0 ** (1.0 - zeta) * base**zeta
    return angular * jnp.exp(-eta * radial_sq[..., None]) * cutoff_product[..., None]


def angular_symmetry_terms(
    r_ij: ArrayLike,
    r_ik: ArrayLike,
    r_jk: ArrayLike,
    cos_theta: ArrayLike,
    eta: ArrayLike,
    zeta: ArrayLike,
    lam: ArrayLike,
    cutoff: ArrayLike,
) -> jnp.ndarray:
    r"""Angular G4 summand for one triplet (i centre; j, k neighbours), P parameter sets.

    .. math::
        2^{1-\zeta} (1 + \lambda\cos\theta_{ijk})^\zeta e^{-\eta (r_{ij}^2 + r_{ik}^2 + r_{jk}^2)}
        f_c(r_{ij}) f_c(r_{ik}) f_c(r_{jk})

    (1 + λ cosθ) is clamped at 0 for round-off; value and gradient are finite where it is 0.

    Args:
        r_ij, r_ik, r_jk: the triplet's three distances, shape ``[...]`` (broadcastable), Å.
        cos_theta: cos θ_ijk, angle at atom i between j and k, shape ``[...]``, dimensionless.
        eta: η, ``[P]`` or scalar, Å⁻², ≥ 0.
        zeta: ζ, ``[P]`` or scalar, ≥ 1.
        lam: λ, ``[P]`` or scalar, usually ±1.
        cutoff: r_c, Å (> 0), scalar.

    Returns:
        ``[..., P]`` array, dimensionless.
    """
    check_positive("cutoff", cutoff)
    r_ij, r_ik, r_jk = jnp.asarray(r_ij), jnp.asarray(r_ik), jnp.asarray(r_jk)
    radial_sq = r_ij**2 + r_ik**2 + r_jk**2
    fc = cosine_cutoff(r_ij, cutoff) * cosine_cutoff(r_ik, cutoff) * cosine_cutoff(r_jk, cutoff)
    return _angular_terms(cos_theta, radial_sq, fc, eta, zeta, lam)


def angular_symmetry_terms_g5(
    r_ij: ArrayLike,
    r_ik: ArrayLike,
    cos_theta: ArrayLike,
    eta: ArrayLike,
    zeta: ArrayLike,
    lam: ArrayLike,
    cutoff: ArrayLike,
) -> jnp.ndarray:
    r"""Angular G5 summand ("wide" angular): G4 without the r_jk terms.

    .. math::
        2^{1-\zeta} (1 + \lambda\cos\theta_{ijk})^\zeta e^{-\eta (r_{ij}^2 + r_{ik}^2)}
        f_c(r_{ij}) f_c(r_{ik})

    Args:
        r_ij, r_ik: distances from the centre i to j and k, shape ``[...]``, Å.
        cos_theta: cos θ_ijk, shape ``[...]``, dimensionless.
        eta, zeta, lam: as in :func:`angular_symmetry_terms`, ``[P]``.
        cutoff: r_c, Å (> 0), scalar.

    Returns:
        ``[..., P]`` array, dimensionless.
    """
    check_positive("cutoff", cutoff)
    r_ij, r_ik = jnp.asarray(r_ij), jnp.asarray(r_ik)
    radial_sq = r_ij**2 + r_ik**2
    fc = cosine_cutoff(r_ij, cutoff) * cosine_cutoff(r_ik, cutoff)
    return _angular_terms(cos_theta, radial_sq, fc, eta, zeta, lam)


def _radial_grid(cutoff: float, num: int, rule: str, mode: str, r_lower: float | None):
    """(η [num], r_s [num]) from the Gastegger 2018 or Imbalzano 2018 rules."""
    if rule == "imbalzano2018":
        if mode == "center":
            m = np.arange(num)
            n = num - 1
            eta = (n ** (m / n) / cutoff) ** 2
            return eta, np.zeros(num)
        if mode == "shift":
            m = np.arange(num + 1)
            rs = cutoff / num ** (m / num)  # r_c = rs[0] > rs[1] > ... > rs[num] = r_c / num
            eta = 1.0 / (rs[:-1] - rs[1:]) ** 2
            return eta[::-1].copy(), rs[1:][::-1].copy()
    elif rule == "gastegger2018":
        if r_lower is None:
            raise ValueError("rule 'gastegger2018' needs r_lower (Å), the first grid point")
        lo = float(r_lower)
        if mode == "center":
            if not 0.0 < lo < cutoff:
                raise ValueError(f"r_lower must satisfy 0 < r_lower < cutoff in 'center' mode, got {lo}")
            grid = np.linspace(lo, cutoff, num)
            return 1.0 / (2.0 * grid**2), np.zeros(num)
        if mode == "shift":
            if not 0.0 <= lo < cutoff:
                raise ValueError(f"r_lower must satisfy 0 <= r_lower < cutoff in 'shift' mode, got {lo}")
            grid = np.linspace(lo, cutoff, num)
            dr = (cutoff - lo) / (num - 1)
            return np.full(num, 1.0 / (2.0 * dr**2)), grid
    else:
        raise ValueError(f"rule must be 'imbalzano2018' or 'gastegger2018', got {rule!r}")
    raise ValueError(f"mode must be 'center' or 'shift', got {mode!r}")


def symmetry_function_parameters(
    cutoff: float,
    num_radial: int = 8,
    num_angular_eta: int = 4,
    zetas=(1.0, 2.0, 4.0, 16.0),
    lambdas=(-1.0, 1.0),
    rule: str = "imbalzano2018",
    r_lower: float | None = None,
) -> dict[str, np.ndarray]:
    r"""A standard Behler–Parrinello parameter set derived from the cutoff; host constants.

    Sources: the two rules of n2p2's ``sfparamgen`` (``SymFuncParamGenerator.generate_radial_params``):

    * ``"imbalzano2018"`` (Imbalzano et al., J. Chem. Phys. 148, 241730 (2018)), with n = number
      of functions: shifted radial r_s,m = r_c / n^{m/n}, η_m = 1/(r_s,m−1 − r_s,m)², m = 1..n;
      centred η_m = (n'^{m/n'} / r_c)², m = 0..n', n' = n − 1 (no free length besides r_c);
    * ``"gastegger2018"`` (Gastegger et al., J. Chem. Phys. 148, 241709 (2018)), grid
      r_m = linspace(r_lower, r_c, n): shifted r_s = r_m, η = 1/(2Δr²); centred η_m = 1/(2 r_m²).

    Radial G2 uses the shifted grid; angular G4/G5 use the centred η grid crossed with
    ζ ∈ ``zetas`` (default {1, 2, 4, 16}) and λ ∈ ``lambdas`` (default ±1), ordered η-major,
    then ζ, then λ.

    Args:
        cutoff: r_c, Å (> 0).
        num_radial: number of G2 functions, integer ≥ 2.
        num_angular_eta: number of η values for the angular functions, integer ≥ 2.
        zetas: ζ values (≥ 1).
        lambdas: λ values (usually ±1).
        rule: ``"imbalzano2018"`` or ``"gastegger2018"``.
        r_lower: first grid point, Å; needed (only) for ``"gastegger2018"``.

    Returns:
        dict of NumPy float64 arrays: ``radial_eta [num_radial]`` Å⁻², ``radial_shift
        [num_radial]`` Å, ``angular_eta [P_a]`` Å⁻², ``angular_zeta [P_a]``, ``angular_lambda
        [P_a]`` with P_a = num_angular_eta · len(zetas) · len(lambdas).
    """
    check_positive("cutoff", cutoff)
    cutoff = float(cutoff)
    num_radial = check_integer("num_radial", num_radial, minimum=2)
    num_angular_eta = check_integer("num_angular_eta", num_angular_eta, minimum=2)
    zetas = np.asarray(zetas, dtype=float).reshape(-1)
    lambdas = np.asarray(lambdas, dtype=float).reshape(-1)
    if zetas.size == 0 or np.any(zetas < 1.0):
        raise ValueError(f"zetas must be a non-empty list of values >= 1, got {zetas.tolist()}")
    if lambdas.size == 0 or np.any(np.abs(lambdas) > 1.0):
        raise ValueError(f"lambdas must be a non-empty list of values in [-1, 1], got {lambdas.tolist()}")
    radial_eta, radial_shift = _radial_grid(cutoff, num_radial, rule, "shift", r_lower)
    angular_eta_grid, _ = _radial_grid(cutoff, num_angular_eta, rule, "center", r_lower)
    eta, zeta, lam = np.meshgrid(angular_eta_grid, zetas, lambdas, indexing="ij")
    return {
        "radial_eta": radial_eta,
        "radial_shift": radial_shift,
        "angular_eta": eta.reshape(-1),
        "angular_zeta": zeta.reshape(-1),
        "angular_lambda": lam.reshape(-1),
    }
