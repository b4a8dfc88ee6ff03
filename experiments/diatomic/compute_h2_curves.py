"""Compute H2 ¹Σg⁺ potential-energy curves by full CI (PySCF) in d-aug-cc-pVTZ.

Writes ``hybridpot/data/h2_sigma_g_fci_daug-cc-pvtz.txt`` (read by
``hybridpot.io.bundled_h2_curves``): r in Å, then the total energies in hartree (nuclear
repulsion included) of the lowest ``--nroots`` ¹Σg⁺ states (default 4): X, EF, state2 (GK),
state3 (HH̄). Roots above the fourth belong to the n ≥ 3 Rydberg series, which this basis does not
describe (they differ from the reference curves by 0.1–0.7 Eh), so they are not written by default.

Method, per distance r:

1. RHF orbitals of H2 in D∞h symmetry handled through its D2h subgroup (``mol.symmetry = "D2h"``);
   every molecular orbital carries a D2h irrep label. PySCF removes near-linearly-dependent
   combinations of basis functions if the overlap matrix demands it (not the case on this grid).
2. Full CI of the two electrons in all orbitals, restricted to singlet spin and the D2h irrep Ag.
   For two electrons the singlet FCI space is spanned by the symmetric orbital pairs
   (φ_p φ_q + φ_q φ_p)/√2 (p < q) and φ_p φ_p; Ag keeps the pairs with irrep(p) × irrep(q) = Ag.
   The Hamiltonian H = h(1) + h(2) + 1/r12 (MO integrals from ``pyscf.ao2mo``) is built in that
   basis and diagonalised exactly (``numpy.linalg.eigh``): no Davidson convergence or missed roots,
   and no limit on the number of orbitals (``pyscf.fci``'s string code stops at 64 orbitals, which
   is exactly the size of this basis for H2). ``--check`` compares the lowest roots with
   ``pyscf.fci.direct_spin0_symm`` (wfnsym ``Ag``) at a few distances.
3. D2h Ag holds Σg⁺ and also one component of every Δg, Γg, ... state (``E2gx``, ``E4gx`` in PySCF's
   linear-molecule labels). Each root's ⟨Lz²⟩ = ‖A c − c A‖² (c the pair coefficient matrix, A the
   MO matrix of r×∇ along z from ``int1e_cg_irxp``, so Lz = −iA) is computed; the roots with
   ⟨Lz²⟩ < 0.01 are the ¹Σg⁺ states kept (Δg roots give 4, Γg roots 16). The basis shells are
   centred on the z axis, so Lz maps the basis onto itself and ⟨Lz²⟩ is exact in the basis.

Basis: d-aug-cc-pVTZ is not in PySCF. It is built from PySCF's aug-cc-pVTZ for H (4s3p2d)
by adding one more even-tempered diffuse primitive per angular momentum with exponent
ζ_min² / ζ_second-smallest (the standard d-aug construction of Woon & Dunning), giving
5s4p3d per atom: s 0.006212927, p 0.026814433, d 0.057719016 bohr⁻².

Grid: the r values (first column only) of the reference file
``<repo>/../shared/data/diatomic/Potential_Energy_Curves_H2_GS_ES1-7.txt`` (426 points, 0.5 to
50.5 Å). Its energies are not read. Without that file, pass ``--grid FILE`` (first column = r in
Å) or ``--grid start:stop:step``; with neither, the script warns and uses 0.5:20.0:0.1.

Usage (from the repository root)::

    python experiments/diatomic/compute_h2_curves.py --workers 2
    python experiments/diatomic/compute_h2_curves.py --check   # pyscf.fci cross-check only

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
import warnings
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[2]
REFERENCE_FILE = REPO_ROOT.parent / "shared" / "data" / "diatomic" / "Potential_Energy_Curves_H2_GS_ES1-7.txt"
DEFAULT_OUT = REPO_ROOT / "hybridpot" / "data" / "h2_sigma_g_fci_daug-cc-pvtz.txt"
STATE_NAMES = ("X", "EF", "state2", "state3")
LZ2_SIGMA_MAX = 0.01


def daug_cc_pvtz_hydrogen():
    """PySCF basis list for H in d-aug-cc-pVTZ: aug-cc-pVTZ plus one even-tempered diffuse shell per l."""
    from pyscf import gto

    basis = gto.basis.load("aug-cc-pvtz", "H")
    exponents: dict[int, list[float]] = {}
    for shell in basis:
        for prim in shell[1:]:
            exponents.setdefault(shell[0], []).append(prim[0])
    extra = []
    for l in sorted(exponents):
        smallest, second = sorted(exponents[l])[:2]
        extra.append([l, [smallest**2 / second, 1.0]])
    return basis + extra


def _molecule(r_angstrom: float, basis):
    from pyscf import gto

    return gto.M(
        atom=f"H 0 0 0; H 0 0 {r_angstrom!r}",
        unit="Angstrom",
        basis={"H": basis},
        symmetry="D2h",
        verbose=0,
    )


def _rhf(mol):
    from pyscf import scf

    mf = scf.RHF(mol)
    mf.conv_tol = 1e-11
    mf.max_cycle = 200
    mf.kernel()
    if not mf.converged:  # the FCI energy does not depend on the orbitals, only their span
        warnings.warn(f"RHF not converged at r = {mol.atom_coord(1)[2]} bohr; FCI is unaffected")
    return mf


def sigma_g_fci(r_angstrom: float, nroots: int, basis=None) -> tuple[np.ndarray, dict]:
    """Lowest ``nroots`` ¹Σg⁺ total energies (hartree) of H2 at ``r_angstrom`` Å, and diagnostics."""
    from pyscf import ao2mo, symm

    basis = daug_cc_pvtz_hydrogen() if basis is None else basis
    mol = _molecule(r_angstrom, basis)
    mf = _rhf(mol)
    c_mo = mf.mo_coeff
    n = c_mo.shape[1]
    orbsym = np.asarray(symm.label_orb_symm(mol, mol.irrep_id, mol.symm_orb, c_mo)) % 10
    h1 = c_mo.T @ mf.get_hcore() @ c_mo
    eri = ao2mo.restore(1, ao2mo.kernel(mol, c_mo), n)  # (pq|rs), chemists' order

    p, q = np.triu_indices(n)
    keep = (orbsym[p] ^ orbsym[q]) == 0  # irrep(p) x irrep(q) = Ag in D2h
    p, q = p[keep], q[keep]
    w = np.where(p == q, 0.5, np.sqrt(0.5))  # u_P = w (e_pq + e_qp)

    def h_product(a, b, c, d):  # <ab|H|cd> in the product basis phi_a(1) phi_b(2)
        return h1[a, c] * (b == d) + (a == c) * h1[b, d] + eri[a, c, b, d]

    P, Q = np.meshgrid(np.arange(p.size), np.arange(p.size), indexing="ij")
    a, b, c, d = p[P], q[P], p[Q], q[Q]
    ham = w[P] * w[Q] * (h_product(a, b, c, d) + h_product(a, b, d, c) + h_product(b, a, c, d) + h_product(b, a, d, c))
    energies, vectors = np.linalg.eigh(ham)

    a_mo = c_mo.T @ mol.intor("int1e_cg_irxp", comp=3)[2] @ c_mo  # r x grad along z; Lz = -i A
    sigma, lz2_all = [], []
    for k in range(energies.size):
        coef = np.zeros((n, n))
        coef[p, q] += w * vectors[:, k]
        coef[q, p] += w * vectors[:, k]
        lz2 = float(np.sum((a_mo @ coef - coef @ a_mo) ** 2))
        lz2_all.append(lz2)
        if lz2 < LZ2_SIGMA_MAX:
            sigma.append(k)
            if len(sigma) == nroots:
                break
    if len(sigma) < nroots:
        raise RuntimeError(f"only {len(sigma)} Sigma_g+ roots found at r = {r_angstrom}")
    e_nuc = mol.energy_nuc()
    info = {
        "n_orbitals": n,
        "n_csf_ag": int(p.size),
        "e_rhf": float(mf.e_tot),
        "lz2_of_kept": [lz2_all[k] for k in sigma],
        "max_lz2_of_kept": max(lz2_all[k] for k in sigma),
        "n_skipped_non_sigma": int(sigma[-1] + 1 - nroots),
        "ag_roots_below_last": (energies[: sigma[-1] + 1] + e_nuc).tolist(),
        "lz2_below_last": lz2_all[: sigma[-1] + 1],
    }
    return energies[sigma] + e_nuc, info


def pyscf_fci_check(r_angstrom: float, nroots: int) -> np.ndarray:
    """Lowest ``nroots`` singlet Ag roots of ``pyscf.fci.direct_spin0_symm`` (Davidson), hartree."""
    from pyscf import ao2mo, fci, symm

    mol = _molecule(r_angstrom, daug_cc_pvtz_hydrogen())
    mf = _rhf(mol)
    n = mf.mo_coeff.shape[1]
    orbsym = symm.label_orb_symm(mol, mol.irrep_id, mol.symm_orb, mf.mo_coeff)
    h1 = mf.mo_coeff.T @ mf.get_hcore() @ mf.mo_coeff
    eri = ao2mo.kernel(mol, mf.mo_coeff)
    solver = fci.direct_spin0_symm.FCI(mol)
    solver.wfnsym = "Ag"
    solver.conv_tol = 1e-12
    solver.max_cycle = 300
    e, _ = solver.kernel(h1, eri, n, 2, ecore=mol.energy_nuc(), orbsym=orbsym, nroots=nroots)
    return np.atleast_1d(e)


def _worker(args):
    r, nroots = args
    t0 = time.perf_counter()
    energies, info = sigma_g_fci(r, nroots)
    info["seconds"] = time.perf_counter() - t0
    return r, energies, info


def read_grid(spec: str | None) -> tuple[np.ndarray, str]:
    """The r grid (Å) and a sentence saying where it came from."""
    if spec is None:
        if REFERENCE_FILE.is_file():
            r = np.loadtxt(REFERENCE_FILE, usecols=0)
            return r, f"first column (r only) of {REFERENCE_FILE.name} (El Haloui et al. 2025)"
        warnings.warn(
            f"{REFERENCE_FILE} not found: using the default grid 0.5:20.0:0.1 Å; "
            "pass --grid to choose another"
        )
        spec = "0.5:20.0:0.1"
    if ":" in spec and not Path(spec).exists():
        start, stop, step = (float(x) for x in spec.split(":"))
        r = np.round(np.arange(start, stop + step / 2, step), 10)
        return r, f"uniform {start}:{stop}:{step} Å"
    r = np.loadtxt(spec, usecols=0, comments="#", ndmin=1)
    return r, f"first column of {spec}"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--grid", help="file whose first column is r in Å, or start:stop:step in Å")
    parser.add_argument("--nroots", type=int, default=4, help="number of 1Sigma_g+ states (default 4)")
    parser.add_argument("--workers", type=int, default=2, help="processes over r points")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument(
        "--check", action="store_true", help="only compare with pyscf.fci at a few r and exit"
    )
    args = parser.parse_args(argv)
    import pyscf

    if args.check:
        for r in (0.7, 1.0, 2.3, 6.0):
            ours, info = sigma_g_fci(r, 3)
            n_ag = len(info["ag_roots_below_last"])
            theirs = pyscf_fci_check(r, n_ag)
            print(f"r = {r} Å: Ag roots (exact) {np.round(info['ag_roots_below_last'], 10).tolist()}")
            print(f"          <Lz^2>           {np.round(info['lz2_below_last'], 6).tolist()}")
            print(f"          pyscf.fci Ag     {np.round(theirs, 10).tolist()}")
            print(f"          max |diff| = {np.max(np.abs(theirs - info['ag_roots_below_last'])):.2e} Eh")
        return

    grid, grid_source = read_grid(args.grid)
    names = tuple(STATE_NAMES[i] if i < len(STATE_NAMES) else f"state{i}" for i in range(args.nroots))
    t0 = time.perf_counter()
    with multiprocessing.get_context("fork").Pool(args.workers) as pool:
        results = pool.map(_worker, [(float(r), args.nroots) for r in grid], chunksize=1)
    wall = time.perf_counter() - t0
    results.sort(key=lambda t: t[0])
    r_values = np.array([t[0] for t in results])
    energies = np.array([t[1] for t in results])
    infos = [t[2] for t in results]
    cpu = sum(i["seconds"] for i in infos)
    max_lz2 = max(i["max_lz2_of_kept"] for i in infos)
    skipped = sum(i["n_skipped_non_sigma"] > 0 for i in infos)
    n_orb = sorted({i["n_orbitals"] for i in infos})

    command = "python " + " ".join(shlex.quote(a) for a in [str(Path(sys.argv[0]))] + sys.argv[1:])
    header = [
        "H2 1Sigma_g+ potential-energy curves (hybridpot bundled data; licence: MIT, as hybridpot)",
        "molecule: H2",
        "atoms: H H",
        "method: full CI (exact diagonalisation of the 2-electron singlet CI space) on RHF orbitals; PySCF "
        f"{pyscf.__version__} (scf.RHF, ao2mo); D2h subgroup of Dinfh, irrep Ag, roots with <Lz^2> < "
        f"{LZ2_SIGMA_MAX} kept (Delta_g, Gamma_g components dropped); max <Lz^2> of kept roots {max_lz2:.1e}",
        "basis: d-aug-cc-pVTZ on each H = PySCF aug-cc-pVTZ (4s3p2d) + one even-tempered diffuse primitive "
        "per l, exponent = smallest^2 / second-smallest (s 0.006212927, p 0.026814433, d 0.057719016); "
        f"spherical; {'/'.join(map(str, n_orb))} molecular orbitals",
        f"grid: {len(r_values)} points, {grid_source}",
        "units: r in angstrom; energies in hartree, total electronic energies including nuclear repulsion",
        "state2 ~ GK, state3 ~ HHbar (adiabatic 1Sigma_g+ order); these two are less converged in this basis "
        "than X and EF (n=3 Rydberg character); higher roots (n>=3 Rydberg series) are not described by it",
        f"date: {datetime.date.today().isoformat()}; wall time {wall:.0f} s on {args.workers} processes "
        f"({cpu:.0f} s summed over points)",
        f"produced by: experiments/diatomic/compute_h2_curves.py; command: {command}",
        "columns: r " + " ".join(names),
    ]
    from hybridpot.io.curves import write_curves  # here: the PySCF workers need none of hybridpot

    write_curves(args.out, r_values, energies, header)

    x = energies[:, 0]
    i_x = np.argmin(x)
    print(f"wrote {args.out} ({len(r_values)} points, {args.nroots} states)")
    print(f"wall {wall:.1f} s on {args.workers} processes; {cpu / len(r_values):.2f} s per point")
    print(f"max <Lz^2> of kept roots {max_lz2:.1e}; points where a non-Sigma root was skipped: {skipped}")
    print(f"X minimum {x[i_x]:.6f} Eh at r = {r_values[i_x]} Å; X(r_max) = {x[-1]:.6f} Eh")
    if args.nroots > 1:
        ef = energies[:, 1]
        for label, window in (("inner", r_values < 1.6), ("outer", (r_values > 1.8) & (r_values < 3.5))):
            if window.any():
                k = np.argmin(ef[window])
                print(f"EF {label} minimum {ef[window][k]:.6f} Eh at {r_values[window][k]} Å")
    print("asymptotes (r_max):", " ".join(f"{n}={e:.6f}" for n, e in zip(names, energies[-1])))


if __name__ == "__main__":
    main()
