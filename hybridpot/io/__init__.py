"""File formats: diatomic potential-energy curves (text columns, Å and hartree)."""

from hybridpot.io.curves import (
    DiatomicCurves,
    bundled_h2_curves,
    load_curves,
    reference_h2_curves,
)

__all__ = ["DiatomicCurves", "bundled_h2_curves", "load_curves", "reference_h2_curves"]
