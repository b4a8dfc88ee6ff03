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
import numpy as np
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


@jax.tree_util.register_pytree_node_class
class _Packed:
    """A parameter group whose vectors and scalars travel as one flat vector.

    An optimiser updates each leaf with a few kernels of its own; for small networks, whose
    steps are short, those launches cost more than the arithmetic (the diatomic study: 4
    Morse scalars and 4 biases per run). Matrices stay separate leaves: slicing them out of a
    vector would copy them before every matrix product.

    Attributes:
        packed: ``[..., n]`` the leaves of at most one dimension, raveled and concatenated.
        large: the other leaves, unchanged.
        layout: static ``(treedef, shapes, is_packed)`` to rebuild the group.
    """

    def __init__(self, packed, large, layout):
        self.packed, self.large, self.layout = packed, large, layout

    def tree_flatten(self):
        return (self.packed, self.large), self.layout

    @classmethod
    def tree_unflatten(cls, layout, children):
        return cls(*children, layout)

    @classmethod
    def pack(cls, group) -> "_Packed | Any":
        """``group`` with its leaves of ≤ 1 dimension packed; ``group`` itself when fewer
        than two such leaves share one floating dtype (nothing to gain)."""
        leaves, treedef = jax.tree.flatten(group)
        small = [jnp.ndim(x) <= 1 for x in leaves]
        dtypes = {jnp.result_type(x) for x, s in zip(leaves, small) if s}
        if sum(small) < 2 or len(dtypes) != 1 or not jnp.issubdtype(dtypes.pop(), jnp.floating):
            return group
        packed = jnp.concatenate([jnp.ravel(x) for x, s in zip(leaves, small) if s])
        large = tuple(x for x, s in zip(leaves, small) if not s)
        return cls(packed, large, (treedef, tuple(jnp.shape(x) for x in leaves), tuple(small)))

    def unpack(self):
        """The group as it was given to :meth:`pack` (leading batch axes of ``packed`` kept)."""
        treedef, shapes, small = self.layout
        lead = self.packed.shape[:-1]
        large, start, leaves = iter(self.large), 0, []
        for shape, s in zip(shapes, small):
            if s:
                size = int(np.prod(shape, dtype=int))
                leaves.append(self.packed[..., start:start + size].reshape(lead + shape))
                start += size
            else:
                leaves.append(next(large))
        return jax.tree.unflatten(treedef, leaves)


def _is_packed(x) -> bool:
    return isinstance(x, _Packed)


def _pack(params):
    """``params`` with each top-level group's leaves of ≤ 1 dimension in one :class:`_Packed`
    (the top-level keys stay, so :func:`hybridpot.hybrid.train_only` masks still apply); a
    parameter tree that is not a dict is packed as one group."""
    if isinstance(params, dict):
        return {k: _Packed.pack(v) for k, v in params.items()}
    return _Packed.pack(params)


def _unpack(params):
    """Inverse of :func:`_pack` (works with leading batch axes)."""
    return jax.tree.map(lambda x: x.unpack() if _is_packed(x) else x, params, is_leaf=_is_packed)


def full_batch_step(
    loss_fn: LossFn,
    optimizer: optax.GradientTransformation,
    num_steps,
    update_aux: Callable[[Any, jax.Array], Any] | None = None,
    pack_small: bool = False,
) -> tuple[Callable[[Any, Any], Any], Callable[[Any], tuple[Any, jax.Array]]]:
    """``(init, step)`` of one full-batch optimisation: ``init(params, aux) -> carry`` and
    ``step(carry) -> (carry, loss)``; steps after ``num_steps`` (may be traced) leave the
    parameters, ``aux`` and the finiteness flag unchanged and log NaN (the optimiser state, which
    is not meaningful after the run, is not held). The carry is ``(params, opt_state, aux, step
    count, all finite)``.

    With ``pack_small`` the vectors and scalars of each top-level parameter group are carried,
    and seen by the optimiser, as one vector (matrices stay apart): fewer kernels per step, the
    same arithmetic for an element-wise optimiser such as Adam or SGD (not for one with
    per-leaf norms, such as LARS or LAMB). ``optax.multi_transform`` labels by top-level key
    (:func:`hybridpot.hybrid.train_only`) still apply. :func:`fit_full_batch_fused` returns the
    parameters unpacked."""
    if update_aux is None:
        update_aux = lambda a, _: a  # noqa: E731
    grad_fn = jax.value_and_grad(loss_fn, has_aux=True)

    pack = _pack if pack_small else lambda p: p  # noqa: E731

    def init(params, aux):
        params = pack(params)
        return params, optimizer.init(params), aux, jnp.asarray(0), jnp.asarray(True)

    def step(carry):
        params, opt_state, aux, i, finite = carry
        (loss, fit), grads = grad_fn(_unpack(params), aux)
        grads = pack(grads)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        new = (optax.apply_updates(params, updates), update_aux(aux, fit))
        active = i < num_steps
        # Only what the run returns is held once it is done. The optimiser state may go on
        # changing (nothing reads it after the last active step, since ``active`` never comes
        # back), and holding it too made XLA copy every loop-carried leaf at each step.
        params, aux = jax.tree.map(lambda n, o: jnp.where(active, n, o), new, (params, aux))
        finite = finite & (~active | jnp.isfinite(loss))
        return (params, opt_state, aux, i + 1, finite), jnp.where(active, loss, jnp.nan)

    return init, step


class FitProblem(NamedTuple):
    """One problem of :func:`fit_full_batch_fused`.

    Attributes:
        step: ``carry -> (carry, loss)`` as made by :func:`full_batch_step`, possibly vmapped
            over a batch of runs (then ``loss`` has that batch shape).
        carry: the initial carry (with the same batch axes).
        max_steps: static number of steps this problem needs.
    """

    step: Callable[[Any], tuple[Any, jax.Array]]
    carry: Any
    max_steps: int


def _after(loss, carry):
    """``carry`` unchanged, but computable only once ``loss`` is: its floating leaves plus an
    exact zero made from ``loss`` (finite or not). ``lax.optimization_barrier`` did not keep
    that order in XLA's CPU runtime (the barrier is gone from the compiled program)."""
    zero = jnp.sum(jnp.where(jnp.isfinite(loss), loss, 0.0)) * 0.0
    return jax.tree.map(lambda x: x + zero.astype(x.dtype) if jnp.issubdtype(x.dtype, jnp.floating) else x, carry)


def fit_full_batch_fused(problems: list[FitProblem], log_every: int = 1000, unroll: int = 1,
                         one_at_a_time: bool = False) -> list[FitResult]:
    """Run independent full-batch optimisations of different lengths in one compiled loop.

    Every scan step advances every problem that still has steps to take; a problem's shapes
    (its number of points, its batch of runs) are its own, so nothing is padded to the others
    and no step is spent on a problem that is done: the loop is split into segments at each
    problem's end (rounded up to a multiple of ``log_every``).

    Args:
        problems: the :class:`FitProblem` list.
        log_every: steps per logged loss.
        unroll: ``lax.scan`` unroll factor of the inner loop.
        one_at_a_time: within a step, start a problem's step only after the previous problem's
            loss is computed (its inputs get an exact zero that depends on that loss). For steps
            that call a batched LAPACK kernel (``jnp.linalg.eigh``): jaxlib runs the batch on
            XLA's CPU thread pool and waits for it on a thread of that pool, so as many
            concurrent calls as the pool has threads (2 on a 2-core machine) waited forever for
            each other. Same results.
    Returns:
        one :class:`FitResult` per problem; ``history [*batch, ceil(max_steps / log_every)]``.
    """
    blocks = [-(-p.max_steps // log_every) for p in problems]
    carries = [p.carry for p in problems]
    histories: list[list] = [[] for _ in problems]
    done = 0
    for end in sorted(set(blocks)):
        active = [g for g, b in enumerate(blocks) if b >= end]

        def block(cs, _, active=active):
            def step(cs, _):
                outs = []
                for g, c in zip(active, cs):
                    if one_at_a_time and outs:
                        c = _after(outs[-1][1], c)
                    outs.append(problems[g].step(c))
                return [o[0] for o in outs], [o[1] for o in outs]

            cs, losses = jax.lax.scan(step, cs, None, length=log_every, unroll=unroll)
            return cs, [loss[-1] for loss in losses]

        out, logged = jax.lax.scan(block, [carries[g] for g in active], None, length=end - done)
        for g, carry, losses in zip(active, out, logged):
            carries[g] = carry
            histories[g].append(losses)
        done = end
    return [
        FitResult(_unpack(c[0]), c[2], jnp.moveaxis(jnp.concatenate(h), 0, -1), c[4]) for c, h in zip(carries, histories)
    ]


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
    pack_small: bool = False,
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
        pack_small: carry each group's vectors and scalars as one vector (:func:`full_batch_step`).
    Returns:
        :class:`FitResult`. A non-finite loss does not stop the compiled loop; ``finite`` reports it.
    """
    init, step = full_batch_step(loss_fn, optimizer, num_steps, update_aux, pack_small)
    return fit_full_batch_fused([FitProblem(step, init(params, aux), max_steps)], log_every, unroll)[0]


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
