"""optax chains built from an :class:`~hybridpot.train.config.OptimConfig`, and a parameter EMA.

``make_optimizer`` = ``chain(clip_by_global_norm?, adam|amsgrad|adamw(schedule))``;
``make_schedule`` = linear warm-up then constant, cosine or exponential decay. The EMA is a pair
of pure functions (``ema_init``, ``ema_update``) like an optax transformation's.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import optax


def make_schedule(config, total_steps: int) -> optax.Schedule:
    """Learning rate (1/step, unitless multiplier of gradients) as a function of the step count.

    Linear warm-up 0 → ``learning_rate`` over ``warmup_steps``, then ``decay`` to
    ``final_lr_fraction · learning_rate`` at ``total_steps`` (``"constant"``: stays at the peak).
    """
    lr, warm = config.learning_rate, config.warmup_steps
    rest = max(1, int(total_steps) - warm)
    end = lr * config.final_lr_fraction
    if config.decay == "constant":
        after = optax.constant_schedule(lr)
    elif config.decay == "cosine":
        after = optax.cosine_decay_schedule(lr, rest, alpha=config.final_lr_fraction)
    elif config.decay == "exponential":
        after = optax.exponential_decay(lr, rest, config.final_lr_fraction, end_value=end)
    else:
        raise ValueError(f"unknown decay {config.decay!r}")
    if warm == 0:
        return after
    return optax.join_schedules([optax.linear_schedule(0.0, lr, warm), after], [warm])


def make_optimizer(config, total_steps: int) -> optax.GradientTransformation:
    """The optax transformation of ``config`` (an ``OptimConfig``) for a run of ``total_steps``."""
    schedule = make_schedule(config, total_steps)
    if config.name == "adam":
        opt = optax.adam(schedule, b1=config.b1, b2=config.b2, eps=config.eps)
    elif config.name == "amsgrad":
        opt = optax.amsgrad(schedule, b1=config.b1, b2=config.b2, eps=config.eps)
    elif config.name == "adamw":
        opt = optax.adamw(schedule, b1=config.b1, b2=config.b2, eps=config.eps, weight_decay=config.weight_decay)
    else:
        raise ValueError(f"unknown optimiser {config.name!r}; use 'adam', 'amsgrad' or 'adamw'")
    if config.clip_norm is not None:
        return optax.chain(optax.clip_by_global_norm(config.clip_norm), opt)
    return opt


def ema_init(params: Any) -> Any:
    """Initial EMA: a copy of ``params``."""
    return jax.tree.map(jnp.asarray, params)


def ema_update(ema: Any, params: Any, step: jax.Array, decay: float | None) -> Any:
    r"""One EMA step :math:`\bar\theta \leftarrow d_t \bar\theta + (1-d_t)\theta`, :math:`d_t = \min(d, \frac{1+t}{10+t})`.

    The warm-up of :math:`d_t` (TensorFlow's ``num_updates``) keeps early averages from
    remembering the random initialisation. ``step``: updates taken before this one; ``decay``
    None returns ``params``. Jittable.
    """
    if decay is None:
        return params
    t = jnp.asarray(step, dtype=jnp.float32)
    d = jnp.minimum(decay, (1.0 + t) / (10.0 + t))
    return jax.tree.map(lambda e, p: (d.astype(p.dtype) * e + (1 - d).astype(p.dtype) * p), ema, params)
