"""File formats: diatomic potential-energy curves (Å, hartree) and MD17 frames (Å, eV)."""

from hybridpot.io.curves import DiatomicCurves, bundled_h2_curves, load_curves, reference_h2_curves
from hybridpot.io.md17 import MD17_MOLECULES, MD17Frames, bundled_md17, load_md17, protocol_split, shared_md17_path

__all__ = [
    "DiatomicCurves",
    "MD17Frames",
    "MD17_MOLECULES",
    "bundled_h2_curves",
    "bundled_md17",
    "load_curves",
    "load_md17",
    "protocol_split",
    "reference_h2_curves",
    "shared_md17_path",
]
