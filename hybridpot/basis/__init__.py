"""Pure radial and angular functions: bases, envelopes and symmetry functions (Å)."""

from hybridpot.basis.bessel import radial_bessel_basis
from hybridpot.basis.envelopes import cosine_cutoff, polynomial_envelope
from hybridpot.basis.gaussian import gaussian_basis, gaussian_centers
from hybridpot.basis.spherical_bessel import (
    combine_spherical_basis,
    spherical_bessel_basis,
    spherical_bessel_jn,
    spherical_bessel_radial,
    spherical_bessel_roots,
    zonal_spherical_harmonics,
)
from hybridpot.basis.symmetry_functions import (
    angular_symmetry_terms,
    angular_symmetry_terms_g5,
    radial_symmetry_terms,
    symmetry_function_parameters,
)

__all__ = [
    "angular_symmetry_terms",
    "angular_symmetry_terms_g5",
    "combine_spherical_basis",
    "cosine_cutoff",
    "gaussian_basis",
    "gaussian_centers",
    "polynomial_envelope",
    "radial_bessel_basis",
    "radial_symmetry_terms",
    "spherical_bessel_basis",
    "spherical_bessel_jn",
    "spherical_bessel_radial",
    "spherical_bessel_roots",
    "symmetry_function_parameters",
    "zonal_spherical_harmonics",
]
