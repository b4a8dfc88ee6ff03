"""Pure radial and angular functions: bases, envelopes and symmetry functions (Å)."""

from hybridpot.basis.envelopes import cosine_cutoff, polynomial_envelope

__all__ = ["cosine_cutoff", "polynomial_envelope"]
