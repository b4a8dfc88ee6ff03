r"""Harmonic phonons: force constants on a supercell, the dynamical matrix at any q, bands, DOS, thermodynamics.

The force constants Φ_{iα,jβ} = ∂²E/∂R_{iα}∂R_{jβ} (eV/Å²) of the atoms i of the unit cell against every
atom j of a supercell (unit cell × ``supercell``) come from the source (exact forward-over-reverse
derivatives of a hybridpot potential, finite differences of an ASE calculator). The mass-weighted
dynamical matrix at the wavevector q (fractional coordinates of the unit cell's reciprocal lattice) is

.. math::
    D_{a\alpha, b\beta}(\mathbf q) = \frac{1}{\sqrt{m_a m_b}} \sum_{j \to b} \Phi_{a\alpha, j\beta}
    \sum_{\mathbf d \in \mathrm{MI}(a, j)} \frac{e^{2\pi i\, \mathbf q \cdot \mathbf d}}{|\mathrm{MI}(a, j)|}

where MI(a, j) are the shortest periodic images (of the supercell) of the vector from a to j, in
fractional coordinates of the unit cell, shared equally when several are equally short (the
convention of phonopy). Its eigenvalues λ give the frequencies ν = √λ / 2π (THz); an imaginary mode
(λ < 0) is reported as the negative frequency −√|λ| / 2π, the usual convention, never as NaN.

Harmonic thermodynamics per unit cell from frequencies on a Γ-centred q mesh (x = hν / k_B T):

.. math::
    F = \frac{1}{N_q}\sum_{q s} \Big[\tfrac12 h\nu + k_B T \ln(1 - e^{-x})\Big],\quad
    S = \frac{k_B}{N_q}\sum_{q s}\Big[\frac{x}{e^x - 1} - \ln(1 - e^{-x})\Big],\quad
    C_V = \frac{k_B}{N_q}\sum_{q s} \frac{x^2 e^x}{(e^x - 1)^2}

over real modes above ``min_frequency`` (the acoustic modes at Γ and imaginary modes are left out and
counted).

Why not phonopy: it is an optional extra here (``pip install hybridpot[phonopy]``); the few lines
below need only numpy, and the tests check them against phonopy on the same force constants.
"""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
from ase import units

from hybridpot.properties.source import DEFAULT_FMAX, as_source, check_periodic, check_relaxed

#: √(eV / (Å² amu)) in THz (cycles per second): ν = √λ · this / (2π).
THZ_PER_SQRT_EV_A2_AMU = float(np.sqrt(units._e / units._amu) * 1e10 / (2 * np.pi) / 1e12)
#: One THz as an energy hν, eV.
EV_PER_THZ = float(units._hplanck * 1e12 / units._e)
#: Frequencies below this (THz) count as zero (acoustic modes at Γ) in the thermodynamics.
DEFAULT_MIN_FREQUENCY = 1e-2


def perpendicular_widths(cell) -> np.ndarray:
    """``[3]`` Å: distances between opposite faces of the cell ``[3, 3]`` (rows are lattice vectors)."""
    cell = np.asarray(cell, np.float64)
    volume = abs(np.linalg.det(cell))
    return np.array([volume / np.linalg.norm(np.cross(cell[(k + 1) % 3], cell[(k + 2) % 3])) for k in range(3)])


def supercell_for_cutoff(cell, cutoff: float) -> tuple[int, int, int]:
    """The smallest diagonal repetition ``(n1, n2, n3)`` of ``cell`` (``[3, 3]`` Å) at least 2 × ``cutoff`` (Å)
    wide in every direction."""
    return tuple(int(n) for n in np.ceil(2 * float(cutoff) / perpendicular_widths(cell) - 1e-9).clip(min=1))


def check_supercell(cell, supercell, cutoff: float | None) -> None:
    """``ValueError`` when the supercell (``cell`` ``[3, 3]`` Å repeated ``supercell`` times) is narrower
    than 2 × ``cutoff`` Å in some direction: an atom would then interact with its own periodic images
    and the force constants within the cutoff would not be unique."""
    if cutoff is None:
        return
    widths = perpendicular_widths(np.asarray(cell) * np.asarray(supercell)[:, None])
    if widths.min() < 2 * float(cutoff) - 1e-9:
        need = supercell_for_cutoff(cell, cutoff)
        raise ValueError(f"supercell {tuple(supercell)} is too small for the cutoff {cutoff:g} Å: its widths "
                         f"{np.round(widths, 3).tolist()} Å must all be at least 2 × cutoff = {2 * cutoff:g} Å; use at "
                         f"least {need}")


def _minimum_images(unit, supercell):
    """Fractional image vectors ``[n, N, m, 3]`` (unit-cell coordinates) and weights ``[n, N, m]`` of the
    shortest images of every vector from unit-cell atom a to supercell atom j (zero weight: padding)."""
    n = len(unit)
    cell = np.asarray(unit.get_cell())
    rep = np.asarray(supercell)
    big = np.asarray(unit.get_cell()) * rep[:, None]
    positions = unit.repeat(tuple(rep)).get_positions()
    shifts = np.array(list(itertools.product((-1, 0, 1), repeat=3))) @ big
    frac = (positions[None, :] - positions[:n, None]) @ np.linalg.inv(big)
    nearest = (frac - np.round(frac)) @ big  # wrapped into the supercell, so ±1 supercell shifts reach every image
    d = nearest[:, :, None, :] + shifts[None, None]  # [n, N, 27, 3]
    length = np.linalg.norm(d, axis=-1)
    shortest = length.min(axis=-1, keepdims=True)
    chosen = length <= shortest + 1e-5 * max(1.0, float(np.max(perpendicular_widths(big))))
    m = int(chosen.sum(axis=-1).max())
    order = np.argsort(~chosen, axis=-1, kind="stable")[..., :m]
    vectors = np.take_along_axis(d, order[..., None], axis=2) @ np.linalg.inv(cell)
    keep = np.take_along_axis(chosen, order, axis=2)
    weights = keep / keep.sum(axis=-1, keepdims=True)
    return vectors, weights


def frequencies_from_eigenvalues(eigenvalues) -> np.ndarray:
    """THz from eigenvalues of the dynamical matrix (eV/(Å² amu)): √λ/2π, negative (−√|λ|/2π) for λ < 0."""
    lam = np.asarray(eigenvalues, np.float64)
    return np.sign(lam) * np.sqrt(np.abs(lam)) * THZ_PER_SQRT_EV_A2_AMU


def default_mesh(cell, density: float = 30.0) -> tuple[int, int, int]:
    """A Γ-centred q mesh ``(n1, n2, n3)`` with n_k · |a_k| ≥ ``density`` Å for the cell ``[3, 3]`` Å."""
    return tuple(int(n) for n in np.ceil(float(density) / np.linalg.norm(np.asarray(cell), axis=1)))


def monkhorst_pack_gamma(mesh) -> np.ndarray:
    """``[n1·n2·n3, 3]`` Γ-centred q mesh, fractional coordinates in [-½, ½)."""
    axes = [(np.arange(k) / k + 0.5) % 1.0 - 0.5 for k in mesh]
    return np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)


@dataclasses.dataclass(frozen=True, eq=False)
class Phonons:
    """Harmonic phonons of one crystal from its supercell force constants.

    Attributes:
        unit: the unit cell (ASE ``Atoms``; masses from it).
        supercell: repetitions ``(n1, n2, n3)`` of the unit cell the force constants were taken on.
        force_constants: ``[n, 3, N, 3]`` eV/Å², unit-cell atom a against supercell atom j
            (ASE ``repeat`` order: j = cell · n + b).
    """

    unit: object
    supercell: tuple[int, int, int]
    force_constants: np.ndarray

    def __post_init__(self):
        vectors, weights = _minimum_images(self.unit, self.supercell)
        object.__setattr__(self, "_vectors", vectors)
        object.__setattr__(self, "_weights", weights)

    @property
    def n_modes(self) -> int:
        """Branches: 3 × atoms of the unit cell."""
        return 3 * len(self.unit)

    def dynamical_matrix(self, q) -> np.ndarray:
        """``[k, 3n, 3n]`` complex, eV/(Å² amu), at ``q: [k, 3]`` (or ``[3]``) fractional coordinates of the
        unit cell's reciprocal lattice (the module's equation), Hermitian."""
        q = np.atleast_2d(np.asarray(q, np.float64))
        n = len(self.unit)
        phase = np.einsum("anmx,kx->kanm", self._vectors, 2 * np.pi * q)
        factor = np.einsum("kanm,anm->kan", np.exp(1j * phase), self._weights)  # [k, n, N]
        cells = factor.shape[-1] // n
        fc = self.force_constants.reshape(n, 3, cells, n, 3)
        d = np.einsum("xacb,aicbj->xaibj", factor.reshape(-1, n, cells, n), fc).reshape(-1, 3 * n, 3 * n)
        inv_sqrt_m = np.repeat(1 / np.sqrt(self.unit.get_masses()), 3)
        d = d * inv_sqrt_m[None, :, None] * inv_sqrt_m[None, None, :]
        return 0.5 * (d + np.conj(np.swapaxes(d, -1, -2)))

    def frequencies(self, q) -> np.ndarray:
        """``[k, 3n]`` THz at ``q: [k, 3]`` (fractional), ascending; imaginary modes negative."""
        return frequencies_from_eigenvalues(np.linalg.eigvalsh(self.dynamical_matrix(q)))

    def band_structure(self, path: str | None = None, npoints: int = 120):
        """Frequencies along a path of high-symmetry points of the unit cell's lattice.

        Args:
            path: special-point string (e.g. ``"GXWKGLUWLK,UX"``); None: ASE's standard path of the
                Bravais lattice (``cell.bandpath``, Setyawan & Curtarolo 2010).
            npoints: q points along the path.
        Returns:
            ``(bandpath, frequencies [npoints, 3n] THz)``; ``bandpath.get_linear_kpoint_axis()`` gives
            the x axis and the labels.
        """
        bp = self.unit.cell.bandpath(path, npoints=npoints)
        return bp, self.frequencies(bp.kpts)

    def mesh_frequencies(self, mesh) -> np.ndarray:
        """``[n1·n2·n3, 3n]`` THz on the Γ-centred mesh ``(n1, n2, n3)``."""
        return self.frequencies(monkhorst_pack_gamma(mesh))

    def dos(self, mesh, *, width: float = 0.1, n_points: int = 400):
        """Phonon density of states per unit cell, Gaussian-broadened (``width`` THz) on the ``mesh``.

        Returns:
            ``(frequencies [n_points] THz, dos [n_points] states/THz)``; it integrates to 3n.
        """
        nu = self.mesh_frequencies(mesh).ravel()
        grid = np.linspace(min(nu.min(), 0.0) - 3 * width, nu.max() + 3 * width, n_points)
        g = np.exp(-0.5 * ((grid[:, None] - nu[None]) / width) ** 2).sum(axis=1)
        return grid, g / (np.sqrt(2 * np.pi) * width * (nu.size / self.n_modes))

    def thermal_properties(self, temperatures, mesh, *, min_frequency: float = DEFAULT_MIN_FREQUENCY) -> dict:
        """Harmonic free energy, entropy and heat capacity per unit cell (module equations).

        Args:
            temperatures: ``[t]`` K (≥ 0).
            mesh: Γ-centred q mesh ``(n1, n2, n3)``.
            min_frequency: THz; modes below are left out (and counted).
        Returns:
            dict: ``temperature_K [t]``, ``free_energy_eV [t]``, ``entropy_eV_per_K [t]``,
            ``heat_capacity_eV_per_K [t]`` (C_V), ``zero_point_energy_eV``, ``n_imaginary`` (modes below
            −``min_frequency`` on the mesh), ``min_frequency_THz`` (the lowest, negative if imaginary).
        """
        return harmonic_thermodynamics(self.mesh_frequencies(mesh), temperatures, min_frequency=min_frequency)


def mode_terms(x):
    """Per-mode ln(1 − e^{−x}), x/(e^x − 1) and C_V/k_B = x² e^{−x}/(1 − e^{−x})² at x = hν/k_BT > 0 (any
    shape, inf allowed: T = 0 gives 0, 0, 0); finite everywhere."""
    x = np.asarray(x, np.float64)
    ok = np.isfinite(x)
    xs = np.where(ok, x, 1.0)
    decay = np.exp(-xs)
    return (np.where(ok, np.log1p(-decay), 0.0), np.where(ok, xs * decay / -np.expm1(-xs), 0.0),
            np.where(ok, xs**2 * decay / np.expm1(-xs) ** 2, 0.0))


def harmonic_thermodynamics(frequencies, temperatures, *, min_frequency: float = DEFAULT_MIN_FREQUENCY) -> dict:
    """The harmonic sums of :meth:`Phonons.thermal_properties` over ``frequencies: [n_q, n_modes]`` THz
    (each q point weighted 1/n_q); see there for the returned dict."""
    nu = np.asarray(frequencies, np.float64)
    t = np.asarray(temperatures, np.float64)
    if np.any(t < 0):
        raise ValueError(f"temperatures must be >= 0 K, got {t.min():g}")
    n_q = nu.shape[0]
    real = nu[nu > min_frequency]
    e = real * EV_PER_THZ  # eV
    kt = units.kB * t[:, None]
    x = np.where(kt > 0, e[None] / np.where(kt > 0, kt, 1.0), np.inf)
    log_term, x_bose, cv = mode_terms(x)
    zpe = 0.5 * e.sum() / n_q
    return {
        "temperature_K": t.tolist(),
        "free_energy_eV": (zpe + (kt * log_term).sum(axis=1) / n_q).tolist(),
        "entropy_eV_per_K": (units.kB * (x_bose - log_term).sum(axis=1) / n_q).tolist(),
        "heat_capacity_eV_per_K": (units.kB * cv.sum(axis=1) / n_q).tolist(),
        "zero_point_energy_eV": float(zpe),
        "n_imaginary": int(np.sum(nu < -min_frequency)),
        "min_frequency_THz": float(nu.min()),
    }


def phonons(atoms, model, supercell=None, *, fmax: float = DEFAULT_FMAX, member: int = 0) -> Phonons:
    """Force constants of a relaxed crystal on a supercell, as :class:`Phonons`.

    Args:
        atoms: the unit cell (ASE ``Atoms``, periodic in x, y, z, residual forces below ``fmax``).
        model: a model file, ``TrainedPotential`` (exact derivatives), ASE calculator (finite
            differences) or source (:func:`hybridpot.properties.as_source`).
        supercell: diagonal repetitions ``(n1, n2, n3)``; None: the smallest at least twice the
            source's cutoff wide (:func:`supercell_for_cutoff`; needs a source with a cutoff).
        fmax: largest residual force accepted, eV/Å.
        member: ensemble member of a ``TrainedPotential``.

    Raises:
        ValueError: a non-periodic structure, residual forces above ``fmax`` (relax first), a supercell
            narrower than twice the cutoff.
    """
    check_periodic(atoms, "phonons")
    source = as_source(model, member=member)
    cutoff = source.cutoff
    if supercell is None:
        if cutoff is None:
            raise ValueError("phonons: give supercell=(n1, n2, n3), or a source with a cutoff to choose one")
        supercell = supercell_for_cutoff(atoms.get_cell(), cutoff)
    supercell = tuple(int(n) for n in supercell)
    if len(supercell) != 3 or min(supercell) < 1:
        raise ValueError(f"supercell must be three positive integers, got {supercell}")
    check_supercell(atoms.get_cell(), supercell, cutoff)
    _, forces = source.energy_forces(atoms)
    check_relaxed(forces, fmax, "phonons")
    big = atoms.repeat(supercell)
    return Phonons(atoms.copy(), supercell, source.force_constant_rows(big, np.arange(len(atoms))))
