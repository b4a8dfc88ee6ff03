import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from hybridpot.hybrid import (
    additive,
    aphynity_adaptive_loss,
    aphynity_penalty_loss,
    physinet,
    physinet_mix,
    pure_network,
    pure_physics,
    train_only,
    update_multiplier,
    weighted_mean_square,
)


def phys(p, x):
    return p * x


def learned(q, x):
    return q * x**2


X = jnp.array([1.0, 2.0, 3.0])
PARAMS = {"physics": jnp.asarray(2.0), "learned": jnp.asarray(0.5), "mix": physinet_mix(3.0, 4.0)}


def test_strategies_compose_terms():
    t = additive(phys, learned)(PARAMS, X)
    np.testing.assert_allclose(t.total, 2 * X + 0.5 * X**2)
    np.testing.assert_allclose(t.physics, 2 * X)
    np.testing.assert_allclose(t.learned, 0.5 * X**2)
    p = pure_physics(phys)(PARAMS, X)
    np.testing.assert_allclose(p.total, 2 * X)
    np.testing.assert_allclose(p.learned, 0.0)
    n = pure_network(learned)(PARAMS, X)
    np.testing.assert_allclose(n.total, 0.5 * X**2)
    np.testing.assert_allclose(n.physics, 0.0)
    k = physinet(phys, learned)(PARAMS, X)
    np.testing.assert_allclose(k.total, 3 * 2 * X + 4 * 0.5 * X**2)


def test_losses_against_formulas():
    t = additive(phys, learned)(PARAMS, X)
    y = jnp.array([2.0, 7.0, 9.0])
    w = jnp.array([1.0, 1.0, 0.0])
    fit = ((t.total - y) ** 2 * w).sum() / 2
    physics_fit = ((t.physics - y) ** 2 * w).sum() / 2
    np.testing.assert_allclose(weighted_mean_square(t.total - y, w), fit)
    np.testing.assert_allclose(aphynity_penalty_loss(t, y, 3.0, w, scale=2.0), (fit + 3 * physics_fit) / 2)
    loss, scaled_fit = aphynity_adaptive_loss(t, y, 5.0, w, scale=2.0)
    norm = ((t.learned**2) * w).sum() / 2
    np.testing.assert_allclose(scaled_fit, fit / 2)
    np.testing.assert_allclose(loss, norm / 2 + 5 * fit / 2)
    np.testing.assert_allclose(update_multiplier(5.0, scaled_fit, 10.0), 5 + 10 * fit / 2)


def test_train_only_freezes_other_groups():
    opt = train_only(optax.sgd(0.1), {"learned"})
    params = {"physics": jnp.ones(2), "learned": jnp.ones(3)}
    grads = jax.tree.map(jnp.ones_like, params)
    updates, _ = opt.update(grads, opt.init(params), params)
    np.testing.assert_array_equal(updates["physics"], 0.0)
    np.testing.assert_allclose(updates["learned"], -0.1)
    with pytest.raises(ValueError, match="no parameter group"):
        train_only(optax.sgd(0.1), {"network"}).init(params)


def test_combinators_on_graph_models_keep_their_parts():
    """On GraphModels a combinator returns a GraphModel whose energy is the strategy's total of the
    parts' own energies; mismatched terms get clear errors."""
    from hybridpot.graph import build_graph
    from hybridpot.hybrid import STRATEGIES, aphynity, hybrid_terms, sequential
    from hybridpot.models import pair_mlp_model
    from hybridpot.potentials import physics_term

    net = pair_mlp_model(cutoff=3.0, species=[1, 8], hidden=[4], dtype="float64")
    zbl = physics_term("zbl", cutoff=2.0, trainable=True)
    g = build_graph(np.array([[0.0, 0, 0], [0.96, 0, 0], [-0.24, 0.93, 0]]), [8, 1, 1], 3.0)
    for name, combinator in STRATEGIES.items():
        model = combinator(zbl, net, **({"penalty": 0.1} if name == "aphynity" else {}))
        params = model.init(jax.random.PRNGKey(0), g, None)
        assert model.cutoff == 3.0 and model.species == (1, 8) and model.hybrid.strategy.name == name
        terms = hybrid_terms(model, params, g)
        e_phys = zbl.energy(params["physics"], g, None)
        e_net = net.energy(params["learned"], g, None)
        np.testing.assert_array_equal(terms.physics, e_phys)
        np.testing.assert_array_equal(terms.learned, e_net)
        k, lw = (params["mix"]["k"], params["mix"]["l"]) if name == "physinet" else (1.0, 1.0)
        np.testing.assert_allclose(model.energy(params, g, None), k * e_phys + lw * e_net, rtol=1e-14)
    assert aphynity(zbl, net, penalty=0.3).hybrid.strategy.penalty == 0.3
    assert sequential(zbl, net).hybrid.strategy.physics_first
    assert pure_network(net).energy(pure_network(net).init(jax.random.PRNGKey(0), g, None), g, None).shape == (1,)
    with pytest.raises(ValueError, match="beyond the learned model's cutoff"):
        additive(physics_term("zbl", cutoff=4.0), net)
    with pytest.raises(TypeError, match="not one of each"):
        additive(phys, net)
    with pytest.raises(TypeError, match="composes GraphModels"):
        aphynity(phys, learned, penalty=1.0)
    with pytest.raises(ValueError, match="no cutoff"):
        pure_physics(physics_term("zbl"))
