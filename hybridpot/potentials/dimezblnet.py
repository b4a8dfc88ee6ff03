"""DimezblNet (Tao & Wan 2025): DimeNet / DimeNet++ plus the ZBL repulsion, as a composition.

``dimezblnet(species, ...)`` is ``additive(zbl_term(zbl_cutoff, switch), dimenet_pp(species, ...))``:
a thin alias for the paper's name, nothing the two parts and :func:`hybridpot.hybrid.additive` do not
already say.
"""

from __future__ import annotations

from typing import Sequence

from hybridpot.hybrid.compose import additive
from hybridpot.models.dimenet import dimenet_model
from hybridpot.potential import GraphModel
from hybridpot.potentials.physics_terms import zbl_term


def dimezblnet(species: Sequence[int], *, variant: str = "dimenet++", cutoff: float = 5.0,
               zbl_cutoff: float | None = None, switch: str = "envelope", zbl_inner: float | None = None,
               zbl_trainable: bool = False, **network) -> GraphModel:
    """DimezblNet: ``additive(zbl_term(...), dimenet_model(species, variant, cutoff, **network))``.

    Args:
        species: atomic numbers of the network's element embeddings.
        variant: ``"dimenet"`` or ``"dimenet++"``.
        cutoff: the network's cutoff, Å (published: 5).
        zbl_cutoff: where ZBL reaches 0, Å (≤ ``cutoff``; default ``cutoff``, the paper's choice).
        switch: ZBL's cutoff treatment (:func:`hybridpot.potentials.zbl_switch`).
        zbl_inner: inner radius of the ``"lammps"`` switch, Å.
        zbl_trainable: train ZBL's screening coefficients and exponents.
        **network: hyper-parameters of :func:`hybridpot.models.dimenet_model`.
    Returns:
        the composite ``GraphModel``; params ``{"physics": ZBLParams | {}, "learned": network}``.
    """
    zc = float(cutoff if zbl_cutoff is None else zbl_cutoff)
    if not 0 < zc <= float(cutoff):
        raise ValueError(f"zbl_cutoff must be in (0, cutoff={cutoff}] Å, got {zc}")
    learned = dimenet_model(species, variant=variant, cutoff=cutoff, **network)
    return additive(zbl_term(zc, switch, zbl_inner, trainable=zbl_trainable), learned)
