"""Plots of the functions in hybridpot.basis, saved as docs/figures/basis_<name>.png.

Run from the repository root:  python docs/figures_basis.py
"""

from __future__ import annotations

from pathlib import Path

import jax
import matplotlib

matplotlib.use("Agg")
import jax.numpy as jnp  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from hybridpot.basis import (  # noqa: E402
    angular_symmetry_terms,
    cosine_cutoff,
    gaussian_basis,
    gaussian_centers,
    polynomial_envelope,
    radial_bessel_basis,
    radial_symmetry_terms,
    spherical_bessel_radial,
    symmetry_function_parameters,
    zonal_spherical_harmonics,
)

jax.config.update("jax_enable_x64", True)
OUT = Path(__file__).resolve().parent / "figures"
CUTOFF = 5.0
DPI = 100


def _save(fig, name):
    OUT.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(OUT / f"basis_{name}.png", dpi=DPI)
    plt.close(fig)


def plot_radial_bessel():
    r = np.linspace(0.0, 6.0, 600)
    e = np.asarray(radial_bessel_basis(jnp.asarray(r), CUTOFF, 5))
    u = np.asarray(polynomial_envelope(jnp.asarray(r), CUTOFF, 6))
    fig, axes = plt.subplots(1, 2, figsize=(8, 3), sharex=True)
    for n in range(5):
        axes[0].plot(r, e[:, n], label=f"n={n + 1}")
        axes[1].plot(r, u * e[:, n])
    axes[0].set_title(r"$e_{\mathrm{RBF},n}(r)$ (no envelope)")
    axes[1].set_title(r"$u_6(r)\,e_{\mathrm{RBF},n}(r)$")
    for ax in axes:
        ax.axvline(CUTOFF, color="k", lw=0.5, ls="--")
        ax.set_xlabel("r (Å)")
    axes[0].set_ylabel(r"Å$^{-3/2}$")
    axes[0].legend(fontsize=7)
    _save(fig, "radial_bessel")


def plot_spherical_bessel():
    r = np.linspace(0.0, CUTOFF, 400)
    rad = np.asarray(spherical_bessel_radial(jnp.asarray(r), CUTOFF, 3, 3))
    a = np.linspace(0.0, np.pi, 300)
    ang = np.asarray(zonal_spherical_harmonics(jnp.asarray(a), 4))
    fig, axes = plt.subplots(1, 2, figsize=(8, 3))
    for l in range(3):
        for n in range(2):
            axes[0].plot(r, rad[:, l, n], label=f"l={l}, n={n + 1}")
    axes[0].set_title(r"radial part $\sqrt{2/(r_c^3 j_{l+1}^2)}\,j_l(z_{ln} r/r_c)$")
    axes[0].set_xlabel("d (Å)")
    axes[0].legend(fontsize=7)
    for l in range(4):
        axes[1].plot(a, ang[:, l], label=f"l={l}")
    axes[1].set_title(r"angular part $Y_l^0(\alpha)$")
    axes[1].set_xlabel(r"$\alpha$ (rad)")
    axes[1].legend(fontsize=7)
    _save(fig, "spherical_bessel")


def plot_envelopes():
    r = np.linspace(0.0, 6.0, 600)
    fig, ax = plt.subplots(figsize=(4.5, 3))
    for p in (3, 6, 9):
        ax.plot(r, np.asarray(polynomial_envelope(jnp.asarray(r), CUTOFF, p)), label=f"polynomial p={p}")
    ax.plot(r, np.asarray(cosine_cutoff(jnp.asarray(r), CUTOFF)), "k--", label="cosine")
    ax.set_xlabel("r (Å)")
    ax.set_title(f"envelopes, $r_c$ = {CUTOFF} Å")
    ax.legend(fontsize=7)
    _save(fig, "envelopes")


def plot_gaussian():
    r = np.linspace(0.0, 6.0, 600)
    mu = gaussian_centers(0.0, CUTOFF, 11)
    g = np.asarray(gaussian_basis(jnp.asarray(r), mu, 0.5))
    fig, ax = plt.subplots(figsize=(4.5, 3))
    ax.plot(r, g)
    ax.set_xlabel("r (Å)")
    ax.set_title(r"Gaussian basis, $w$ = 0.5 Å, 11 centres")
    _save(fig, "gaussian")


def plot_symmetry_functions():
    params = symmetry_function_parameters(CUTOFF, num_radial=6)
    r = np.linspace(0.0, 6.0, 600)
    g2 = np.asarray(radial_symmetry_terms(jnp.asarray(r), params["radial_eta"], params["radial_shift"], CUTOFF))
    theta = np.linspace(0.0, np.pi, 300)
    zeta = jnp.array([1.0, 2.0, 4.0, 16.0, 1.0, 4.0])
    lam = jnp.array([1.0, 1.0, 1.0, 1.0, -1.0, -1.0])
    eta = jnp.zeros(6)
    # angular factor only: r_ij = r_ik = r_jk = 0 so the radial part is 1
    g4 = np.asarray(angular_symmetry_terms(0.0, 0.0, 0.0, jnp.cos(jnp.asarray(theta)), eta, zeta, lam, CUTOFF))
    fig, axes = plt.subplots(1, 2, figsize=(8, 3))
    axes[0].plot(r, g2)
    axes[0].set_title("G2 terms (Imbalzano 2018 shifted grid)")
    axes[0].set_xlabel(r"$r_{ij}$ (Å)")
    for p in range(6):
        axes[1].plot(np.degrees(theta), g4[:, p], label=f"ζ={float(zeta[p]):g}, λ={float(lam[p]):+g}")
    axes[1].set_title(r"G4 angular factor $2^{1-\zeta}(1+\lambda\cos\theta)^\zeta$")
    axes[1].set_xlabel(r"$\theta_{ijk}$ (deg)")
    axes[1].legend(fontsize=6)
    _save(fig, "symmetry_functions")


if __name__ == "__main__":
    plot_radial_bessel()
    plot_spherical_bessel()
    plot_envelopes()
    plot_gaussian()
    plot_symmetry_functions()
    print("wrote", sorted(p.name for p in OUT.glob("basis_*.png")))
