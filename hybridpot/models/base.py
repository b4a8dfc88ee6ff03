"""What every graph potential of hybridpot provides, so trainers, calculators and MD share it.

A :class:`GraphModel` is a pair of pure functions plus the facts a caller needs to build its
inputs. Flax modules are wrapped into one (``init`` = ``module.init``, ``energy`` =
``module.apply``); hybrids are built by composing energies with :mod:`hybridpot.hybrid`.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple, Sequence

import jax
import jraph
import numpy as np

from hybridpot._checks import is_concrete
from hybridpot.graph import Triplets


class GraphModel(NamedTuple):
    """A potential over ``jraph.GraphsTuple`` structures (see :mod:`hybridpot.graph`).

    Attributes:
        init: ``(key, graph, triplets) -> params``; ``triplets`` is None unless
            ``needs_triplets``.
        energy: ``(params, graph, triplets) -> [n_graph]`` energies in eV; padded graphs give 0.
            Forces and stress come from :mod:`hybridpot.potential` (by ``jax.grad``), never
            from a separate head.
        cutoff: neighbour-list cutoff the graphs must be built with, Å.
        needs_triplets: whether ``energy`` reads angular triplets k → j → i.
        species: atomic numbers the model was built for (None: any); a structure with another
            element must raise a ``ValueError`` naming it before it reaches ``energy``.
    """

    init: Callable[[jax.Array, jraph.GraphsTuple, Triplets | None], Any]
    energy: Callable[[Any, jraph.GraphsTuple, Triplets | None], jax.Array]
    cutoff: float
    needs_triplets: bool = False
    species: tuple[int, ...] | None = None


def _element_names(numbers) -> str:
    from ase.data import chemical_symbols

    return ", ".join(f"{chemical_symbols[z] if z < len(chemical_symbols) else '?'} (Z={z})" for z in numbers)


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
            f"{where} contains element(s) {_element_names(unknown)} that the model was not built for; "
            f"its species are {_element_names(sorted(int(s) for s in species))}"
        )
