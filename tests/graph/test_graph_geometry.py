import jax
import jax.numpy as jnp
import numpy as np

from hybridpot.graph import build_graph, edge_distances, pad_graph


def test_padded_edges_give_zero_distance_and_zero_gradient():
    g = pad_graph(build_graph(np.array([[0.0, 0, 0], [1.0, 0.5, 0]]), [1, 1], 2.0), 4, 6, 3)

    def f(positions):
        return jnp.sum(edge_distances(g._replace(nodes={**g.nodes, "positions": positions})))

    r = np.asarray(jax.jit(edge_distances)(g))
    np.testing.assert_allclose(r[:2], np.sqrt(1.25))
    assert np.all(r[2:] == 0.0)
    grad = jax.jit(jax.grad(f))(g.nodes["positions"])
    assert np.all(np.isfinite(grad)) and np.all(grad[2:] == 0.0)
    np.testing.assert_allclose(grad[0], -2 * np.array([1.0, 0.5, 0]) / np.sqrt(1.25))
