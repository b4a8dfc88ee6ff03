"""File formats: diatomic curves, MD17 frames, QM9 molecules, structure files (extxyz, ASE db).

Model files are the trained potential's own format: :mod:`hybridpot.potentials` reads and writes them.
"""

from hybridpot.io.curves import (
    DiatomicCurves,
    bundled_h2_curves,
    bundled_lih_curves,
    load_curves,
    reference_h2_curves,
    write_curves,
)
from hybridpot.io.formats import (
    ENERGY_UNITS_TO_EV,
    LENGTH_UNITS_TO_ANGSTROM,
    label_atoms,
    parse_frame_selection,
    read_atoms,
    read_structures,
    split_frame_selection,
    structures_to_atoms,
    write_structures,
)
from hybridpot.io.md17 import (
    MD17_MOLECULES,
    MD17Frames,
    bundled_md17,
    load_md17,
    protocol_split,
    shared_md17_path,
)
from hybridpot.io.qm9 import QM9_UNITS, QM9Molecules, load_qm9, shared_qm9_path

__all__ = [
    "DiatomicCurves",
    "ENERGY_UNITS_TO_EV",
    "LENGTH_UNITS_TO_ANGSTROM",
    "MD17Frames",
    "MD17_MOLECULES",
    "QM9Molecules",
    "QM9_UNITS",
    "bundled_h2_curves",
    "bundled_lih_curves",
    "bundled_md17",
    "label_atoms",
    "load_curves",
    "load_md17",
    "load_qm9",
    "parse_frame_selection",
    "protocol_split",
    "read_atoms",
    "read_structures",
    "reference_h2_curves",
    "write_curves",
    "shared_md17_path",
    "shared_qm9_path",
    "split_frame_selection",
    "structures_to_atoms",
    "write_structures",
]
