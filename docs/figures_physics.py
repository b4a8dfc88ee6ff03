"""Plot every pair potential of ``hybridpot.physics`` to ``docs/figures/physics_<name>.png``.

Run from the repository root: ``python docs/figures_physics.py``. Matplotlib (Agg), dpi 100.
"""

from __future__ import annotations

from pathlib import Path

import jax

jax.config.update("jax_enable_x64", True)

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from hybridpot.physics import (  # noqa: E402
    BuckinghamParams,
    EnvelopeZBLSwitch,
    HarmonicParams,
    LammpsZBLSwitch,
    LennardJonesParams,
    MorseParams,
    buckingham_energy,
    buckingham_r_max,
    coulomb_energy,
    damped_shifted_force_coulomb_energy,
    harmonic_energy,
    lennard_jones_energy,
    morse_energy,
    zbl_energy,
)

OUT = Path(__file__).resolve().parent / "figures"
DPI = 100


def _save(fig, ax, name: str, ylabel: str = "energy (eV)") -> None:
    ax.set_xlabel("r (Å)")
    ax.set_ylabel(ylabel)
    ax.axhline(0.0, color="0.7", lw=0.8, zorder=0)
    ax.legend(frameon=False, fontsize=8)
    fig.tight_layout()
    fig.savefig(OUT / f"physics_{name}.png", dpi=DPI)
    plt.close(fig)


def _axes(title: str):
    fig, ax = plt.subplots(figsize=(4.8, 3.2))
    ax.set_title(title, fontsize=10)
    return fig, ax


def morse() -> None:
    p = MorseParams(d_e=0.1745, a=1.0282, r_e=0.7414, shift=-0.1745)
    r = np.linspace(0.3, 4.0, 400)
    fig, ax = _axes("Morse (H$_2$-like, hartree)")
    ax.plot(r, morse_energy(r, p), label="Morse")
    ax.plot(r, harmonic_energy(r, HarmonicParams(2 * p.d_e * p.a**2, p.r_e)) + p.shift, "--", label="harmonic, $k=2D_e a^2$")
    ax.set_ylim(-0.2, 0.15)
    _save(fig, ax, "morse", "energy (hartree)")


def lennard_jones() -> None:
    p = LennardJonesParams(epsilon=0.0104, sigma=3.40)
    r = np.linspace(3.0, 10.0, 400)
    fig, ax = _axes("Lennard-Jones (argon)")
    ax.plot(r, lennard_jones_energy(r, p), label=r"$\varepsilon$=0.0104 eV, $\sigma$=3.40 Å")
    ax.axvline(2 ** (1 / 6) * p.sigma, color="0.5", ls=":", label=r"$2^{1/6}\sigma$")
    ax.set_ylim(-0.012, 0.01)
    _save(fig, ax, "lennard_jones")


def buckingham() -> None:
    p = BuckinghamParams(a=1388.7730, rho=0.36232, c=175.0)  # BKS O–O
    r = np.linspace(0.05, 5.0, 600)
    bare = p.a * np.exp(-r / p.rho) - p.c / r**6
    fig, ax = _axes("Buckingham (BKS O–O)")
    ax.plot(r, bare, color="0.6", ls="--", label="bare (collapses)")
    ax.plot(r, buckingham_energy(r, p), label="guarded")
    ax.axvline(float(buckingham_r_max(p)), color="0.5", ls=":", label=r"$r_\mathrm{max}$")
    ax.set_ylim(-5, 40)
    _save(fig, ax, "buckingham")


def harmonic() -> None:
    p = HarmonicParams(k=36.0, r_0=0.96)
    r = np.linspace(0.5, 1.5, 300)
    fig, ax = _axes("Harmonic bond")
    ax.plot(r, harmonic_energy(r, p), label=r"$\frac{1}{2}k(r-r_0)^2$, k=36 eV/Å$^2$")
    _save(fig, ax, "harmonic")


def coulomb() -> None:
    r = np.linspace(1.0, 14.0, 500)
    fig, ax = _axes("Coulomb, $q_i q_j = -1$")
    ax.plot(r, coulomb_energy(r, 1.0, -1.0), color="0.4", ls="--", label="bare")
    for alpha in (0.0, 0.1, 0.2):
        ax.plot(r, damped_shifted_force_coulomb_energy(r, 1.0, -1.0, alpha, 12.0), label=f"DSF α={alpha} Å$^{{-1}}$, $r_c$=12 Å")
    ax.set_ylim(-8, 0.5)
    _save(fig, ax, "coulomb")


def zbl() -> None:
    r = np.linspace(0.1, 3.0, 600)
    fig, ax = _axes("ZBL, C–C")
    ax.plot(r, zbl_energy(r, 6, 6), color="0.4", ls="--", label="bare")
    ax.plot(r, zbl_energy(r, 6, 6, switch=LammpsZBLSwitch(1.0, 2.0)), label="LAMMPS switch 1.0–2.0 Å")
    ax.plot(r, zbl_energy(r, 6, 6, switch=EnvelopeZBLSwitch(2.0)), label="envelope p=6, $r_c$=2.0 Å")
    ax.set_yscale("symlog", linthresh=1.0)
    _save(fig, ax, "zbl")


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for plot in (morse, lennard_jones, buckingham, harmonic, coulomb, zbl):
        plot()
    print(f"wrote {len(list(OUT.glob('physics_*.png')))} figures to {OUT}")


if __name__ == "__main__":
    main()
