"""Full-batch optimisation as one compiled program: ``lax.scan`` over steps.

Made for small data sets (curves, a few structures) where every step sees all training points,
and for ``jax.vmap`` over seeds, training sets and hyper-parameters: the number of steps is a
traced value (runs shorter than ``max_steps`` stop updating once done), so runs of different
lengths share one compiled program.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import optax

# loss_fn(params, aux) -> (loss, fit); ``aux`` is carried state that is not trained by
# gradient (e.g. an APHYNITY multiplier), updated by update_aux(aux, fit) after each step.
LossFn = Callable[[Any, Any], tuple[jax.Array, jax.Array]]


class FitResult(NamedTuple):
    """Outcome of :func:`fit_full_batch`.

    Attributes:
        params: final parameters (those after the last active step).
        aux: final carried state.
        history: ``[max_steps // log_every]`` loss at the end of each logging block (NaN for
            blocks after the run ended).
        finite: True when every loss seen was finite.
    """

    params: Any
    aux: Any
    history: jax.Array
    finite: jax.Array


def fit_full_batch(
    loss_fn: LossFn,
    params: Any,
    optimizer: optax.GradientTransformation,
    *,
    num_steps,
    max_steps: int,
    log_every: int = 1000,
    aux: Any = None,
    update_aux: Callable[[Any, jax.Array], Any] | None = None,
    unroll: int = 1,
) -> FitResult:
    """Minimise ``loss_fn`` with ``optimizer`` for ``num_steps`` full-batch steps.

    Args:
        loss_fn: ``(params, aux) -> (loss, fit)``, both scalars; ``fit`` feeds ``update_aux``.
        params: initial parameter pytree.
        optimizer: optax transformation (its hyper-parameters may be traced values).
        num_steps: steps to take (int, may be traced); must not exceed ``max_steps``.
        max_steps: static length of the compiled loop (rounded up to a multiple of ``log_every``).
        log_every: steps per logged loss.
        aux: carried non-gradient state (default none).
        update_aux: ``(aux, fit) -> aux`` after each step (default: unchanged).
        unroll: ``lax.scan`` unroll factor of the inner loop.
    Returns:
        :class:`FitResult`. A non-finite loss does not stop the compiled loop; ``finite`` reports it.
    """
    if update_aux is None:
        update_aux = lambda a, _: a  # noqa: E731
    blocks = -(-max_steps // log_every)
    grad_fn = jax.value_and_grad(loss_fn, has_aux=True)

    def step(carry, _):
        params, opt_state, aux, i, finite = carry
        (loss, fit), grads = grad_fn(params, aux)
        updates, new_opt_state = optimizer.update(grads, opt_state, params)
        new = (optax.apply_updates(params, updates), new_opt_state, update_aux(aux, fit))
        active = i < num_steps
        params, opt_state, aux = jax.tree.map(
            lambda n, o: jnp.where(active, n, o), new, (params, opt_state, aux)
        )
        finite = finite & (~active | jnp.isfinite(loss))
        return (params, opt_state, aux, i + 1, finite), jnp.where(active, loss, jnp.nan)

    def block(carry, _):
        carry, losses = jax.lax.scan(step, carry, None, length=log_every, unroll=unroll)
        return carry, losses[-1]

    init = (params, optimizer.init(params), aux, jnp.asarray(0), jnp.asarray(True))
    (params, _, aux, _, finite), history = jax.lax.scan(block, init, None, length=blocks)
    return FitResult(params, aux, history, finite)


def polish_lbfgs(loss_fn: Callable[[Any], jax.Array], params: Any, num_steps: int, memory_size: int = 20) -> Any:
    """Refine ``params`` with ``num_steps`` iterations of L-BFGS (optax, zoom line search).

    A second-order polish after first-order training; jit- and vmap-safe (fixed iteration count).

    Args:
        loss_fn: ``params -> scalar`` (smooth; ReLU networks gain little).
        params: starting parameters.
        num_steps: L-BFGS iterations (static).
        memory_size: number of curvature pairs kept.
    Returns:
        the refined parameters; if an iteration produces a non-finite loss, the last finite
        parameters are kept.
    """
    opt = optax.lbfgs(memory_size=memory_size)
    value_and_grad = optax.value_and_grad_from_state(loss_fn)

    def step(carry, _):
        params, state, best, best_value = carry
        value, grad = value_and_grad(params, state=state)
        updates, state = opt.update(grad, state, params, value=value, grad=grad, value_fn=loss_fn)
        params = optax.apply_updates(params, updates)
        better = jnp.isfinite(value) & (value <= best_value)
        best = jax.tree.map(lambda p, b: jnp.where(better, p, b), carry[0], best)
        best_value = jnp.where(better, value, best_value)
        return (params, state, best, best_value), None

    init = (params, opt.init(params), params, jnp.asarray(jnp.inf, dtype=jnp.result_type(float)))
    (params, _, best, best_value), _ = jax.lax.scan(step, init, None, length=num_steps)
    final = loss_fn(params)
    keep_final = jnp.isfinite(final) & (final <= best_value)
    return jax.tree.map(lambda p, b: jnp.where(keep_final, p, b), params, best)
