"""Nuclear masses of a diatomic molecule: element symbols or isotopologue formulas → reduced mass in u.

Atomic masses (nucleus plus electrons, the usual choice for Born–Oppenheimer curves) are ASE's
``ase.data.atomic_masses_common``: the mass of each element's most abundant isotope (¹H, ⁷Li,
¹²C, ...), IUPAC/AME values. ASE has no table of other isotopes without a download, so the heavy
hydrogens, the isotopologues that matter most for vibrational spectroscopy, are listed here
(AME2020, Wang et al., Chin. Phys. C 45, 030003 (2021)); any other isotope is given as a mass.
"""

from __future__ import annotations

import re

import numpy as np

#: Atomic masses in u of the heavy hydrogen isotopes (AME2020), by the symbols D and T.
HYDROGEN_ISOTOPE_MASSES_AMU = {"D": 2.01410177812, "T": 3.01604928132}
#: Element of each isotope symbol that is not an element symbol.
_ISOTOPE_ELEMENT = {"D": "H", "T": "H"}
_FORMULA = re.compile(r"([A-Z][a-z]?)(\d*)")


def atomic_mass_amu(symbol: str) -> float:
    """Atomic mass in u of an element's most abundant isotope (ASE), or of ``"D"`` / ``"T"``.

    Args:
      symbol: element symbol (``"H"``, ``"Li"``, ...) or ``"D"``, ``"T"``.

    Returns:
      mass in u (e.g. 1.00782503223 for ``"H"``).
    """
    from ase.data import atomic_masses_common, atomic_numbers

    if symbol in HYDROGEN_ISOTOPE_MASSES_AMU:
        return HYDROGEN_ISOTOPE_MASSES_AMU[symbol]
    if symbol not in atomic_numbers or symbol == "X":
        raise ValueError(f"unknown element symbol {symbol!r}")
    return float(atomic_masses_common[atomic_numbers[symbol]])


def element_of(symbol: str) -> str:
    """The element symbol of an atom or isotope symbol: ``"D"`` → ``"H"``, ``"Li"`` → ``"Li"``."""
    atomic_mass_amu(symbol)  # validates
    return _ISOTOPE_ELEMENT.get(symbol, symbol)


def diatomic_atoms(formula: str) -> tuple[str, str]:
    """The two atom symbols of a diatomic formula: ``"H2"`` → (H, H), ``"HD"`` → (H, D), ``"LiH"`` →
    (Li, H), ``"HeH+"`` → (He, H). A trailing charge (``+``, ``-``, ``2+``) is ignored.

    Raises:
      ValueError: not a formula of exactly two atoms of known symbols.
    """
    body = re.sub(r"\d*[+-]$", "", formula.strip())
    parts = _FORMULA.findall(body)
    if not parts or "".join(s + n for s, n in parts) != body:
        raise ValueError(f"cannot read {formula!r} as a diatomic formula such as 'H2', 'HD' or 'LiH'")
    atoms = [s for s, n in parts for _ in range(int(n) if n else 1)]
    if len(atoms) != 2:
        raise ValueError(f"{formula!r} has {len(atoms)} atoms; a diatomic has 2")
    for a in atoms:
        atomic_mass_amu(a)
    return atoms[0], atoms[1]


def reduced_mass_amu(atom_a, atom_b) -> float:
    """Reduced mass μ = m_a m_b / (m_a + m_b) in u; each atom a symbol (see :func:`atomic_mass_amu`)
    or a mass in u. Equal masses give exactly m / 2.

    Args:
      atom_a, atom_b: ``"H"``, ``"D"``, ``"Li"``, ... or positive floats (u).

    Returns:
      μ in u, e.g. ``reduced_mass_amu("H", "H") == H2_REDUCED_MASS_AMU``.
    """
    masses = [atomic_mass_amu(a) if isinstance(a, str) else float(a) for a in (atom_a, atom_b)]
    if not all(np.isfinite(m) and m > 0 for m in masses):
        raise ValueError(f"masses must be positive and finite, got {masses}")
    m_a, m_b = masses
    if m_a == m_b:
        return m_a / 2.0
    return m_a * m_b / (m_a + m_b)


def isotopologue_atoms(isotopologue: str, atoms: tuple[str, str] | None) -> tuple[str, str]:
    """The atoms of ``isotopologue`` (e.g. ``"HD"``), checked to be the same elements as ``atoms``.

    The curves of a Born–Oppenheimer calculation hold for every isotopologue; only the mass
    changes. Order does not matter (``"DH"`` for H, H is fine).

    Raises:
      ValueError: the isotopologue's elements differ from those of ``atoms``.
    """
    new = diatomic_atoms(isotopologue)
    if atoms is not None and sorted(map(element_of, new)) != sorted(map(element_of, atoms)):
        raise ValueError(
            f"isotopologue {isotopologue!r} is not an isotopologue of the curves' molecule ({' '.join(atoms)})"
        )
    return new
