import jax
import jax.numpy as jnp
import numpy as np
import optax

from hybridpot.train import FitProblem, fit_full_batch, fit_full_batch_fused, full_batch_step, polish_lbfgs


def quadratic(p, aux):
    return jnp.sum((p - 3.0) ** 2), jnp.sum((p - 3.0) ** 2)


def test_fit_matches_python_loop():
    opt = optax.adam(0.05)
    p = jnp.array([0.0, 1.0])
    res = fit_full_batch(quadratic, p, opt, num_steps=37, max_steps=40, log_every=10)
    state = opt.init(p)
    for _ in range(37):
        g = jax.grad(lambda q: quadratic(q, None)[0])(p)
        u, state = opt.update(g, state, p)
        p = optax.apply_updates(p, u)
    np.testing.assert_allclose(res.params, p, rtol=1e-12)
    assert res.history.shape == (4,)
    assert np.isnan(res.history[-1])  # the last logged step (index 39) is past the run's 37 steps
    assert bool(res.finite)


def test_traced_step_counts_under_vmap_equal_separate_runs():
    opt = optax.sgd(0.1)
    p = jnp.zeros(1)
    run = lambda n: fit_full_batch(quadratic, p, opt, num_steps=n, max_steps=20, log_every=5).params
    batched = jax.jit(jax.vmap(run))(jnp.array([3, 20]))
    np.testing.assert_allclose(batched[0], run(3))
    np.testing.assert_allclose(batched[1], run(20))


def test_problems_one_at_a_time_equal_them_side_by_side():
    """The ordering of fused problems (one_at_a_time, a zero made from the previous loss) changes
    nothing: parameters, histories and flags are bit-identical, a diverging problem included."""
    opt = optax.adam(0.05)
    bad = lambda p, a: (jnp.sum(jnp.log(p - 1.0)), 0.0)  # NaN: its zero must stay a zero for the next

    def problems():
        made = [full_batch_step(fn, opt, n) for fn, n in ((quadratic, 13), (bad, 4), (quadratic, 20))]
        return [FitProblem(step, init(jnp.zeros(2), None), n) for (init, step), n in zip(made, (13, 4, 20))]

    side, ordered = (jax.jit(lambda o=o: fit_full_batch_fused(problems(), 5, one_at_a_time=o))() for o in (False, True))
    for a, b in zip(side, ordered):
        for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
            np.testing.assert_array_equal(x, y)
    assert [bool(r.finite) for r in ordered] == [True, False, True]


def test_aux_update_and_nonfinite_flag():
    res = fit_full_batch(
        quadratic, jnp.zeros(1), optax.sgd(0.1), num_steps=5, max_steps=5, log_every=5,
        aux=jnp.asarray(0.0), update_aux=lambda a, fit: a + 1.0,
    )
    assert float(res.aux) == 5.0
    bad = lambda p, a: (jnp.sum(jnp.log(p - 1.0)), 0.0)  # log of a negative number: NaN
    assert not bool(fit_full_batch(bad, jnp.zeros(1), optax.sgd(0.1), num_steps=2, max_steps=2, log_every=1).finite)


def _mixed_params():
    """A hybrid-like tree: a group of scalars, a network group of vectors and matrices."""
    key = jax.random.split(jax.random.key(3), 4)
    return {
        "physics": {"d": jnp.asarray(1.0), "a": jnp.asarray(2.0), "r": jnp.asarray(0.7)},
        "learned": {"w1": jax.random.normal(key[0], (1, 5)), "b1": jax.random.normal(key[1], (5,)),
                    "w2": jax.random.normal(key[2], (5, 1)), "b2": jax.random.normal(key[3], (1,))},
    }


def _mixed_loss(p, aux):
    x = jnp.linspace(0.5, 3.0, 9)
    phys = p["physics"]["d"] * (1 - jnp.exp(-p["physics"]["a"] * (x - p["physics"]["r"]))) ** 2
    net = (jnp.tanh(x[:, None] @ p["learned"]["w1"] + p["learned"]["b1"]) @ p["learned"]["w2"])[:, 0] + p["learned"]["b2"][0]
    loss = jnp.mean((phys + net - jnp.exp(-x)) ** 2)
    return loss, loss


def test_packed_parameters_train_as_the_leaves_do():
    """pack_small (each group's vectors and scalars as one vector) gives Adam's result on the
    separate leaves, with a train_only mask and a traced step count, under vmap as alone."""
    from hybridpot.hybrid import train_only

    params = _mixed_params()
    for opt in (optax.adam(0.03), train_only(optax.adam(0.03), {"learned"})):
        runs = [fit_full_batch(_mixed_loss, params, opt, num_steps=23, max_steps=30, log_every=10, pack_small=pack)
                for pack in (False, True)]
        for x, y in zip(jax.tree.leaves(runs[0]), jax.tree.leaves(runs[1])):
            np.testing.assert_allclose(x, y, rtol=1e-12, atol=1e-14)
        assert jax.tree.structure(runs[1].params) == jax.tree.structure(params)
    frozen = runs[1].params["physics"]
    assert all(float(frozen[k]) == float(params["physics"][k]) for k in frozen)

    init, step = full_batch_step(_mixed_loss, optax.adam(0.03), 17, pack_small=True)
    batch = jax.tree.map(lambda a: jnp.stack([a, a + 0.1]), params)
    vmapped = fit_full_batch_fused([FitProblem(jax.vmap(step), jax.vmap(init, (0, None))(batch, None), 20)], 10)[0]
    for i in range(2):
        alone = fit_full_batch(_mixed_loss, jax.tree.map(lambda a: a[i], batch), optax.adam(0.03), num_steps=17, max_steps=20, log_every=10)
        for x, y in zip(jax.tree.leaves(alone.params), jax.tree.leaves(vmapped.params)):
            assert x.shape == y.shape[1:]
            np.testing.assert_allclose(x, y[i], rtol=1e-12, atol=1e-14)


def test_packing_leaves_trees_it_cannot_help_unchanged():
    """Nothing is packed where fewer than two small floating leaves share a dtype."""
    from hybridpot.train.full_batch import _pack, _unpack

    tree = {"one": jnp.zeros(3), "mixed": {"a": jnp.zeros(2, jnp.float32), "b": jnp.zeros((), jnp.float64)}, "ints": (jnp.arange(2), jnp.arange(3))}
    assert jax.tree.structure(_pack(tree)) == jax.tree.structure(tree)
    packed = _pack(_mixed_params())
    assert [x.shape for x in jax.tree.leaves(packed["physics"])] == [(3,)]
    assert sorted(x.shape for x in jax.tree.leaves(packed["learned"])) == [(1, 5), (5, 1), (6,)]
    for x, y in zip(jax.tree.leaves(_unpack(packed)), jax.tree.leaves(_mixed_params())):
        np.testing.assert_array_equal(x, y)


def test_lbfgs_polish_reaches_minimum():
    rosen = lambda p: (1 - p[0]) ** 2 + 100 * (p[1] - p[0] ** 2) ** 2
    p = polish_lbfgs(rosen, jnp.array([-1.2, 1.0]), 100)
    np.testing.assert_allclose(p, [1.0, 1.0], atol=1e-6)


def test_lbfgs_polish_under_vmap_equals_separate_runs():
    loss = lambda p, c: jnp.sum((p - c) ** 4) + jnp.sum((p - c) ** 2)
    run = lambda c: polish_lbfgs(lambda p: loss(p, c), jnp.zeros(2), 8)
    centres = jnp.array([[1.0, -2.0], [0.5, 3.0]])
    batched = jax.jit(jax.vmap(run))(centres)
    for i in range(2):
        np.testing.assert_allclose(batched[i], run(centres[i]), rtol=1e-10, atol=1e-12)
