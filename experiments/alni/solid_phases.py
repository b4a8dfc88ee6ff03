"""Which solid NiAl does the trained Al–Ni hybrid (sm+bp) prefer? E(V) of four Ni₅₀Al₅₀ solids.

B2 (CsCl), L1₀ (CuAu layers on fcc, ideal c/a), a random fcc and a random bcc alloy (250/256 atoms,
one random occupation, atoms on their lattice sites: unrelaxed), and fcc Al and fcc Ni (whose mean
is the phase-separated Ni₅₀Al₅₀) are scaled isotropically over ±15 % of a guessed volume; the
energy per atom at each volume comes from the trained potential (ASE calculator) and from EMT
(ASE), the reference the model was fitted to. A parabola through the three lowest points gives the
minimum: equilibrium volume and energy per atom. Prints a table and writes ``--out`` (JSON)::

    python experiments/alni/solid_phases.py
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from md_jaxmd import trained_potential


def structures(seed: int = 0) -> dict:
    """``{name: (Atoms, guessed Å³/atom)}``: the four Ni₅₀Al₅₀ solids at 13.5 Å³/atom and fcc Al, fcc Ni
    (random alloys: one occupation drawn with ``seed``)."""
    from ase import Atoms
    from ase.build import bulk

    rng = np.random.default_rng(seed)
    a_bcc, a_fcc = (2 * 13.5) ** (1 / 3), (4 * 13.5) ** (1 / 3)
    b2 = bulk("NiAl", "cesiumchloride", a=a_bcc).repeat((5, 5, 5))
    l10 = Atoms("Ni2Al2", scaled_positions=[(0, 0, 0), (0.5, 0.5, 0), (0.5, 0, 0.5), (0, 0.5, 0.5)],
                cell=[a_fcc] * 3, pbc=True).repeat((4, 4, 4))
    fcc = l10.copy()
    fcc.numbers = rng.permutation(fcc.numbers)
    bcc = b2.copy()
    bcc.numbers = rng.permutation(bcc.numbers)
    return {"B2": (b2, 13.5), "L1_0": (l10, 13.5), "fcc random": (fcc, 13.5), "bcc random": (bcc, 13.5),
            "fcc Al": (bulk("Al", "fcc", a=4.05, cubic=True), 16.6), "fcc Ni": (bulk("Ni", "fcc", a=3.52, cubic=True), 10.9)}


def e_of_v(atoms, calc, volumes) -> np.ndarray:
    """Energy per atom (eV) of ``atoms`` scaled isotropically to each volume per atom (Å³) in ``volumes``."""
    out = []
    cell0 = atoms.get_cell()
    v0 = atoms.get_volume() / len(atoms)
    for v in volumes:
        a = atoms.copy()
        a.set_cell(cell0 * (v / v0) ** (1 / 3), scale_atoms=True)
        a.calc = calc
        out.append(a.get_potential_energy() / len(a))
    return np.asarray(out)


def minimum(volumes, energies) -> tuple[float, float]:
    """(V₀ Å³/atom, E₀ eV/atom) of the parabola through the lowest point and its neighbours."""
    i = int(np.clip(np.argmin(energies), 1, len(energies) - 2))
    c = np.polyfit(volumes[i - 1 : i + 2], energies[i - 1 : i + 2], 2)
    v0 = -c[1] / (2 * c[0])
    return float(v0), float(np.polyval(c, v0))


def main(argv=None):
    """Command line: prints the table and writes ``--out``."""
    from ase.calculators.emt import EMT

    from hybridpot.md import HybridpotCalculator

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=os.path.join("experiments", "alni", "results_solid_phases.json"))
    args = parser.parse_args(argv)
    calcs = {"sm+bp": HybridpotCalculator(trained_potential()), "EMT": EMT()}
    result = {"structures": {}}
    print(f"{'structure':12s} {'model':6s} {'V0 (Å³/atom)':>13s} {'E0 (eV/atom)':>13s}")
    for name, (atoms, guess) in structures().items():
        volumes = guess * np.linspace(0.85, 1.15, 11)
        result["structures"][name] = {"volumes_A3_atom": volumes.tolist()}
        for who, calc in calcs.items():
            e = e_of_v(atoms, calc, volumes)
            v0, e0 = minimum(volumes, e)
            result["structures"][name][who] = {"energy_eV_atom": e.tolist(), "v0_A3_atom": v0, "e0_eV_atom": e0}
            print(f"{name:12s} {who:6s} {v0:13.2f} {e0:13.4f}", flush=True)
    for who in calcs:
        pure = [result["structures"][f"fcc {el}"][who] for el in ("Al", "Ni")]
        e0, v0 = (float(np.mean([p[k] for p in pure])) for k in ("e0_eV_atom", "v0_A3_atom"))
        result["structures"].setdefault("fcc Al + fcc Ni (separated)", {})[who] = {"v0_A3_atom": v0, "e0_eV_atom": e0}
        print(f"{'Al + Ni':12s} {who:6s} {v0:13.2f} {e0:13.4f}")
    with open(args.out, "w") as fh:
        json.dump(result, fh, indent=1)


if __name__ == "__main__":
    main()
