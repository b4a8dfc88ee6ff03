"""Short-range test set for the MD17 hybrids: compressed bonds and close contacts, labelled by PySCF.

For each molecule, one held-back rMD17 frame (the first test frame of ``protocol_split``, never
seen in training or validation) is distorted into scans:

* each bond of ``BONDS`` (the shortest bond of that element pair) compressed from its length in
  the frame to 0.5 Å in 6 equal steps, by translating the smaller of the two fragments the bond
  joins rigidly along the bond axis (the moved atom alone when the bond is in a ring);
* one close contact: the two atoms three or more bonds apart that are nearest in the frame (1–4
  pairs and beyond), one of them (the lighter, and of equals the later index) moved alone towards
  the other down to ``CONTACT_MIN`` Å in 6 steps.

Each geometry is labelled at the rMD17 level, PBE/def2-SVP with RI-J in PySCF (the settings of
``experiments/delta/label_xtb.py``, which reproduces the shipped rMD17 labels to 0.02 meV after a
0.8 meV offset), energy eV and forces eV/Å, and written with its provenance to
``experiments/md17/short_range_set.json`` (after each molecule; a rerun keeps the molecules
already there, so an interrupted run resumes). Geometries whose plain SCF fails are converged by
second-order SCF, flagged per point in ``second_order_scf``::

    nice -n 10 python experiments/md17/short_range_set.py --molecules ethanol malonaldehyde

It needs the shared MD17 files (``shared/data/md17``) and the ``pyscf`` extra.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time

import numpy as np
from ase.data import atomic_masses

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "experiments", "md17", "short_range_set.json")
#: Element pairs whose shortest bond is compressed, per molecule.
#: (rMD17 malonaldehyde is the dialdehyde OHC–CH₂–CHO: no O–H bond.)
BONDS = {"ethanol": [(6, 1), (8, 1), (6, 6), (6, 8)], "malonaldehyde": [(6, 1), (6, 6), (6, 8)]}
#: The shortest compressed bond length and the closest contact, Å; points per scan (after the frame).
BOND_MIN, CONTACT_MIN, STEPS = 0.5, 0.75, 6


def bonds_of(numbers: np.ndarray, positions: np.ndarray, scale: float = 1.2) -> set[tuple[int, int]]:
    """Covalent bonds ``{(i, j), i < j}``: pairs closer than ``scale`` × the sum of ASE's covalent radii."""
    from ase.data import covalent_radii

    d = np.linalg.norm(positions[:, None] - positions[None], axis=-1)
    limit = scale * (covalent_radii[numbers][:, None] + covalent_radii[numbers][None])
    i, j = np.nonzero(np.triu(d < limit, 1))
    return set(zip(i.tolist(), j.tolist()))


def _adjacency(bonds: set, n: int, cut: tuple[int, int] | None = None):
    """Sparse ``[n, n]`` adjacency of ``bonds``, without the bond ``cut``."""
    from scipy.sparse import coo_matrix

    edges = [b for b in bonds if cut is None or set(b) != set(cut)]
    i, j = np.array(edges, dtype=int).reshape(-1, 2).T
    return coo_matrix((np.ones(len(i)), (i, j)), shape=(n, n)).tocsr()


def _component(start: int, bonds: set, n: int, cut: tuple[int, int]) -> set[int]:
    """Atoms reachable from ``start`` over ``bonds`` without crossing the bond ``cut``."""
    from scipy.sparse.csgraph import connected_components

    _, label = connected_components(_adjacency(bonds, n, cut), directed=False)
    return set(np.flatnonzero(label == label[start]).tolist())


def bond_graph_distance(bonds: set, n: int) -> np.ndarray:
    """``[n, n]`` number of bonds on the shortest path between atoms (inf when not connected)."""
    from scipy.sparse.csgraph import shortest_path

    return shortest_path(_adjacency(bonds, n), directed=False, unweighted=True)


def compress(positions: np.ndarray, moved: list[int], anchor: int, mover: int, distances) -> np.ndarray:
    """``[len(distances), n, 3]`` Å: ``moved`` atoms translated along anchor→mover until |r_mover − r_anchor| = d."""
    u = positions[mover] - positions[anchor]
    d0 = np.linalg.norm(u)
    out = np.repeat(positions[None], len(distances), axis=0)
    for k, d in enumerate(distances):
        out[k, moved] += (d - d0) * u / d0
    return out


def scans(numbers: np.ndarray, positions: np.ndarray, pairs) -> list[dict]:
    """The bond scans of ``pairs`` (element pairs) and one close-contact scan of one frame."""
    n = len(numbers)
    bonds = bonds_of(numbers, positions)
    dist = np.linalg.norm(positions[:, None] - positions[None], axis=-1)
    out = []
    for za, zb in pairs:
        cands = [(i, j) if numbers[i] == za else (j, i) for i, j in bonds
                 if {int(numbers[i]), int(numbers[j])} == {za, zb}]
        if not cands:
            raise ValueError(f"no {za}-{zb} bond in this frame")
        i, j = min(cands, key=lambda b: dist[b])
        side_j = _component(j, bonds, n, (i, j))
        if i in side_j:  # a ring: the atom alone
            moved = [j]
        else:
            side_i = set(range(n)) - side_j
            if len(side_i) < len(side_j):
                i, j, side_j = j, i, side_i
            moved = sorted(side_j)
        d0 = float(dist[i, j])
        out.append({"kind": "bond", "atoms": [int(i), int(j)], "moved": [int(a) for a in moved],
                    "distances": np.linspace(d0, BOND_MIN, STEPS + 1)[1:].tolist(), "d0": d0})
    graph = bond_graph_distance(bonds, n)
    far = np.argwhere(np.triu(graph >= 3, 1))
    pair = min(map(tuple, far), key=lambda p: dist[p])
    j = min(pair, key=lambda a: (atomic_masses[numbers[a]], -a))  # the lighter moves; of equals the later
    i = pair[0] if j == pair[1] else pair[1]
    d0 = float(dist[i, j])
    out.append({"kind": "contact", "atoms": [int(i), int(j)], "moved": [int(j)],
                "distances": np.linspace(d0, CONTACT_MIN, STEPS + 1)[1:].tolist(), "d0": d0})
    return out


def label(molecules, shared_dir=None, out: str = OUT) -> dict:
    """Build and label the scans of every molecule, writing ``out`` after each one; molecules already
    in ``out`` (with the same settings) are kept, so an interrupted run resumes. Returns the content."""
    from importlib.metadata import version

    sys.path.insert(0, os.path.join(ROOT, "experiments", "delta"))
    from label_xtb import PYSCF_SETTINGS, pbe_def2svp

    from hybridpot.io.md17 import load_md17, protocol_split

    result = {"settings": PYSCF_SETTINGS, "pyscf": version("pyscf"), "python": platform.python_version(),
              "units": {"positions": "Å", "energy": "eV", "forces": "eV/Å"}, "molecules": {}}
    if os.path.exists(out):
        with open(out) as f:
            stored = json.load(f)
        if stored.get("settings") == PYSCF_SETTINGS:
            result["molecules"] = stored["molecules"]
    for mol in molecules:
        if mol in result["molecules"]:
            continue
        frames = load_md17(mol, labels="rmd17", shared_dir=shared_dir)
        _, _, test = protocol_split(frames.n_frames, 1000, 1000)
        k = int(test[0])
        numbers, frame = frames.numbers, frames.positions[k]
        t0 = time.time()
        e0, f0, _ = pbe_def2svp(numbers, frame)
        entry = {"argv": sys.argv, "file_row": k, "md17_index": int(frames.index[k]), "numbers": numbers.tolist(),
                 "positions": frame.tolist(), "energy": e0, "forces": f0.tolist(),
                 "rmd17_energy": float(frames.energy[k]), "scans": []}
        for scan in scans(numbers, frame, BONDS[mol]):
            pos = compress(frame, scan["moved"], *scan["atoms"], scan["distances"])
            labels = [pbe_def2svp(numbers, p) for p in pos]
            scan.update(positions=pos.tolist(), energy=[e for e, _, _ in labels],
                        forces=[f.tolist() for _, f, _ in labels], second_order_scf=[n for _, _, n in labels])
            entry["scans"].append(scan)
            print(f"{mol} {scan['kind']} {scan['atoms']}: {time.time() - t0:.0f} s", flush=True)
        entry["seconds"] = time.time() - t0
        result["molecules"][mol] = entry
        tmp = out + ".tmp"
        with open(tmp, "w") as f:
            json.dump(result, f, indent=1)
        os.replace(tmp, out)
    return result


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--molecules", nargs="+", default=["ethanol", "malonaldehyde"], choices=sorted(BONDS))
    p.add_argument("--shared-dir", default=None, help="the shared md17 folder (default: beside the repo)")
    p.add_argument("--out", default=OUT)
    args = p.parse_args(argv)
    r = label(args.molecules, args.shared_dir, args.out)
    for mol, entry in r["molecules"].items():
        print(f"{mol}: frame {entry['file_row']}, {sum(len(s['distances']) for s in entry['scans']) + 1} single points, "
              f"{entry['seconds']:.0f} s; E_PySCF − E_rMD17 = {1000 * (entry['energy'] - entry['rmd17_energy']):.2f} meV")


if __name__ == "__main__":
    main()
