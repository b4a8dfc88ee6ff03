"""Freezing parameter groups, the training half of Sequential Phy-ML: fit the physics term, freeze it,
then train the learned term on the rest.

Stage 1 trains ``params["physics"]`` with :func:`~hybridpot.hybrid.compose.pure_physics`, stage 2
keeps them fixed and trains ``params["learned"]`` with the additive model (the graph trainer does
both for a :func:`~hybridpot.hybrid.compose.sequential` hybrid). Freezing is an optimiser
transformation, so it composes with any optax optimiser.
"""

from __future__ import annotations

from typing import Iterable

import optax


def train_only(optimizer: optax.GradientTransformation, trainable: Iterable[str]) -> optax.GradientTransformation:
    """Wrap ``optimizer`` so it updates only the named top-level parameter groups.

    Args:
        optimizer: any optax transformation.
        trainable: top-level keys of the parameter dict to train, e.g. ``{"learned"}``;
            every other group gets zero updates (and keeps no optimiser state).
    Returns:
        an optax transformation for the whole parameter dict.
    """
    trainable = frozenset(trainable)

    def labels(params: dict) -> dict:
        unknown = trainable - set(params)
        if unknown:
            raise ValueError(f"train_only: no parameter group(s) {sorted(unknown)}; have {sorted(params)}")
        return {k: ("train" if k in trainable else "frozen") for k in params}

    return optax.multi_transform({"train": optimizer, "frozen": optax.set_to_zero()}, labels)
