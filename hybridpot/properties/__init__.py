"""Materials properties from any potential: equation of state, elastic constants, phonons, thermal expansion.

Each is a derivative of one energy function. For a hybridpot potential (a model file or
:class:`~hybridpot.potentials.TrainedPotential`, or any ``energy_fn(params, graph)``) the derivatives are
exact, by JAX (:class:`GraphEnergySource`); for any ASE calculator they are central finite differences
(:class:`CalculatorSource`)::

    from ase.build import bulk
    from hybridpot.properties import elastic_constants, equation_of_state, phonons, quasi_harmonic

    atoms = bulk("Al", "fcc", a=4.05)
    eos = equation_of_state(atoms, "model.npz")                # V0, E0, B0, B0'
    c = elastic_constants(atoms, "model.npz")                  # C_ij (GPa), relaxed and unrelaxed
    ph = phonons(atoms, "model.npz")                           # force constants on a supercell
    bandpath, nu = ph.band_structure()                         # THz along the standard path
    qha = quasi_harmonic(atoms, "model.npz")                   # V(T), α(T), γ(T)

Å, eV, GPa, THz, K. See docs/properties.md.
"""

from hybridpot.properties.elastic import (
    ElasticConstants,
    born_stability,
    elastic_constants,
    elastic_from_derivatives,
    is_cubic,
)
from hybridpot.properties.eos import (
    BirchMurnaghan,
    birch_murnaghan_energy,
    equation_of_state,
    fit_birch_murnaghan,
)
from hybridpot.properties.phonons import (
    Phonons,
    check_supercell,
    default_mesh,
    frequencies_from_eigenvalues,
    harmonic_thermodynamics,
    monkhorst_pack_gamma,
    phonons,
    supercell_for_cutoff,
)
from hybridpot.properties.qha import quasi_harmonic
from hybridpot.properties.source import (
    CalculatorSource,
    CrystalDerivatives,
    GraphEnergySource,
    as_source,
    potential_source,
    voigt_strain,
)

__all__ = [
    "BirchMurnaghan",
    "CalculatorSource",
    "CrystalDerivatives",
    "ElasticConstants",
    "GraphEnergySource",
    "Phonons",
    "as_source",
    "birch_murnaghan_energy",
    "born_stability",
    "check_supercell",
    "default_mesh",
    "elastic_constants",
    "elastic_from_derivatives",
    "equation_of_state",
    "fit_birch_murnaghan",
    "frequencies_from_eigenvalues",
    "harmonic_thermodynamics",
    "is_cubic",
    "monkhorst_pack_gamma",
    "phonons",
    "potential_source",
    "quasi_harmonic",
    "supercell_for_cutoff",
    "voigt_strain",
]
