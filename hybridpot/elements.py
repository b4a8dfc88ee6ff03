"""The periodic table as the rest of hybridpot indexes it: atomic numbers 0..118, 0 is padding.

One home for the number of elements, the atomic-number → species-index lookup of every model,
and the check that names an element a model was not built for.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from hybridpot._checks import is_concrete

#: Length of every table indexed by atomic number (Z = 0..118; 0 marks padding atoms).
N_ELEMENTS = 119


def element_names(numbers) -> str:
    """``"H (Z=1), O (Z=8)"`` for a sequence of atomic numbers, for error messages."""
    from ase.data import chemical_symbols

    return ", ".join(f"{chemical_symbols[z] if 0 < z < len(chemical_symbols) else '?'} (Z={z})" for z in numbers)


def check_species_list(species: Sequence[int], what: str = "species") -> tuple[int, ...]:
    """``species`` as a tuple of ints, or ``ValueError`` for an empty list, repeats or Z outside 1..118."""
    out = tuple(int(z) for z in species)
    if not out:
        raise ValueError(f"{what} must name at least one element")
    if len(set(out)) != len(out):
        raise ValueError(f"{what} has repeated elements: {list(out)}")
    bad = [z for z in out if not 1 <= z < N_ELEMENTS]
    if bad:
        raise ValueError(f"{what} holds atomic numbers outside 1..{N_ELEMENTS - 1}: {bad}")
    return out


def species_index_table(species: Sequence[int]) -> np.ndarray:
    """``[119] int32`` lookup Z → position of Z in ``species``: −1 for other elements, 0 for padding (Z = 0).

    Index it with ``jnp.maximum(table[z], 0)`` inside a model (unknown elements are rejected
    host-side by :func:`check_species`, padding atoms are masked).

    Raises:
        ValueError: empty ``species``, repeats, or atomic numbers outside 1..118.
    """
    species = check_species_list(species)
    table = np.full(N_ELEMENTS, -1, np.int32)
    table[0] = 0
    table[list(species)] = np.arange(len(species), dtype=np.int32)
    return table


def check_species(atomic_numbers, species: Sequence[int] | None, where: str = "structure") -> None:
    """Raise ``ValueError`` naming every element of ``atomic_numbers`` a model was not built for.

    Args:
        atomic_numbers: ``[n_node]`` ints; 0 marks padding and is ignored.
        species: the model's atomic numbers (None: any element is accepted).
        where: what the numbers belong to, for the message.

    Host-side: skipped for traced arrays (inside ``jax.jit``), where values cannot be inspected;
    check where graphs are built (trainer, calculator) so unknown elements never reach ``jit``.
    """
    if species is None or not is_concrete(atomic_numbers):
        return
    z = np.asarray(atomic_numbers)
    unknown = sorted(set(int(v) for v in z[z > 0]) - set(int(s) for s in species))
    if unknown:
        raise ValueError(
            f"{where} contains element(s) {element_names(unknown)} that the model was not built for; "
            f"its species are {element_names(sorted(int(s) for s in species))}"
        )
