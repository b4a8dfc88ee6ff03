r"""Quasi-harmonic thermal expansion: phonons at several volumes plus the static energy.

At each volume V_k (the cell scaled isotropically) the free energy per cell is

.. math::
    F(V_k, T) = E_\text{static}(V_k) + F_\text{vib}(V_k, T)

(:mod:`hybridpot.properties.phonons`); a Birch–Murnaghan fit in V at each T (:mod:`hybridpot.properties.eos`)
gives the equilibrium V(T) and the isothermal B(T). The linear expansion coefficient is
α(T) = (1/3V) dV/dT (central differences over the temperature grid). Mode Grüneisen parameters
γ_{qs} = −∂ ln ν_{qs} / ∂ ln V come from a straight-line fit of ln ν against ln V over the volumes
(branches sorted by frequency at each q, so crossings between volumes mix them), and their
heat-capacity weighted mean γ(T) = Σ γ_{qs} C_{qs} / Σ C_{qs} is the thermodynamic Grüneisen
parameter of the Grüneisen relation α_V = γ C_V / (B V).

The internal coordinates are not relaxed at the scaled volumes: this is exact for crystals whose
atoms sit at sites fixed by symmetry (fcc, bcc, B2, L1₂...); for others the residual forces are
checked against ``fmax`` at every volume.
"""

from __future__ import annotations

import numpy as np
from ase import units

from hybridpot.properties.eos import fit_birch_murnaghan, scaled
from hybridpot.properties.phonons import (
    DEFAULT_MIN_FREQUENCY,
    EV_PER_THZ,
    default_mesh,
    harmonic_thermodynamics,
    mode_terms,
    phonons,
    supercell_for_cutoff,
)
from hybridpot.properties.source import DEFAULT_FMAX, as_source, check_periodic


def quasi_harmonic(atoms, model, temperatures=np.arange(0.0, 1001.0, 20.0), *,
                   strains=np.linspace(-0.01, 0.05, 7), supercell=None, mesh=None,
                   fmax: float = DEFAULT_FMAX, min_frequency: float = DEFAULT_MIN_FREQUENCY,
                   member: int = 0) -> dict:
    """Thermal expansion of a crystal in the quasi-harmonic approximation (module equations).

    Args:
        atoms: the relaxed unit cell (ASE ``Atoms``, periodic in x, y, z).
        model: a model file, ``TrainedPotential``, ASE calculator or source (:func:`hybridpot.properties.as_source`).
        temperatures: ``[t]`` K, ascending, evenly spaced or not.
        strains: linear strains of the volumes (≥ 4; cell × (1 + s)); they must bracket V(T).
        supercell: of the phonons (None: twice the cutoff wide at the smallest volume).
        mesh: Γ-centred q mesh (None: :func:`~hybridpot.properties.phonons.default_mesh`).
        fmax: largest residual force accepted at every volume, eV/Å.
        min_frequency: THz; modes below are left out of the thermodynamics.
        member: ensemble member of a ``TrainedPotential``.
    Returns:
        dict: ``volumes_A3 [k]``, ``static_energies_eV [k]``, ``free_energies_eV [k, t]`` (F(V_k, T)),
        ``temperature_K [t']``, ``volume_A3 [t']`` (V(T)), ``lattice_scale [t']`` ((V(T)/V_atoms)^(1/3), V_atoms the given cell's),
        ``bulk_modulus_GPa [t']``, ``linear_expansion_per_K [t']`` (α), ``gruneisen [t']`` (γ(T); 0 at
        T = 0), ``mode_gruneisen_mean`` (plain mean over the modes), ``n_imaginary [k]`` per volume,
        ``left_out_temperatures_K`` (those whose V(T) falls outside the volumes: t' ≤ t), ``mesh``,
        ``supercell``.
    Raises:
        ValueError: bad input as for :func:`~hybridpot.properties.phonons.phonons`, fewer than 4
            volumes, a static energy without a minimum among the volumes.
    """
    check_periodic(atoms, "the quasi-harmonic approximation")
    strains = np.sort(np.asarray(strains, np.float64))
    temperatures = np.asarray(temperatures, np.float64)
    if strains.size < 4:
        raise ValueError(f"the quasi-harmonic approximation needs at least 4 volumes, got {strains.size}")
    if temperatures.size < 3 or np.any(np.diff(temperatures) <= 0):
        raise ValueError("temperatures must be at least 3 ascending values, K")
    source = as_source(model, member=member)
    smallest = scaled(atoms, float(strains[0]))
    if supercell is None:
        if source.cutoff is None:
            raise ValueError("quasi-harmonic: give supercell=(n1, n2, n3), or a source with a cutoff to choose one")
        supercell = supercell_for_cutoff(smallest.get_cell(), source.cutoff)
    mesh = default_mesh(atoms.get_cell()) if mesh is None else tuple(int(n) for n in mesh)
    volumes, static, free, ln_nu, mesh_nu, n_imag = [], [], [], [], [], []
    for s in strains:
        a = scaled(atoms, float(s))
        e, _ = source.energy_forces(a)
        nu = phonons(a, source, supercell, fmax=fmax).mesh_frequencies(mesh)
        thermo = harmonic_thermodynamics(nu, temperatures, min_frequency=min_frequency)
        volumes.append(a.get_volume())
        static.append(e)
        free.append(e + np.asarray(thermo["free_energy_eV"]))
        ln_nu.append(np.log(np.clip(nu, min_frequency, None)))
        n_imag.append(thermo["n_imaginary"])
        mesh_nu.append(nu)
    volumes, free = np.asarray(volumes), np.asarray(free)
    fit_birch_murnaghan(volumes, static)  # a static minimum inside the scan, or a clear error

    v_t, b_t, kept = [], [], []
    for i, t in enumerate(temperatures):
        try:
            fit = fit_birch_murnaghan(volumes, free[:, i])
        except ValueError:
            break  # V(T) left the scanned volumes: every hotter T is left out too
        v_t.append(fit.v0)
        b_t.append(fit.b0_GPa)
        kept.append(t)
    if len(kept) < 3:
        raise ValueError("V(T) leaves the scanned volumes below the third temperature; scan larger strains")
    v_t, kept = np.asarray(v_t), np.asarray(kept)
    alpha = np.gradient(v_t, kept) / (3 * v_t)

    # mode Grüneisen parameters: slope of ln ν against ln V at every (q, branch), real modes at every volume
    ln_v = np.log(volumes)
    ln_nu = np.asarray(ln_nu)  # [k, n_q, modes]
    slope = np.polyfit(ln_v - ln_v.mean(), ln_nu.reshape(len(volumes), -1), 1)[0].reshape(ln_nu.shape[1:])
    gamma = -slope
    middle = np.asarray(mesh_nu[len(volumes) // 2])
    real = np.all(np.asarray(mesh_nu) > min_frequency, axis=0)
    x = np.where(real, middle, 1.0) * EV_PER_THZ / (units.kB * np.where(kept > 0, kept, 1.0))[:, None, None]
    c = np.where(real & (kept > 0)[:, None, None], mode_terms(x)[2], 0.0)
    weight = c.sum(axis=(1, 2))
    gamma_t = np.where(weight > 0, (c * gamma).sum(axis=(1, 2)) / np.where(weight > 0, weight, 1.0), 0.0)
    return {
        "volumes_A3": volumes.tolist(), "static_energies_eV": list(map(float, static)),
        "free_energies_eV": free.tolist(), "temperature_K": kept.tolist(), "volume_A3": v_t.tolist(),
        "lattice_scale": ((v_t / atoms.get_volume()) ** (1 / 3)).tolist(), "bulk_modulus_GPa": b_t,
        "linear_expansion_per_K": alpha.tolist(), "gruneisen": gamma_t.tolist(),
        "mode_gruneisen_mean": float(gamma[real].mean()), "n_imaginary": n_imag,
        "left_out_temperatures_K": temperatures[len(kept):].tolist(), "mesh": list(mesh),
        "supercell": list(supercell),
    }
