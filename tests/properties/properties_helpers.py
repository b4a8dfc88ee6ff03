"""Structures and potentials shared by the tests of hybridpot.properties."""

import functools

import numpy as np
from ase.build import bulk
from ase.calculators.emt import EMT

from hybridpot.potentials import EnergyNormalisation, TrainedPotential

#: EMT's interaction range in ASE: its neighbour-list radius ``EMT().rc_list`` (for Al, Ni and Al–Ni), Å.
EMT_CUTOFF = 5.88
#: Cleri–Rosato Al (PRB 48, 22, 1993) with a 5 Å envelope: the physics term of the test potential.
EAM_AL = {"kind": "embedded_atom", "species": [13], "cutoff": 5.0, "a": 0.1221, "p": 8.612, "xi": 1.316,
          "q": 2.516, "r0": 2.864}


def eam_hybrid() -> TrainedPotential:
    """Embedded atom + a random pair MLP (scale 0.05 eV): a hybridpot potential with a learned part."""
    return TrainedPotential.from_init("pair_mlp", {"cutoff": 5.0, "species": [13], "hidden": [8], "dtype": "float64"},
                                      physics=EAM_AL, normalisation=EnergyNormalisation(np.zeros(119), np.asarray(0.05)))


@functools.lru_cache(maxsize=None)
def emt_lattice_constant(symbol: str) -> float:
    """EMT's fcc lattice constant, Å, from the Birch–Murnaghan minimum of ase.eos (independent of hybridpot)."""
    from ase.eos import EquationOfState

    volumes, energies = [], []
    for s in np.linspace(0.97, 1.03, 9):
        atoms = bulk(symbol, "fcc", a=s * {"Al": 4.05, "Ni": 3.52}[symbol], cubic=True)
        atoms.calc = EMT()
        volumes.append(atoms.get_volume())
        energies.append(atoms.get_potential_energy())
    v0, _, _ = EquationOfState(volumes, energies, eos="birchmurnaghan").fit()
    return float(v0 ** (1 / 3))


@functools.lru_cache(maxsize=None)
def eam_lattice_constant() -> float:
    """The fcc lattice constant of :func:`eam_hybrid`, Å (minimum of its energy by scipy)."""
    from scipy.optimize import minimize_scalar

    from hybridpot.properties import as_source

    source = as_source(eam_hybrid())
    return float(minimize_scalar(lambda a: source.energy_forces(bulk("Al", "fcc", a=a))[0], bounds=(3.8, 4.1),
                                 method="bounded", options={"xatol": 1e-7}).x)
