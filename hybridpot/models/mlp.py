"""Multilayer perceptron: the learned term of the diatomic study and a building block elsewhere."""

from __future__ import annotations

from typing import Callable, Literal, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

Initialisation = Literal["xavier", "torch"]


class Dense(nn.Module):
    """Affine layer y = x W + b with a choice of the two initialisations the literature code uses.

    ``"xavier"``: W ~ U(±sqrt(6 / (fan_in + fan_out))), b = 0 (Glorot & Bengio 2010).
    ``"torch"``: PyTorch's default ``nn.Linear``: W and b ~ U(±1/sqrt(fan_in)).

    Input ``[..., fan_in]``, output ``[..., features]``.
    """

    features: int
    weight_init: Initialisation = "xavier"
    param_dtype: jnp.dtype = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        fan_in = x.shape[-1]
        if self.weight_init == "xavier":
            kernel_init = nn.initializers.xavier_uniform()
            bias_init = nn.initializers.zeros
        elif self.weight_init == "torch":
            bound = 1.0 / fan_in**0.5

            def kernel_init(key, shape, dtype):
                return jax.random.uniform(key, shape, dtype, -bound, bound)

            bias_init = kernel_init
        else:
            raise ValueError(f"unknown initialisation {self.weight_init!r}; use 'xavier' or 'torch'")
        kernel = self.param("kernel", kernel_init, (fan_in, self.features), self.param_dtype)
        bias = self.param("bias", bias_init, (self.features,), self.param_dtype)
        return x @ kernel + bias


class MLP(nn.Module):
    """Fully connected network: hidden layers with an activation, then a linear output layer.

    Attributes:
        hidden: widths of the hidden layers, e.g. ``(50, 24, 12)`` (El Haloui et al. 2025).
        out: width of the output layer.
        activation: nonlinearity after each hidden layer.
        activate_last_hidden: apply the activation after the last hidden layer too
            (PhysiNet in the paper's code omits it).
        weight_init: ``"xavier"`` or ``"torch"``, see :class:`Dense`.
        param_dtype: dtype of the parameters.

    Input ``[..., n_in]``; output ``[..., out]``.
    """

    hidden: Sequence[int]
    out: int = 1
    activation: Callable[[jax.Array], jax.Array] = nn.relu
    activate_last_hidden: bool = True
    weight_init: Initialisation = "xavier"
    param_dtype: jnp.dtype = jnp.float32

    def activates(self, i: int) -> bool:
        """Whether hidden layer ``i``'s output goes through the activation (all but, without
        ``activate_last_hidden``, the last)."""
        return self.activate_last_hidden or i < len(self.hidden) - 1

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        for i, width in enumerate(self.hidden):
            x = Dense(width, self.weight_init, self.param_dtype)(x)
            if self.activates(i):
                x = self.activation(x)
        return Dense(self.out, self.weight_init, self.param_dtype)(x)


def apply_points_last(network: MLP, params, x: jax.Array) -> jax.Array:
    """``network.apply(params, ·)`` with the points on the last axis: ``[..., n_in, n] -> [..., out, n]``.

    The same layers (kernels ``[fan_in, features]`` of ``params``, as :class:`MLP` makes them),
    computed as ``Wᵀ h + b`` on feature-major activations. For a small network vmapped over
    many runs of a few dozen points each (the diatomic study), XLA's CPU backend ran this
    product order faster than the points-first one (``benchmarks/diatomic_training.py``,
    loop row). Equal to ``network.apply(params, jnp.swapaxes(x, -1, -2))`` swapped back, up
    to float rounding.

    Args:
        network: the :class:`MLP` whose parameters ``params`` are (its activation and layers).
        params: ``network.init(...)``'s parameters.
        x: ``[..., n_in, n]`` inputs, points last.
    Returns:
        ``[..., out, n]``.
    """
    layers = params["params"]
    h = x
    for i in range(len(network.hidden) + 1):
        layer = layers[f"Dense_{i}"]
        h = jnp.einsum("io,...in->...on", layer["kernel"], h) + layer["bias"][:, None]
        if i < len(network.hidden) and network.activates(i):
            h = network.activation(h)
    return h
