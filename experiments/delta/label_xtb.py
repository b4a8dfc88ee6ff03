"""Low-level labels for the Δ-learning study: GFN2-xTB (tblite) on the 200 bundled rMD17 ethanol frames.

Writes ``hybridpot/data/md17_ethanol_gfn2xtb_200.npz`` (same frame order as
``md17_ethanol_rmd17_200.npz``) and its provenance ``md17_ethanol_gfn2xtb_200.md``::

    nice -n 10 python experiments/delta/label_xtb.py

``--check-pyscf N`` instead recomputes the high level (PBE/def2-SVP, PySCF) on the first N frames
and reports how well it reproduces the shipped rMD17 labels (energies with their mean difference
removed, meV; forces, meV/Å), writing ``experiments/delta/results_pyscf_check.json``::

    nice -n 10 python experiments/delta/label_xtb.py --check-pyscf 8
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA_DIR = os.path.join(ROOT, "hybridpot", "data")
SOURCE = os.path.join(DATA_DIR, "md17_ethanol_rmd17_200.npz")
OUT = os.path.join(DATA_DIR, "md17_ethanol_gfn2xtb_200.npz")
#: tblite settings (the ASE calculator's defaults, written out so the provenance names each one).
XTB_SETTINGS = {"method": "GFN2-xTB", "charge": 0, "multiplicity": 1, "accuracy": 1.0,
                "electronic_temperature": 300.0, "max_iterations": 250, "verbosity": 0}
#: PySCF settings of the high-level check. ORCA (which made rMD17) uses RI-J for pure functionals,
#: so the Coulomb term is density-fitted with the def2 universal J basis.
PYSCF_SETTINGS = {"xc": "pbe", "basis": "def2-svp", "auxbasis": "def2-universal-jfit", "grids_level": 4,
                  "conv_tol": 1e-10}


def sha256(path: str) -> str:
    """Hex sha256 of a file."""
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def label(out: str = OUT) -> dict:
    """GFN2-xTB energies (eV) and forces (eV/Å) of every bundled frame; writes ``out`` and its ``.md``."""
    from importlib.metadata import version

    from tblite.ase import TBLite

    from hybridpot.io import label_atoms
    from hybridpot.io import bundled_md17

    frames = bundled_md17(units="eV")
    t0 = time.time()
    low = label_atoms(frames.to_dataset(), TBLite(**XTB_SETTINGS))
    seconds = time.time() - t0
    energy = np.array([s.energy for s in low.structures])
    forces = np.stack([s.forces for s in low.structures])
    np.savez_compressed(out, z=frames.numbers.astype(np.int64), R=frames.positions, E=energy, F=forces,
                        idx=frames.index, frame=np.arange(frames.n_frames))
    info = {"n_frames": frames.n_frames, "seconds": seconds, "tblite": version("tblite"), "ase": version("ase"),
            "source_sha256": sha256(SOURCE), "sha256": sha256(out),
            "mean_offset_eV": float(np.mean(frames.energy - energy)), "offset_std_eV": float(np.std(frames.energy - energy))}
    with open(os.path.splitext(out)[0] + ".md", "w") as f:
        f.write(provenance(info))
    return info


def provenance(info: dict) -> str:
    """The provenance markdown of the written file."""
    settings = ", ".join(f"`{k}={v!r}`" for k, v in XTB_SETTINGS.items())
    return f"""# md17_ethanol_gfn2xtb_200.npz: provenance

**GFN2-xTB** labels of the {info['n_frames']} ethanol geometries of `md17_ethanol_rmd17_200.npz`
(revised MD17, PBE/def2-SVP), in the **same frame order**: the low level of the Δ-learning study
(`docs/studies/delta.md`). Read both with `hybridpot.delta.bundled_delta_pair()`.

* Made by `python experiments/delta/label_xtb.py` (tblite {info['tblite']}, ASE {info['ase']},
  Python {platform.python_version()}; {info['seconds']:.1f} s on {platform.machine()}), through the
  ASE calculator `tblite.ase.TBLite` with {settings}; no solvation, no external field.
  Every SCF converged (tblite raises otherwise).
* Source geometries: `hybridpot/data/md17_ethanol_rmd17_200.npz`, sha256 `{info['source_sha256']}`
  (its provenance: `md17_ethanol_rmd17_200.md`); positions are copied unchanged.
* Keys: `z` [9] int64 atomic numbers; `R` [{info['n_frames']}, 9, 3] Å (the source positions);
  `E` [{info['n_frames']}] **eV** total GFN2-xTB energy; `F` [{info['n_frames']}, 9, 3] **eV/Å** (F = −dE/dR);
  `idx` [{info['n_frames']}] frame index in the original MD17 trajectory (equal to the source's `idx`);
  `frame` [{info['n_frames']}] row in the source file. Hartree and bohr are converted by tblite's ASE
  interface (ASE's `units.Hartree`, `units.Bohr`). float64.
* GFN2-xTB total energies are on a different scale from the DFT ones: E_rMD17 − E_xTB is
  {info['mean_offset_eV']:.3f} eV on average (standard deviation over the frames {1000 * info['offset_std_eV']:.1f} meV);
  only energy differences between frames, or energies after a per-element offset, compare.
* sha256 of this file: `{info['sha256']}`.
* Cite: C. Bannwarth, S. Ehlert, S. Grimme, J. Chem. Theory Comput. 15, 1652 (2019) (GFN2-xTB);
  tblite, https://github.com/tblite/tblite (LGPL-3.0).
"""


def pbe_def2svp(numbers, positions, settings: dict = PYSCF_SETTINGS) -> tuple[float, np.ndarray, bool]:
    """One PBE/def2-SVP (RI-J) single point with PySCF, the rMD17 level: energy eV, forces ``[n, 3]`` eV/Å,
    and whether the plain SCF (PySCF's DIIS, 50 cycles) failed so that second-order SCF (``newton``,
    from the last density) converged it instead, as it may for strongly compressed geometries.

    Raises:
        RuntimeError: neither converged.
    """
    from pyscf import dft, gto

    from hybridpot.units import BOHR_TO_ANGSTROM, HARTREE_TO_EV

    mol = gto.M(atom=[(int(z), tuple(r)) for z, r in zip(numbers, positions)], basis=settings["basis"],
                unit="Angstrom", charge=0, spin=0, verbose=0)
    mf = dft.RKS(mol).density_fit(auxbasis=settings["auxbasis"])
    mf.xc = settings["xc"]
    mf.grids.level = settings["grids_level"]
    mf.conv_tol = settings["conv_tol"]
    e = mf.kernel()
    newton = not mf.converged
    if newton:
        mf = mf.newton()
        e = mf.kernel(mf.make_rdm1())
        if not mf.converged:
            raise RuntimeError("PySCF SCF did not converge, with DIIS nor with second-order SCF")
    forces = -np.asarray(mf.nuc_grad_method().kernel()) * HARTREE_TO_EV / BOHR_TO_ANGSTROM
    return e * HARTREE_TO_EV, forces, newton


def check_pyscf(n: int, out: str) -> dict:
    """PBE/def2-SVP (PySCF) on the first ``n`` bundled frames against the shipped rMD17 labels."""
    from importlib.metadata import version

    from hybridpot.io import bundled_md17

    frames = bundled_md17(units="eV")
    energy, forces, t0 = [], [], time.time()
    for k in range(n):
        e, f, _ = pbe_def2svp(frames.numbers, frames.positions[k])
        energy.append(e)
        forces.append(f)
        print(f"frame {k}: {time.time() - t0:.0f} s", flush=True)
    energy, forces = np.array(energy), np.stack(forces)
    diff = energy - frames.energy[:n]
    centred = diff - diff.mean()
    fdiff = forces - frames.forces[:n]
    result = {
        "argv": sys.argv, "n_frames": n, "settings": PYSCF_SETTINGS, "pyscf": version("pyscf"),
        "seconds": time.time() - t0,
        "mean_energy_difference_eV": float(diff.mean()),
        "energy_difference_mean_removed_meV": (1000 * centred).tolist(),
        "energy_mae_mean_removed_meV": float(1000 * np.mean(np.abs(centred))),
        "energy_max_mean_removed_meV": float(1000 * np.max(np.abs(centred))),
        "forces_rmse_meV_per_A": float(1000 * np.sqrt(np.mean(fdiff**2))),
        "forces_max_meV_per_A": float(1000 * np.max(np.abs(fdiff))),
        "rmd17_energy_spread_meV": float(1000 * np.std(frames.energy[:n])),
    }
    with open(out, "w") as f:
        json.dump(result, f, indent=1)
    return result


def main(argv=None):
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=OUT, help="npz to write (the provenance goes beside it)")
    parser.add_argument("--check-pyscf", type=int, default=None, metavar="N",
                        help="only recompute PBE/def2-SVP with PySCF on the first N frames and compare")
    parser.add_argument("--check-out", default=os.path.join(ROOT, "experiments", "delta", "results_pyscf_check.json"))
    args = parser.parse_args(argv)
    if args.check_pyscf is not None:
        r = check_pyscf(args.check_pyscf, args.check_out)
        print(f"PySCF {r['pyscf']} PBE/def2-SVP (RI-J) vs rMD17 on {r['n_frames']} frames ({r['seconds']:.0f} s): "
              f"energy (mean difference {r['mean_energy_difference_eV']:.4f} eV removed) MAE "
              f"{r['energy_mae_mean_removed_meV']:.4f} meV, max {r['energy_max_mean_removed_meV']:.4f} meV "
              f"(spread of the labels {r['rmd17_energy_spread_meV']:.0f} meV); forces RMSE "
              f"{r['forces_rmse_meV_per_A']:.3f} meV/Å, max {r['forces_max_meV_per_A']:.3f} meV/Å")
        return
    info = label(args.out)
    print(f"wrote {args.out} ({info['n_frames']} frames, {info['seconds']:.1f} s, tblite {info['tblite']}, "
          f"sha256 {info['sha256'][:16]}…)")


if __name__ == "__main__":
    main()
