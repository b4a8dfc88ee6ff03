r"""Equation of state: an energy–volume scan and the third-order Birch–Murnaghan fit.

.. math::
    E(V) = E_0 + \frac{9 V_0 B_0}{16}\Big\{\big[\eta^2 - 1\big]^3 B_0' + \big[\eta^2 - 1\big]^2\big[6 - 4\eta^2\big]\Big\},
    \qquad \eta = (V_0 / V)^{1/3}

(Birch, Phys. Rev. 71, 809, 1947); V₀ Å³, E₀ eV, B₀ eV/Å³ (reported in GPa), B₀' dimensionless.
The same fit serves the free energies of the quasi-harmonic approximation (:mod:`hybridpot.properties.qha`).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from ase import units

from hybridpot.properties.source import as_source, check_periodic


class BirchMurnaghan(NamedTuple):
    """Birch–Murnaghan parameters: ``e0`` eV, ``v0`` Å³, ``b0`` eV/Å³, ``b0_prime`` (dimensionless)."""

    e0: float
    v0: float
    b0: float
    b0_prime: float

    @property
    def b0_GPa(self) -> float:
        """B₀ in GPa."""
        return self.b0 / units.GPa

    def energy(self, volume) -> np.ndarray:
        """E(V) eV at ``volume`` (any shape) Å³."""
        return birch_murnaghan_energy(volume, *self)


def birch_murnaghan_energy(volume, e0, v0, b0, b0_prime):
    """Third-order Birch–Murnaghan E(V) (module equation): ``volume`` Å³ (any shape) → eV."""
    eta2 = (v0 / np.asarray(volume, np.float64)) ** (2.0 / 3.0)
    return e0 + 9.0 * v0 * b0 / 16.0 * ((eta2 - 1.0) ** 3 * b0_prime + (eta2 - 1.0) ** 2 * (6.0 - 4.0 * eta2))


def fit_birch_murnaghan(volumes, energies) -> BirchMurnaghan:
    """Least-squares Birch–Murnaghan fit of ``energies: [k]`` eV at ``volumes: [k]`` Å³ (k ≥ 4).

    Starts from a parabola in V. Raises ``ValueError`` when the data have no minimum inside the
    scanned volumes (scan wider, or around the structure's equilibrium).
    """
    from scipy.optimize import curve_fit

    v = np.asarray(volumes, np.float64)
    e = np.asarray(energies, np.float64)
    if v.shape != e.shape or v.ndim != 1 or v.size < 4:
        raise ValueError(f"Birch–Murnaghan fit needs at least 4 (volume, energy) pairs, got {v.shape} and {e.shape}")
    a, b, c = np.polyfit(v, e, 2)
    if a <= 0 or not v.min() <= -b / (2 * a) <= v.max():
        raise ValueError(f"the energies have no minimum inside the scanned volumes {v.min():.4g}–{v.max():.4g} Å³; "
                         "scan around the equilibrium volume (relax the structure first)")
    v0 = -b / (2 * a)
    guess = (a * v0**2 + b * v0 + c, v0, 2 * a * v0, 4.0)
    p, _ = curve_fit(birch_murnaghan_energy, v, e, p0=guess, maxfev=20000)
    fit = BirchMurnaghan(*map(float, p))
    if not v.min() <= fit.v0 <= v.max():
        raise ValueError(f"the Birch–Murnaghan minimum V0 = {fit.v0:.4g} Å³ lies outside the scanned volumes "
                         f"{v.min():.4g}–{v.max():.4g} Å³; scan around the equilibrium volume")
    return fit


def scaled(atoms, linear_strain: float):
    """A copy of ``atoms`` with the cell and the atoms scaled by 1 + ``linear_strain`` (fractional coordinates kept)."""
    out = atoms.copy()
    out.set_cell(np.asarray(atoms.get_cell()) * (1.0 + linear_strain), scale_atoms=True)
    return out


def equation_of_state(atoms, model, strains=np.linspace(-0.02, 0.02, 9), *, member: int = 0) -> dict:
    """Energy–volume scan of a crystal under isotropic strain and its Birch–Murnaghan fit.

    Args:
        atoms: ASE ``Atoms``, periodic in x, y, z.
        model: a model file, ``TrainedPotential``, ASE calculator or source (:func:`hybridpot.properties.as_source`).
        strains: linear strains of the scan (cell × (1 + s), fractional coordinates kept: internal
            coordinates are not relaxed; ``max_force_eV_per_A`` says how far from relaxed they are).
            B₀ is a fit over this range: it tends to the curvature at V₀ as the range shrinks.
        member: ensemble member of a ``TrainedPotential``.
    Returns:
        dict: ``volumes_A3 [k]``, ``energies_eV [k]`` (per cell), ``max_force_eV_per_A``, the fit
        ``v0_A3``, ``e0_eV``, ``b0_GPa``, ``b0_prime`` and ``scale_to_v0`` (the linear factor that takes
        the cell to V₀).
    """
    check_periodic(atoms, "an equation of state")
    source = as_source(model, member=member)
    volumes, energies, fmax = [], [], 0.0
    for s in np.asarray(strains, np.float64):
        a = scaled(atoms, float(s))
        e, f = source.energy_forces(a)
        volumes.append(a.get_volume())
        energies.append(e)
        fmax = max(fmax, float(np.max(np.linalg.norm(f, axis=1))))
    fit = fit_birch_murnaghan(volumes, energies)
    return {"volumes_A3": volumes, "energies_eV": energies, "max_force_eV_per_A": fmax, "v0_A3": fit.v0,
            "e0_eV": fit.e0, "b0_GPa": fit.b0_GPa, "b0_prime": fit.b0_prime,
            "scale_to_v0": float((fit.v0 / atoms.get_volume()) ** (1.0 / 3.0))}
