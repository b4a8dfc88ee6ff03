r"""Ewald summation of point (or Gaussian) charges in a periodic cell of any shape, and the direct sum.

For a cell with rows a₁, a₂, a₃ (Å), volume V and charges q_i (e) at r_i, the Coulomb energy of the
infinite lattice (tin-foil boundary conditions) splits with α (Å⁻¹) into

.. math::
    E = \underbrace{\frac{k_e}{2} \sum_{i,j,\mathbf n}{}' q_i q_j
            \frac{\operatorname{erfc}(\alpha r_{ij\mathbf n})}{r_{ij\mathbf n}}}_{\text{real space}}
      + \underbrace{\frac{2\pi k_e}{V} \sum_{\mathbf k \ne 0}
            \frac{e^{-k^2/4\alpha^2}}{k^2} |S(\mathbf k)|^2}_{\text{reciprocal space}}
      \underbrace{- \frac{k_e \alpha}{\sqrt\pi} \sum_i q_i^2}_{\text{self}}
      \underbrace{- \frac{\pi k_e Q^2}{2 V \alpha^2}}_{\text{background}},
    \qquad S(\mathbf k) = \sum_i q_i e^{i \mathbf k \cdot \mathbf r_i}

with k_e = e²/4πε₀ (:data:`hybridpot.units.COULOMB_CONSTANT`), k = 2π n B (B = cell⁻ᵀ, n integer),
and the uniform neutralising background of a cell with net charge Q = Σq_i (the energy of a charged
cell is only defined with it). The real-space sum runs over the edges of a neighbour list with
periodic shifts (any number of images, so a cell smaller than the cutoff is fine); the reciprocal sum
runs over a *static* set of integer vectors |n_d| ≤ n_max with a mask |k| < k_c, so a change of cell
(MD, stress, a batch of cells) does not recompile as long as n_max covers it
(:func:`reciprocal_n_max`). Only half of the k-sphere is stored (S(−k) = S(k)*).

Gaussian charges of widths σ_i (as in the charge equilibration of Ko et al., Nat. Commun. 12, 398
(2021)) interact by erf(r/√2γ_ij)/r, γ_ij = √(σ_i² + σ_j²): the real-space kernel becomes
[erfc(αr) − erfc(r/√2γ_ij)]/r (``width`` below), the rest is unchanged.

Splitting: :func:`ewald_splitting` takes α and k_c from a real-space cutoff r_c and an accuracy ε
with the leading-order estimates of Kolafa & Perram (Mol. Simul. 9, 351 (1992)),
exp(−α² r_c²) = exp(−k_c²/4α²) = ε. Cost: the real-space part is O(N ρ r_c³) and the reciprocal
part O(N V k_c³); with r_c fixed (a graph's cutoff) the reciprocal part grows as O(N²) at fixed
density, and with α re-chosen per size to balance the two (α ∝ N^{1/6}) the whole sum is
O(N^{3/2}). Particle-mesh Ewald (O(N log N)) is not implemented here; jax-md's
``energy.coulomb_recip_pme`` is one for cubic boxes.

Non-periodic structures use :func:`direct_coulomb_energy`, the sum over all pairs (O(N²)).
Everything is a pure function of arrays, differentiable with respect to positions, cell and
charges (forces, stress, ∂E/∂q), safe under ``jax.jit`` and ``jax.vmap``.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax.numpy as jnp
import numpy as np
from jax.scipy.special import erfc
from jax.typing import ArrayLike

from hybridpot._checks import check_integer, check_positive, is_concrete
from hybridpot.units import COULOMB_CONSTANT


class EwaldSplitting(NamedTuple):
    """Splitting parameter ``alpha`` (Å⁻¹) and reciprocal cutoff ``k_cutoff`` (Å⁻¹) of an Ewald sum."""

    alpha: float
    k_cutoff: float


def ewald_splitting(cutoff: float, accuracy: float = 1e-6) -> EwaldSplitting:
    r"""α and k_c for a real-space cutoff and a requested accuracy; to choose the Ewald parameters.

    Leading-order Kolafa–Perram estimates: α = √(−ln ε) / r_c and k_c = 2α √(−ln ε), so both
    neglected tails are ∝ ε (the relative error of the energy is of order ε).

    Args:
        cutoff: real-space cutoff r_c, Å (> 0).
        accuracy: ε in (0, 1).
    Returns:
        :class:`EwaldSplitting` (α, k_c) in Å⁻¹.
    """
    check_positive("ewald cutoff", cutoff)
    if not 0.0 < float(accuracy) < 1.0:
        raise ValueError(f"ewald accuracy must lie in (0, 1), got {accuracy}")
    s = float(np.sqrt(-np.log(float(accuracy))))
    alpha = s / float(cutoff)
    return EwaldSplitting(alpha, 2.0 * alpha * s)


def reciprocal_n_max(cell, k_cutoff: float) -> int:
    r"""Smallest n_max whose integer grid |n_d| ≤ n_max holds every k = 2π n B with |k| < k_c; to size the k capacity.

    n_d = k · a_d / 2π, so |n_d| ≤ k_c |a_d| / 2π.

    Args:
        cell: ``[3, 3]`` Å (rows are lattice vectors) or a stack ``[..., 3, 3]`` (the largest is used).
        k_cutoff: k_c, Å⁻¹.
    Returns:
        n_max (≥ 1), a Python int.
    """
    lengths = np.linalg.norm(np.asarray(cell, np.float64), axis=-1)
    return max(1, int(np.floor(float(k_cutoff) * float(np.max(lengths)) / (2.0 * np.pi))))


@functools.lru_cache(maxsize=32)
def half_space_indices(n_max: int) -> np.ndarray:
    """Integer vectors n with |n_d| ≤ n_max, n ≠ 0, one of each ±n pair (first non-zero component > 0).

    Args:
        n_max: ≥ 1.
    Returns:
        ``[((2 n_max + 1)³ − 1) / 2, 3]`` int array (a static capacity; read-only).
    """
    n_max = check_integer("ewald n_max", n_max, minimum=1)
    r = np.arange(-n_max, n_max + 1)
    n = np.stack(np.meshgrid(r, r, r, indexing="ij"), axis=-1).reshape(-1, 3)
    first = np.array([row[np.flatnonzero(row)[0]] if row.any() else 0 for row in n])
    out = n[first > 0]
    out.setflags(write=False)
    return out


def reciprocal_weights(cell: ArrayLike, alpha: ArrayLike, k_cutoff: ArrayLike, n_max: int):
    r"""Wave vectors and weights of the reciprocal-space sum over half of the k-sphere.

    :math:`w_k = \frac{4\pi k_e}{V} \frac{e^{-k^2/4\alpha^2}}{k^2}` for 0 < |k| < k_c, 0 otherwise,
    so that E_recip = Σ_k w_k |S(k)|² over the returned (half) set.

    Args:
        cell: ``[3, 3]`` Å, rows are lattice vectors, non-singular.
        alpha: α, Å⁻¹. k_cutoff: k_c, Å⁻¹.
        n_max: static size of the integer grid (:func:`reciprocal_n_max`).
    Returns:
        ``(k [K, 3] Å⁻¹, w [K] eV)`` with K = ((2 n_max + 1)³ − 1)/2.
    """
    cell = jnp.asarray(cell)
    n = jnp.asarray(half_space_indices(n_max), cell.dtype)
    b = 2.0 * jnp.pi * jnp.linalg.inv(cell).T
    k = n @ b
    k2 = jnp.sum(k * k, axis=-1)
    inside = k2 < jnp.asarray(k_cutoff) ** 2
    k2_safe = jnp.where(inside, k2, 1.0)
    volume = jnp.abs(jnp.linalg.det(cell))
    w = 4.0 * jnp.pi * COULOMB_CONSTANT / volume * jnp.exp(-k2_safe / (4.0 * alpha**2)) / k2_safe
    return k, jnp.where(inside, w, 0.0)


def _erfc_over_r(x_scale, r):
    """erfc(x_scale r) / r with x_scale = inf (a point charge's "width" 0) giving exactly 0."""
    finite = jnp.isfinite(x_scale)
    return jnp.where(finite, erfc(jnp.where(finite, x_scale, 1.0) * r), 0.0) / r


def ewald_real_space_energy(r: ArrayLike, q_i: ArrayLike, q_j: ArrayLike, alpha: ArrayLike,
                            width: ArrayLike = 0.0) -> jnp.ndarray:
    r"""Real-space Ewald pair energy k_e q_i q_j [erfc(αr) − erfc(r/√2γ)]/r; the short-ranged part of Coulomb.

    Sum it over a full neighbour list with a factor ½ (each pair appears twice). ``width`` γ = 0
    gives point charges (the erfc(r/√2γ) term vanishes); α = 0 gives the full Coulomb energy
    k_e q_i q_j erf(r/√2γ)/r of two Gaussian charges (of point charges with γ = 0 too). Finite for r > 0; padded edges (r = 0)
    must be masked with a double ``jnp.where``.

    Args:
        r: distances, any shape, Å.
        q_i, q_j: charges, broadcasting with ``r``, e.
        alpha: α, Å⁻¹.
        width: combined Gaussian width γ_ij = √(σ_i² + σ_j²), Å (≥ 0), broadcasting with ``r``.
    Returns:
        energy, shape ``broadcast(r, q_i, q_j, width)``, eV.
    """
    r = jnp.asarray(r)
    width = jnp.asarray(width)
    gauss_scale = jnp.where(width > 0, 1.0 / (jnp.sqrt(2.0) * jnp.where(width > 0, width, 1.0)), jnp.inf)
    return COULOMB_CONSTANT * q_i * q_j * (erfc(alpha * r) / r - _erfc_over_r(gauss_scale, r))


def ewald_reciprocal_energy(positions: ArrayLike, charges: ArrayLike, cell: ArrayLike, alpha: ArrayLike,
                            k_cutoff: ArrayLike, n_max: int) -> jnp.ndarray:
    r"""Reciprocal-space Ewald energy Σ_k w_k |S(k)|² (the smooth, long-ranged part), eV.

    Args:
        positions: ``[N, 3]`` Å. charges: ``[N]`` e (padding atoms: charge 0).
        cell: ``[3, 3]`` Å, rows are lattice vectors.
        alpha, k_cutoff: Å⁻¹. n_max: static grid size (:func:`reciprocal_n_max`).
    Returns:
        scalar, eV. Cost O(N K), K ≈ 4 n_max³.
    """
    k, w = reciprocal_weights(cell, alpha, k_cutoff, n_max)
    phase = jnp.asarray(positions) @ k.T  # [N, K]
    q = jnp.asarray(charges)[:, None]
    s_re, s_im = jnp.sum(q * jnp.cos(phase), axis=0), jnp.sum(q * jnp.sin(phase), axis=0)
    return jnp.sum(w * (s_re**2 + s_im**2))


def ewald_self_energy(charges: ArrayLike, alpha: ArrayLike) -> jnp.ndarray:
    r"""Self term −k_e α/√π q_i² per atom (removes each charge's own Gaussian screening cloud), ``[N]`` eV."""
    return -COULOMB_CONSTANT * alpha / jnp.sqrt(jnp.pi) * jnp.asarray(charges) ** 2


def ewald_background_energy(total_charge: ArrayLike, volume: ArrayLike, alpha: ArrayLike) -> jnp.ndarray:
    r"""Energy −π k_e Q² / (2 V α²) of a uniform background neutralising a net charge Q (e) in volume V (Å³), eV."""
    return -jnp.pi * COULOMB_CONSTANT * jnp.asarray(total_charge) ** 2 / (2.0 * volume * alpha**2)


def check_neutral_or_background(total_charge, background: bool, tolerance: float = 1e-8) -> None:
    """Raise a ``ValueError`` for a periodic cell with net charge and no neutralising background.

    Args:
        total_charge: Q, e (checked only when concrete).
        background: whether the neutralising background is added.
    """
    if background or not is_concrete(total_charge):
        return
    q = np.asarray(total_charge, np.float64)
    if np.any(np.abs(q) > tolerance):
        raise ValueError(
            f"a periodic cell with net charge {q.tolist()} e has no finite Ewald energy without the neutralising "
            "background; use background=True or make the cell neutral"
        )


def ewald_energy(positions: ArrayLike, charges: ArrayLike, cell: ArrayLike, senders: ArrayLike,
                 receivers: ArrayLike, shifts: ArrayLike, alpha: ArrayLike, k_cutoff: ArrayLike, n_max: int,
                 *, edge_mask: ArrayLike | None = None, background: bool = True) -> jnp.ndarray:
    r"""Ewald energy of one periodic cell of point charges: real + reciprocal + self (+ background), eV.

    The real-space part is summed over the given edges: a *full* neighbour list (both i ← j and j ←
    i, self-images included) within a cutoff r_c ≥ the one α was chosen for (:func:`ewald_splitting`),
    with edge vectors positions[senders] − positions[receivers] + shifts.

    Args:
        positions: ``[N, 3]`` Å. charges: ``[N]`` e.
        cell: ``[3, 3]`` Å, rows are lattice vectors, non-singular.
        senders, receivers: ``[E]`` int. shifts: ``[E, 3]`` Å.
        alpha, k_cutoff: Å⁻¹. n_max: static size of the k grid (:func:`reciprocal_n_max`).
        edge_mask: ``[E]`` bool, False for padded edges (default: all real).
        background: add the neutralising background of a charged cell; with False a charged cell
            raises (when the charges are concrete).
    Returns:
        scalar, eV.
    Raises:
        ValueError: a net-charged cell without background.
    """
    positions, charges = jnp.asarray(positions), jnp.asarray(charges)
    total = jnp.sum(charges)
    check_neutral_or_background(total, background)
    vec = positions[senders] - positions[receivers] + jnp.asarray(shifts)
    mask = jnp.ones(vec.shape[0], bool) if edge_mask is None else jnp.asarray(edge_mask)
    r2 = jnp.sum(vec * vec, axis=-1)
    r = jnp.sqrt(jnp.where(mask, r2, 1.0))
    pair = jnp.where(mask, ewald_real_space_energy(r, charges[receivers], charges[senders], alpha), 0.0)
    e = 0.5 * jnp.sum(pair) + ewald_reciprocal_energy(positions, charges, cell, alpha, k_cutoff, n_max)
    e = e + jnp.sum(ewald_self_energy(charges, alpha))
    if background:
        e = e + ewald_background_energy(total, jnp.abs(jnp.linalg.det(jnp.asarray(cell))), alpha)
    return e


def direct_coulomb_energy(positions: ArrayLike, charges: ArrayLike, widths: ArrayLike | None = None,
                          mask: ArrayLike | None = None) -> jnp.ndarray:
    r"""Coulomb energy Σ_{i<j} k_e q_i q_j erf(r_ij/√2γ_ij)/r_ij of a non-periodic structure (all pairs), eV.

    Point charges (1/r) without ``widths``. O(N²); for molecules and clusters.

    Args:
        positions: ``[N, 3]`` Å. charges: ``[N]`` e.
        widths: Gaussian widths σ_i ``[N]`` Å (γ_ij = √(σ_i² + σ_j²)), or None for point charges.
            A Gaussian's self-energy k_e q²/(2σ√π) is *not* included.
        mask: ``[N]`` bool, False for padding atoms.
    Returns:
        scalar, eV.
    """
    positions, charges = jnp.asarray(positions), jnp.asarray(charges)
    n = positions.shape[0]
    real = jnp.ones(n, bool) if mask is None else jnp.asarray(mask)
    pair = real[:, None] & real[None, :] & ~jnp.eye(n, dtype=bool)
    d = positions[:, None, :] - positions[None, :, :]
    r = jnp.sqrt(jnp.where(pair, jnp.sum(d * d, axis=-1), 1.0))
    # α = 0: erfc(0 r) = 1, so the real-space kernel is erf(r/√2γ)/r (1/r for point charges)
    gamma = 0.0 if widths is None else jnp.sqrt(jnp.asarray(widths)[:, None] ** 2 + jnp.asarray(widths)[None, :] ** 2)
    e = jnp.where(pair, ewald_real_space_energy(r, charges[:, None], charges[None, :], 0.0, gamma), 0.0)
    return 0.5 * jnp.sum(e)
