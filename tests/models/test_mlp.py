import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import linen as nn

from hybridpot.models import MLP, apply_points_last


@pytest.mark.parametrize("activation, activate_last_hidden, init", [(nn.relu, True, "xavier"), (jnp.tanh, False, "torch")])
def test_points_last_product_order_equals_the_module(activation, activate_last_hidden, init):
    """apply_points_last (Wᵀh + b on feature-major activations) is MLP.apply with the points
    moved to the last axis: float64, two inputs per point, leading batch axes, both activations
    and PhysiNet's linear last hidden layer."""
    net = MLP((7, 5, 3), out=2, activation=activation, activate_last_hidden=activate_last_hidden,
              weight_init=init, param_dtype=jnp.float64)
    x = jax.random.normal(jax.random.key(0), (4, 3, 9, 2), jnp.float64)  # [..., n, n_in]
    params = net.init(jax.random.key(1), x)
    params = jax.tree.map(lambda p: p + 0.1, params)  # non-zero biases for the xavier case
    expected = net.apply(params, x)  # [..., n, out]
    got = apply_points_last(net, params, jnp.swapaxes(x, -1, -2))  # [..., out, n]
    np.testing.assert_allclose(jnp.swapaxes(got, -1, -2), expected, rtol=1e-13, atol=1e-14)
    grads = [jax.grad(lambda p, f=f: jnp.sum(jnp.sin(f(p))))(params) for f in (
        lambda p: net.apply(p, x), lambda p: apply_points_last(net, p, jnp.swapaxes(x, -1, -2)))]
    for a, b in zip(*map(jax.tree.leaves, grads)):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-13)
