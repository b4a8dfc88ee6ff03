"""All properties of one crystal as one JSON-ready report (what ``hybridpot properties`` writes), and the
relaxation that comes before it.

::

    report = property_report(atoms, "model.npz", what=("eos", "elastic", "phonons", "qha"))
    json.dump(report, open("properties.json", "w"))
"""

from __future__ import annotations

import numpy as np

from hybridpot.properties.elastic import elastic_constants
from hybridpot.properties.eos import equation_of_state
from hybridpot.properties.phonons import default_mesh, phonons
from hybridpot.properties.qha import quasi_harmonic
from hybridpot.properties.source import DEFAULT_FMAX, as_source

#: The properties :func:`property_report` knows, in the order it computes them.
PROPERTIES = ("eos", "elastic", "phonons", "qha")


def relax_crystal(atoms, calculator, *, fmax: float = 1e-4, cell: bool = True, steps: int = 500):
    """A copy of ``atoms`` relaxed with ASE's BFGS (atoms and, with ``cell``, the cell through ASE's
    ``FrechetCellFilter``) until forces are below ``fmax`` eV/Å (and stress × volume likewise).

    Raises:
        ValueError: not converged within ``steps``.
    """
    from ase.filters import FrechetCellFilter
    from ase.optimize import BFGS

    out = atoms.copy()
    out.calc = calculator
    target = FrechetCellFilter(out) if cell else out
    if not BFGS(target, logfile=None).run(fmax=fmax, steps=steps):
        raise ValueError(f"relaxation did not reach fmax={fmax:g} eV/Å in {steps} steps")
    out.calc = None
    return out


def property_report(atoms, model, what=PROPERTIES, *, supercell=None, mesh=None,
                    temperatures=np.arange(0.0, 1001.0, 20.0), fmax: float = DEFAULT_FMAX,
                    band_points: int = 150, member: int = 0) -> dict:
    """The properties ``what`` (names in :data:`PROPERTIES`) of a crystal, JSON-ready.

    Args:
        atoms: the relaxed unit cell (ASE ``Atoms``).
        model: a model file, ``TrainedPotential``, ASE calculator or source (:func:`hybridpot.properties.as_source`).
        what: which properties.
        supercell, mesh: of the phonons (None: twice the cutoff wide; :func:`~hybridpot.properties.phonons.default_mesh`).
        temperatures: ``[t]`` K of the harmonic thermodynamics and the QHA.
        fmax: largest residual force accepted, eV/Å.
        band_points: q points along the band path.
        member: ensemble member of a ``TrainedPotential``.
    Returns:
        dict with ``structure`` (formula, cell Å, volume Å³, energy eV) and one entry per property:
        ``eos`` (:func:`~hybridpot.properties.equation_of_state`), ``elastic``
        (:meth:`~hybridpot.properties.ElasticConstants.as_dict`), ``phonons`` (supercell, mesh,
        ``bands``: ``x``, ``special_x``, ``labels``, ``frequencies_THz [q, 3n]``; ``dos``; ``thermal``:
        :meth:`~hybridpot.properties.Phonons.thermal_properties`), ``qha``
        (:func:`~hybridpot.properties.quasi_harmonic`).
    Raises:
        ValueError: an unknown property name, and the errors of each property.
    """
    unknown = sorted(set(what) - set(PROPERTIES))
    if unknown:
        raise ValueError(f"unknown properties {unknown}; choose from {list(PROPERTIES)}")
    source = as_source(model, member=member)
    energy, _ = source.energy_forces(atoms)
    report = {"structure": {"formula": atoms.get_chemical_formula(), "n_atoms": len(atoms),
                            "cell_A": np.asarray(atoms.get_cell()).tolist(), "volume_A3": float(atoms.get_volume()),
                            "energy_eV": energy}}
    temperatures = np.asarray(temperatures, np.float64)
    mesh = default_mesh(atoms.get_cell()) if mesh is None else tuple(int(n) for n in mesh)
    if "eos" in what:
        report["eos"] = equation_of_state(atoms, source)
    if "elastic" in what:
        report["elastic"] = elastic_constants(atoms, source, fmax=fmax).as_dict()
    if "phonons" in what:
        ph = phonons(atoms, source, supercell, fmax=fmax)
        path, bands = ph.band_structure(npoints=band_points)
        x, special_x, labels = path.get_linear_kpoint_axis()
        grid, dos = ph.dos(mesh)
        report["phonons"] = {"supercell": list(ph.supercell), "mesh": list(mesh), "path": path.path,
                             "bands": {"x": x.tolist(), "special_x": special_x.tolist(), "labels": list(labels),
                                       "frequencies_THz": bands.tolist()},
                             "dos": {"frequencies_THz": grid.tolist(), "states_per_THz": dos.tolist()},
                             "thermal": ph.thermal_properties(temperatures, mesh)}
    if "qha" in what:
        report["qha"] = quasi_harmonic(atoms, source, temperatures, supercell=supercell, mesh=mesh, fmax=fmax)
    return report
