"""The ZBL prior with pair-specific ranges: a plot of each pair's energy, and what it adds on MD17 frames.

1. ``docs/figures/zbl_prior.png``: E_ZBL(r) of every pair of H, C, N, O with the covalent ranges
   (``zbl_term()``, f = ``COVALENT_ZBL_FACTOR``, LAMMPS switch from r_out/2 to r_out) against the
   paper's global variant (envelope to 5 Å), with each pair's covalent bond length r_cov,i + r_cov,j.
2. A table: over every ``--stride``-th frame of each MD17 molecule, the smallest pair distance in
   units of r_cov,i + r_cov,j, and the prior's largest energy and force RMS for several factors f,
   next to the global variant and the RMS of the DFT forces: the evidence behind the default f.

    python experiments/md17/zbl_prior.py --stride 50 --qm9

3. With ``--qm9``: the smallest r / (r_cov,i + r_cov,j) over the 20,000 molecules of the QM9 subset.
"""

from __future__ import annotations

import argparse
import os

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PAIRS = [(1, 1), (1, 6), (1, 7), (1, 8), (6, 6), (6, 7), (6, 8), (7, 7), (7, 8), (8, 8)]
FACTORS = (0.6, 0.7, 0.8, 0.9, 1.0)


def plot(png: str) -> None:
    """Each pair's prior (solid) and the global 5 Å ZBL (dotted), symlog energy axis."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from ase.data import chemical_symbols, covalent_radii

    from hybridpot.physics import ZBL_UNIVERSAL, LammpsZBLSwitch, zbl_energy
    from hybridpot.potentials import COVALENT_ZBL_FACTOR, covalent_zbl_ranges, zbl_switch

    r = np.linspace(0.2, 2.0, 400)
    fig, axes = plt.subplots(2, 5, figsize=(14, 5.5), sharex=True, sharey=True)
    for ax, (a, b) in zip(axes.ravel(), PAIRS):
        inner, outer = (float(x) for x in covalent_zbl_ranges(a, b))
        prior = np.asarray(zbl_energy(r, a, b, ZBL_UNIVERSAL, LammpsZBLSwitch(inner, outer)))
        full = np.asarray(zbl_energy(r, a, b, ZBL_UNIVERSAL, zbl_switch("envelope", 5.0)))
        ax.plot(r, full, ":", color="0.4", label="global, envelope to 5 Å")
        ax.plot(r, prior, color="C3", label=f"covalent, f = {COVALENT_ZBL_FACTOR}")
        ax.axvspan(inner, outer, color="C3", alpha=0.1)
        ax.axvline(covalent_radii[a] + covalent_radii[b], color="C0", lw=1, label="r_cov,i + r_cov,j")
        ax.set_yscale("symlog", linthresh=0.1)
        ax.set_title(f"{chemical_symbols[a]}–{chemical_symbols[b]}")
    for ax in axes[-1]:
        ax.set_xlabel("r (Å)")
    for ax in axes[:, 0]:
        ax.set_ylabel("E_ZBL (eV)")
    axes[0, 0].legend(fontsize=7)
    fig.suptitle("ZBL prior per pair: zero beyond f·(r_cov,i + r_cov,j), switched over the shaded window")
    fig.tight_layout()
    os.makedirs(os.path.dirname(png), exist_ok=True)
    fig.savefig(png, dpi=110)


def table(molecules, stride: int, shared_dir=None) -> str:
    """Markdown rows: per molecule, min r/(r_cov,i + r_cov,j) and the prior on every ``stride``-th frame."""
    import jax

    jax.config.update("jax_enable_x64", True)
    from ase.data import covalent_radii

    from hybridpot.io.md17 import load_md17
    from hybridpot.potentials import structure_energies, zbl_term

    out = ["| molecule | frames | min r / (r_cov,i + r_cov,j) | DFT force RMS (eV/Å) | "
           + " | ".join(f"f = {f}: max E (eV) / force RMS (eV/Å)" for f in FACTORS) + " | global 5 Å: mean E / force RMS |",
           "|---|---|---|---|" + "---|" * (len(FACTORS) + 1)]
    for mol in molecules:
        frames = load_md17(mol, shared_dir=shared_dir)
        z, pos = frames.numbers, frames.positions[::stride]
        d = np.linalg.norm(pos[:, :, None] - pos[:, None], axis=-1)
        ratio = d / (covalent_radii[z][:, None] + covalent_radii[z][None, :])
        ratio[:, np.arange(len(z)), np.arange(len(z))] = np.inf
        species = sorted(set(z.tolist()))
        cells = []
        for term in [zbl_term(factor=f, species=species) for f in FACTORS] + [zbl_term(5.0, "envelope")]:
            e, f = structure_energies(term, list(pos), z, return_forces=True)
            rms = float(np.sqrt(np.mean(np.concatenate(f) ** 2)))
            cells.append(f"{(e.mean() if term.cutoff == 5.0 else e.max()):.3g} / {rms:.3g}")
        dft = float(np.sqrt(np.mean(frames.forces[::stride] ** 2)))
        out.append(f"| {mol} | {len(pos)} | {ratio.min():.3f} | {dft:.2f} | " + " | ".join(cells) + " |")
    return "\n".join(out)


def qm9_closest_pair(shared_dir=None) -> float:
    """The smallest r / (r_cov,i + r_cov,j) over every pair of every molecule of the shared QM9 subset."""
    from ase.data import covalent_radii

    from hybridpot.io import load_qm9

    molecules, worst = load_qm9(shared_dir=shared_dir), np.inf
    for pos, z in zip(molecules.positions, molecules.numbers):
        ratio = np.linalg.norm(pos[:, None] - pos[None], axis=-1) / (covalent_radii[z][:, None] + covalent_radii[z][None])
        np.fill_diagonal(ratio, np.inf)
        worst = min(worst, float(ratio.min()))
    return worst


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--molecules", nargs="+", default=["aspirin", "ethanol", "malonaldehyde", "uracil"])
    p.add_argument("--stride", type=int, default=50)
    p.add_argument("--shared-dir", default=None)
    p.add_argument("--qm9", action="store_true", help="also print the closest pair of the shared QM9 subset")
    p.add_argument("--png", default=os.path.join(ROOT, "docs", "figures", "zbl_prior.png"))
    args = p.parse_args(argv)
    plot(args.png)
    print(table(args.molecules, args.stride, args.shared_dir))
    if args.qm9:
        print(f"QM9: closest pair at {qm9_closest_pair():.3f} × (r_cov,i + r_cov,j)")


if __name__ == "__main__":
    main()
