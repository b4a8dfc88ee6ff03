"""DimezblNet (Tao & Wan 2025): DimeNet / DimeNet++ plus the ZBL repulsion, as a composition.

``dimezblnet(species, ...)`` is ``additive(zbl_term(species=species), dimenet_pp(species, ...))``:
a thin alias for the paper's name, nothing the two parts and :func:`hybridpot.hybrid.additive` do not
already say. Its ZBL term has pair-specific ranges from covalent radii by default, so it is zero at
bonding distances (docs/zbl_prior.md); ``zbl_ranges="global"`` is the paper's ZBL at full
strength up to the cutoff.
"""

from __future__ import annotations

from typing import Sequence

from hybridpot.hybrid.compose import additive
from hybridpot.models.dimenet import dimenet_model
from hybridpot.potential import GraphModel
from hybridpot.potentials.physics_terms import COVALENT_ZBL_FACTOR, zbl_term


def dimezblnet(species: Sequence[int], *, variant: str = "dimenet++", cutoff: float = 5.0,
               zbl_ranges: str = "covalent", zbl_factor: float = COVALENT_ZBL_FACTOR, zbl_cutoff: float | None = None,
               switch: str | None = None, zbl_inner: float | None = None, zbl_trainable: bool = False,
               **network) -> GraphModel:
    """DimezblNet: ``additive(zbl_term(...), dimenet_model(species, variant, cutoff, **network))``.

    Args:
        species: atomic numbers of the network's element embeddings (and of the prior's ranges).
        variant: ``"dimenet"`` or ``"dimenet++"``.
        cutoff: the network's cutoff, Å (published: 5).
        zbl_ranges: ``"covalent"`` (default): pair-specific ranges ``zbl_factor`` · (r_cov,i + r_cov,j),
            zero at bonding distances (:func:`hybridpot.potentials.zbl_term`); ``"global"``: one
            range ``zbl_cutoff`` for every pair (default ``cutoff``, the paper's choice).
        zbl_factor: f of the covalent ranges.
        zbl_cutoff: the global range, Å (≤ ``cutoff``); only with ``zbl_ranges="global"``.
        switch: ZBL's cutoff treatment (default ``"lammps"`` for covalent ranges, ``"envelope"`` for
            a global one; :func:`hybridpot.potentials.zbl_term`).
        zbl_inner: inner radius of a global ``"lammps"`` switch, Å.
        zbl_trainable: train ZBL's screening coefficients and exponents.
        **network: hyper-parameters of :func:`hybridpot.models.dimenet_model`.
    Returns:
        the composite ``GraphModel``; params ``{"physics": ZBLParams | {}, "learned": network}``.

    Raises:
        ValueError: an unknown ``zbl_ranges``, a global range outside (0, cutoff], or global-only
            arguments with covalent ranges.
    """
    learned = dimenet_model(species, variant=variant, cutoff=cutoff, **network)
    if zbl_ranges == "covalent":
        if zbl_cutoff is not None or zbl_inner is not None:
            raise ValueError("dimezblnet: zbl_cutoff and zbl_inner set a global range; pass zbl_ranges='global'")
        return additive(zbl_term(switch=switch, factor=zbl_factor, species=species, trainable=zbl_trainable), learned)
    if zbl_ranges != "global":
        raise ValueError(f"dimezblnet: zbl_ranges must be 'covalent' or 'global', got {zbl_ranges!r}")
    zc = float(cutoff if zbl_cutoff is None else zbl_cutoff)
    if not 0 < zc <= float(cutoff):
        raise ValueError(f"zbl_cutoff must be in (0, cutoff={cutoff}] Å, got {zc}")
    return additive(zbl_term(zc, switch, zbl_inner, trainable=zbl_trainable), learned)
