"""What every graph potential of hybridpot provides, so trainers, calculators and MD share it.

A :class:`GraphModel` is a pair of pure functions plus the facts a caller needs to build its
inputs. Flax modules are wrapped into one (``init`` = ``module.init``, ``energy`` =
``module.apply``); hybrids are built by composing energies with :mod:`hybridpot.hybrid`.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jraph

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
