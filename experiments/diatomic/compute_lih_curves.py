"""Compute LiH X ¹Σ⁺ and A ¹Σ⁺ potential-energy curves by full CI (PySCF) in cc-pVDZ.

Writes ``hybridpot/data/lih_sigma_fci_cc-pvdz.txt`` (read by ``hybridpot.io.bundled_lih_curves``):
r in Å, then the total energies in hartree (nuclear repulsion included) of the two lowest ¹Σ⁺
states, X (→ Li 2s + H 1s) and A (→ Li 2p + H 1s). It is the project's second diatomic: small
enough to recompute in minutes on two cores (0.4 s per point on an idle core), so the diatomic study, the Franck–Condon
factors and the tests show a molecule other than H2 end to end.

Method, per distance r:

1. RHF orbitals of LiH in C∞v handled through its C2v subgroup (``mol.symmetry = "C2v"``).
2. Full CI of all four electrons in all 19 orbitals (``pyscf.fci.direct_spin0_symm``, singlet,
   irrep A1, Davidson with ``conv_tol`` 1e-12), the two lowest roots. C2v A1 holds Σ⁺ and one
   component of each Δ state; the lowest ¹Δ of LiH correlates with Li 3d + H, far above the
   A state, so the two lowest A1 roots are X and A at every r (``--check`` prints ⟨Lz²⟩ of the
   two roots at a few distances: ~0 for Σ, 4 for Δ).

The basis is small (cc-pVDZ: Li 3s2p1d, H 2s1p); the curves are a consistent ab initio data set
for the study, not spectroscopic accuracy (experiment: X D_e ≈ 2.5 eV, r_e 1.596 Å; A D_e ≈ 1.1
eV, r_e ≈ 2.6 Å).

Grid: 0.8–4.0 Å in 0.05 Å steps (the wells), 4.1–8.0 Å in 0.1 Å, 8.25–15 Å in 0.25 Å (the
asymptotes): 133 points unless ``--grid start:stop:step`` is given.

Usage (from the repository root)::

    python experiments/diatomic/compute_lih_curves.py --workers 2
    python experiments/diatomic/compute_lih_curves.py --check

Needs the ``pyscf`` extra: ``pip install -e ".[pyscf]"``.
"""

from __future__ import annotations

import os

# One BLAS/OpenMP thread per worker process; the parallelism is over distances.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse
import datetime
import multiprocessing
import shlex
import sys
import time
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUT = REPO_ROOT / "hybridpot" / "data" / "lih_sigma_fci_cc-pvdz.txt"
STATE_NAMES = ("X", "A")
BASIS = "cc-pvdz"
DEFAULT_GRID = ((0.8, 4.0, 0.05), (4.1, 8.0, 0.1), (8.25, 15.0, 0.25))


def default_grid() -> np.ndarray:
    """The default r grid in Å: denser in the wells than at the asymptotes."""
    parts = [np.round(np.arange(a, b + h / 2, h), 10) for a, b, h in DEFAULT_GRID]
    return np.concatenate(parts)


def sigma_fci(r_angstrom: float, nroots: int = 2) -> tuple[np.ndarray, dict]:
    """Lowest ``nroots`` singlet A1 (¹Σ⁺) total energies (hartree) of LiH at ``r_angstrom`` Å."""
    from pyscf import ao2mo, fci, gto, scf, symm

    mol = gto.M(atom=f"Li 0 0 0; H 0 0 {r_angstrom!r}", unit="Angstrom", basis=BASIS, symmetry="C2v", verbose=0)
    mf = scf.RHF(mol)
    mf.conv_tol = 1e-11
    mf.max_cycle = 200
    mf.kernel()  # FCI does not depend on the orbitals, only on their span
    c_mo = mf.mo_coeff
    orbsym = symm.label_orb_symm(mol, mol.irrep_id, mol.symm_orb, c_mo)
    h1 = c_mo.T @ mf.get_hcore() @ c_mo
    eri = ao2mo.kernel(mol, c_mo)
    solver = fci.direct_spin0_symm.FCI(mol)
    solver.wfnsym = "A1"
    solver.conv_tol = 1e-12
    solver.max_cycle = 300
    energies, vectors = solver.kernel(h1, eri, c_mo.shape[1], 4, ecore=mol.energy_nuc(), orbsym=orbsym, nroots=nroots)
    info = {"n_orbitals": int(c_mo.shape[1]), "rhf_converged": bool(mf.converged), "mol": mol, "mo": c_mo, "ci": vectors}
    return np.atleast_1d(energies), info


def lz2(info: dict, root: int) -> float:
    """⟨Lz²⟩ of one FCI root from its spin-summed one- and two-particle density matrices."""
    from pyscf import fci

    mol, c_mo = info["mol"], info["mo"]
    n = c_mo.shape[1]
    a = c_mo.T @ mol.intor("int1e_cg_irxp", comp=3)[2] @ c_mo  # r x grad along z; Lz = -i A
    dm1, dm2 = fci.direct_spin0.make_rdm12(info["ci"][root], n, 4)
    # Lz² = -(Σ A_pq E_pq)²; <E_pq E_rs> = Γ_pqrs + δ_qr γ_ps (PySCF's dm2[p,q,r,s] = <E_pq E_rs> − δ_qr γ_ps)
    two = np.einsum("pq,rs,pqrs->", a, a, dm2) + np.einsum("pq,qs,ps->", a, a, dm1)
    return float(-two)


def _worker(r: float):
    t0 = time.perf_counter()
    energies, info = sigma_fci(r)
    return r, energies, info["n_orbitals"], info["rhf_converged"], time.perf_counter() - t0


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--grid", help="start:stop:step in Å (default: see the module docstring)")
    parser.add_argument("--workers", type=int, default=2, help="processes over r points")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--check", action="store_true", help="only print <Lz^2> of the roots at a few r and exit")
    args = parser.parse_args(argv)
    import pyscf

    if args.check:
        for r in (1.0, 1.6, 3.0, 8.0):
            energies, info = sigma_fci(r)
            print(f"r = {r} Å: E = {np.round(energies, 10).tolist()} Eh, <Lz^2> = "
                  f"{[round(lz2(info, k), 6) for k in range(len(energies))]}")
        return

    if args.grid:
        start, stop, step = (float(x) for x in args.grid.split(":"))
        grid, grid_source = np.round(np.arange(start, stop + step / 2, step), 10), f"uniform {args.grid} Å"
    else:
        grid = default_grid()
        grid_source = ", ".join(f"{a}-{b} by {h}" for a, b, h in DEFAULT_GRID) + " angstrom"
    t0 = time.perf_counter()
    with multiprocessing.get_context("fork").Pool(args.workers) as pool:
        results = pool.map(_worker, [float(r) for r in grid], chunksize=1)
    wall = time.perf_counter() - t0
    results.sort(key=lambda t: t[0])
    r_values = np.array([t[0] for t in results])
    energies = np.array([t[1] for t in results])
    cpu = sum(t[4] for t in results)
    unconverged = sum(not t[3] for t in results)

    command = "python " + " ".join(shlex.quote(a) for a in [str(Path(sys.argv[0]))] + sys.argv[1:])
    header = [
        "LiH 1Sigma+ potential-energy curves (hybridpot bundled data; licence: MIT, as hybridpot)",
        "molecule: LiH",
        "atoms: Li H",
        f"method: full CI of all 4 electrons (pyscf.fci.direct_spin0_symm, conv_tol 1e-12) on RHF orbitals; PySCF "
        f"{pyscf.__version__}; C2v subgroup of Cinfv, irrep A1, 2 lowest singlet roots = X 1Sigma+ and A 1Sigma+ "
        f"(RHF not converged at {unconverged} points; FCI does not depend on it)",
        f"basis: cc-pVDZ (PySCF), spherical; {results[0][2]} molecular orbitals; small: not spectroscopic accuracy",
        f"grid: {len(r_values)} points, {grid_source}",
        "units: r in angstrom; energies in hartree, total electronic energies including nuclear repulsion",
        f"date: {datetime.date.today().isoformat()}; wall time {wall:.0f} s on {args.workers} processes "
        f"({cpu:.0f} s summed over points)",
        f"produced by: experiments/diatomic/compute_lih_curves.py; command: {command}",
        "columns: r " + " ".join(STATE_NAMES),
    ]
    from hybridpot.io.curves import write_curves  # here: the PySCF workers need none of hybridpot

    write_curves(args.out, r_values, energies, header)

    print(f"wrote {args.out} ({len(r_values)} points, {len(STATE_NAMES)} states)")
    print(f"wall {wall:.1f} s on {args.workers} processes; {cpu / len(r_values):.2f} s per point")
    for k, name in enumerate(STATE_NAMES):
        e = energies[:, k]
        i = np.argmin(e)
        print(f"{name}: minimum {e[i]:.6f} Eh at r = {r_values[i]} Å; E(r_max) − minimum = {e[-1] - e[i]:.6f} Eh")


if __name__ == "__main__":
    main()
