r"""The assembled potential: what training, evaluation, the ASE calculator, jax-md and the CLI evaluate.

.. math::
    E_g = \mathrm{strategy}\Big(E^\text{phys}_g(\theta_\text{phys}),\
          \underbrace{\textstyle\sum_{i \in g} \mu_{Z_i} + s\, E^\text{model}_g(\theta)}_{\text{learned}}\Big)

The model is any :class:`~hybridpot.potential.GraphModel`: a single network (all of it is the learned
part), a physics term, or a composite of a strategy (:mod:`hybridpot.hybrid`), whose learned part
alone gets the per-element shift μ (eV/atom) and the scale s (eV) of
:class:`~hybridpot.potentials.normalisation.EnergyNormalisation`. The normalisation is an argument
(arrays), not part of the model, so one compiled program serves every run of a model.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import jraph

from hybridpot.hybrid.graph import hybrid_terms
from hybridpot.hybrid.terms import HybridTerms
from hybridpot.potential import GraphModel
from hybridpot.potentials.normalisation import (
    EnergyNormalisation,
    normalised_atomic_energy,
    normalised_energy,
)


def assembled_terms(model: GraphModel, params, normalisation: EnergyNormalisation, graph: jraph.GraphsTuple,
                    triplets=None, *, per_atom: bool = False) -> HybridTerms:
    """Total, physics and learned energies ``[n_graph]`` eV of the assembled potential (see the module).

    Args:
        model: the model (single or composite).
        params: its parameters (one member, no leading axis).
        normalisation: shift ``[119]`` eV/atom and scale ``[]`` eV of the learned part (arrays;
            may be traced).
        graph, triplets: inputs of ``model.energy`` (triplets when ``model.needs_triplets``).
        per_atom: energies per atom ``[n_node]`` eV instead (each atom's shift μ_Z on its own
            learned part), summing to the graph's; needs ``model.atomic_energy``.
    Returns:
        :class:`~hybridpot.hybrid.compose.HybridTerms`; the learned part includes the shift.
    Raises:
        ValueError: ``per_atom`` for a model without a decomposition into atoms.
    """
    if per_atom and model.atomic_energy is None:
        raise ValueError("this model has no energies per atom (a GraphModel without atomic_energy)")
    to_eV = normalised_atomic_energy if per_atom else normalised_energy

    def learned_map(e, g):
        return to_eV(e, g, normalisation)

    if model.hybrid is not None:
        return hybrid_terms(model, params, graph, triplets, learned_map, per_atom=per_atom)
    e = learned_map((model.atomic_energy if per_atom else model.energy)(params, graph, triplets), graph)
    return HybridTerms(e, jnp.zeros_like(e), e)


class Potential(NamedTuple):
    """The assembled potential with the parameters of every member: a value consumers evaluate.

    Attributes:
        model: the :class:`~hybridpot.potential.GraphModel`.
        params: its parameters with a leading ``[n_members]`` axis.
        normalisation: shift ``[119]`` eV/atom and scale ``[]`` eV of the learned part.
    """

    model: GraphModel
    params: Any
    normalisation: EnergyNormalisation

    @property
    def n_members(self) -> int:
        """Ensemble members (leading axis of ``params``)."""
        return int(jax.tree.leaves(self.params)[0].shape[0])
