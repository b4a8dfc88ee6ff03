"""What a hybrid returns (:class:`HybridTerms`) and what a strategy is (:class:`Strategy`): the base of
:mod:`hybridpot.hybrid`, imported by its combinators and by graph composites alike."""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp

TermsFn = Callable[[dict, Any], "HybridTerms"]


class HybridTerms(NamedTuple):
    """The energies of a hybrid model: ``total`` and its ``physics`` and ``learned`` parts.

    Each has the shape of the terms' output (e.g. ``[n_points]`` or ``[n_graph]``), in the
    terms' energy unit. For ``physinet`` the parts are the unscaled terms.
    """

    total: jax.Array
    physics: jax.Array
    learned: jax.Array


class Strategy(NamedTuple):
    """How a strategy combines the parts and how it is trained (hashable: a static of compiled steps).

    Attributes:
        name: ``"additive"``, ``"aphynity"``, ``"sequential"``, ``"physinet"``, ``"pure_physics"``
            or ``"pure_network"``.
        uses_physics, uses_learned: which parts enter the total (the other is zero).
        mix_init: initial PhysiNet weights ``(k, l)`` of graph models (None: no ``"mix"`` group).
        penalty: APHYNITY λ on the mean squared learned energy per atom, (eV/atom)⁻² × loss unit.
        physics_first: Sequential Phy-ML: the trainer fits the physics term alone first, then
            freezes it and fits the network.
    """

    name: str
    uses_physics: bool = True
    uses_learned: bool = True
    mix_init: tuple[float, float] | None = None
    penalty: float = 0.0
    physics_first: bool = False

    def combine(self, physics: jax.Array, learned: jax.Array, params: dict) -> HybridTerms:
        """``HybridTerms`` of the two parts (zeros for an unused part) with the mix in ``params["mix"]``."""
        if not self.uses_physics:
            physics = jnp.zeros_like(learned)
        if not self.uses_learned:
            learned = jnp.zeros_like(physics)
        if self.name == "physinet":
            mix = params["mix"]
            return HybridTerms(mix["k"] * physics + mix["l"] * learned, physics, learned)
        return HybridTerms(physics + learned, physics, learned)


def physinet_mix(k: float = 0.0, l: float = 0.0, dtype=jnp.float32) -> dict:
    """Initial PhysiNet mixing weights ``{"k": k, "l": l}`` (the paper's code starts at 0, 0)."""
    return {"k": jnp.asarray(k, dtype), "l": jnp.asarray(l, dtype)}
