r"""Elastic constants: the second strain derivative of the energy, with internal relaxation.

The unrelaxed (clamped-ion) constants are the strain Hessian of the energy per volume,

.. math::
    C^0_{IJ} = \frac{1}{V}\,\frac{\partial^2 E}{\partial e_I\,\partial e_J}

(Voigt indices, engineering shears; :mod:`hybridpot.properties.source`). In a crystal whose atoms are
not all at centres of symmetry a strain also pushes atoms off their sites; letting them relax
lowers the constants by the internal-strain term

.. math::
    C_{IJ} = C^0_{IJ} - \frac{1}{V}\,\Lambda_{Ik}\,(H^{+})_{kl}\,\Lambda_{Jl},\qquad
    \Lambda_{Ik} = \frac{\partial^2 E}{\partial e_I\,\partial u_k},\quad H_{kl} = \frac{\partial^2 E}{\partial u_k\,\partial u_l}

with H⁺ the pseudo-inverse of the position Hessian on the space orthogonal to rigid translations.
For atoms all at inversion centres Λ = 0 and C = C⁰. Both are energy derivatives at the given cell:
they equal the stress–strain coefficients when the cell is relaxed (zero stress); the stress is
reported so that this can be checked.

Born stability: a crystal is mechanically stable when C is positive definite; for cubic C this is
C₁₁ − C₁₂ > 0, C₁₁ + 2C₁₂ > 0, C₄₄ > 0 (Mouhat & Coudert, PRB 90, 224104, 2014).
"""

from __future__ import annotations

import dataclasses

import numpy as np
from ase import units

from hybridpot.properties.source import DEFAULT_FMAX, CrystalDerivatives, as_source, check_periodic, check_relaxed


@dataclasses.dataclass(frozen=True)
class ElasticConstants:
    """Elastic constants of one crystal.

    Attributes:
        unrelaxed: ``[6, 6]`` GPa, clamped ions (Voigt xx yy zz yz xz xy).
        relaxed: ``[6, 6]`` GPa, with internal relaxation.
        stress: ``[3, 3]`` GPa at the given cell (ASE sign: negative under compression).
        volume: Å³.
        internal_min_eigenvalue: smallest eigenvalue of the position Hessian off the translations,
            eV/Å² (negative: the atoms sit at a saddle, the relaxed constants are not a minimum's);
            None for one atom per cell.
    """

    unrelaxed: np.ndarray
    relaxed: np.ndarray
    stress: np.ndarray
    volume: float
    internal_min_eigenvalue: float | None

    def born_stability(self, relaxed: bool = True) -> dict:
        """:func:`born_stability` of the relaxed (or unrelaxed) constants."""
        return born_stability(self.relaxed if relaxed else self.unrelaxed)

    def bulk_moduli(self, relaxed: bool = True) -> dict:
        """Voigt and Reuss bounds of the bulk modulus, GPa (equal for cubic crystals; compare with an EOS B₀)."""
        c = self.relaxed if relaxed else self.unrelaxed
        s = np.linalg.inv(c)
        return {"voigt": float((np.trace(c[:3, :3]) + 2 * (c[0, 1] + c[0, 2] + c[1, 2])) / 9),
                "reuss": float(1 / (np.trace(s[:3, :3]) + 2 * (s[0, 1] + s[0, 2] + s[1, 2])))}

    def as_dict(self) -> dict:
        """JSON-ready: every array as nested lists (GPa), Born stability of both, bulk moduli."""
        return {"unrelaxed_GPa": self.unrelaxed.tolist(), "relaxed_GPa": self.relaxed.tolist(),
                "stress_GPa": self.stress.tolist(), "volume_A3": self.volume,
                "internal_min_eigenvalue_eV_per_A2": self.internal_min_eigenvalue,
                "born_stability_relaxed": self.born_stability(True),
                "born_stability_unrelaxed": self.born_stability(False),
                "bulk_modulus_relaxed_GPa": self.bulk_moduli(True)}


def translation_projector(n_atoms: int) -> np.ndarray:
    """``[3n, 3n]`` projector onto the displacements orthogonal to the 3 rigid translations."""
    t = np.kron(np.ones((n_atoms, 1)), np.eye(3)) / np.sqrt(n_atoms)
    return np.eye(3 * n_atoms) - t @ t.T


def elastic_from_derivatives(d: CrystalDerivatives) -> ElasticConstants:
    """:class:`ElasticConstants` from the strain and position second derivatives of one crystal (module equations)."""
    n = d.forces.shape[0]
    p = translation_projector(n)
    h = p @ d.position_position @ p
    eig = np.linalg.eigvalsh(h)
    internal = np.delete(eig, np.argsort(np.abs(eig))[:3])  # the 3 translations are exact zeros after p
    h_plus = np.linalg.pinv(h, rcond=1e-8, hermitian=True)
    lam = d.strain_position @ p
    c0 = 0.5 * (d.strain_strain + d.strain_strain.T) / d.volume
    c = c0 - lam @ h_plus @ lam.T / d.volume
    return ElasticConstants(c0 / units.GPa, 0.5 * (c + c.T) / units.GPa, np.asarray(d.stress) / units.GPa, d.volume,
                            float(internal.min()) if internal.size else None)


def is_cubic(c, rtol: float = 1e-3) -> bool:
    """Whether ``c: [6, 6]`` (GPa) has the cubic form: C11 = C22 = C33, C12 = C13 = C23, C44 = C55 = C66,
    everything else 0 (to ``rtol`` of the largest entry)."""
    c = np.asarray(c, np.float64)
    tol = rtol * np.max(np.abs(c))
    ref = np.zeros((6, 6))
    ref[:3, :3] = c[0, 1]
    ref[np.arange(3), np.arange(3)] = c[0, 0]
    ref[np.arange(3, 6), np.arange(3, 6)] = c[3, 3]
    return bool(np.all(np.abs(c - ref) <= tol))


def born_stability(c, rtol: float = 1e-6) -> dict:
    """Born mechanical stability of ``c: [6, 6]`` (GPa).

    Returns:
        ``{"stable": bool, "eigenvalues_GPa": [6]}`` (stable: all eigenvalues above ``rtol`` × the largest, so
        a marginal crystal with a zero stiffness is not called stable) and, for a cubic C
        (:func:`is_cubic`), ``"cubic"``: ``{"C11-C12>0", "C11+2C12>0", "C44>0"}`` → bool.
    """
    c = np.asarray(c, np.float64)
    eig = np.linalg.eigvalsh(0.5 * (c + c.T))
    tol = rtol * float(np.max(np.abs(eig)))
    out = {"stable": bool(eig.min() > tol), "eigenvalues_GPa": eig.tolist()}
    if is_cubic(c):
        out["cubic"] = {"C11-C12>0": bool(c[0, 0] - c[0, 1] > tol), "C11+2C12>0": bool(c[0, 0] + 2 * c[0, 1] > tol),
                        "C44>0": bool(c[3, 3] > tol)}
    return out


def elastic_constants(atoms, model, *, fmax: float = DEFAULT_FMAX, member: int = 0) -> ElasticConstants:
    """Unrelaxed and relaxed elastic constants (GPa) of a relaxed crystal.

    Args:
        atoms: ASE ``Atoms``, periodic in x, y, z, with residual forces below ``fmax``.
        model: a model file, ``TrainedPotential`` (exact derivatives by JAX), ASE calculator (finite
            differences) or source (:func:`hybridpot.properties.as_source`).
        fmax: largest residual force accepted, eV/Å.
        member: ensemble member of a ``TrainedPotential``.

    Raises:
        ValueError: a non-periodic structure, or residual forces above ``fmax`` (relax first).
    """
    check_periodic(atoms, "elastic constants")
    d = as_source(model, member=member).derivatives(atoms)
    check_relaxed(d.forces, fmax, "elastic constants")
    return elastic_from_derivatives(d)
