import jax.numpy as jnp
import numpy as np
import pytest
from ase.build import bulk, molecule

from hybridpot.graph import build_graph, edge_vectors, graph_from_atoms

WATER = np.array([[0.0, 0.0, 0.12], [0.0, 0.76, -0.47], [0.0, -0.76, -0.47]])


def test_layout_molecule():
    g = build_graph(WATER, [8, 1, 1], 2.0)
    assert g.nodes["positions"].shape == (3, 3) and g.nodes["positions"].dtype == jnp.float64
    assert g.nodes["atomic_numbers"].dtype == jnp.int32
    assert g.senders.dtype == jnp.int32 and g.receivers.dtype == jnp.int32
    assert g.globals["cell"].shape == (1, 3, 3) and not np.any(g.globals["cell"])
    assert g.globals["pbc"].shape == (1, 3) and g.globals["pbc"].dtype == jnp.bool_
    assert g.n_node.tolist() == [3] and g.n_edge.tolist() == [6]
    vec = np.asarray(edge_vectors(g))
    np.testing.assert_allclose(vec, WATER[g.senders] - WATER[g.receivers])


def test_dtype_follows_positions_or_argument():
    g = build_graph(WATER.astype(np.float32), [8, 1, 1], 2.0)
    assert g.nodes["positions"].dtype == jnp.float32 and g.edges["shifts"].dtype == jnp.float32
    g = build_graph(WATER, [8, 1, 1], 2.0, dtype=np.float32)
    assert g.globals["cell"].dtype == jnp.float32


def test_host_graph_equals_the_device_graph():
    import jax

    atoms = bulk("Cu", "fcc", a=3.6, cubic=True)
    device = graph_from_atoms(atoms, 4.0)
    host = graph_from_atoms(atoms, 4.0, host=True)
    assert jax.tree.structure(device) == jax.tree.structure(host)
    for d, h in zip(jax.tree.leaves(device), jax.tree.leaves(host)):
        assert type(h) is np.ndarray and h.dtype == d.dtype and np.array_equal(h, np.asarray(d))


def test_symbols_accepted():
    g = build_graph(WATER, ["O", "H", "H"], 2.0)
    assert g.nodes["atomic_numbers"].tolist() == [8, 1, 1]


def test_graph_from_atoms_periodic_and_molecule():
    atoms = bulk("Cu", "fcc", a=3.6, cubic=True)
    g = graph_from_atoms(atoms, 3.0)
    assert g.globals["pbc"].tolist() == [[True, True, True]]
    np.testing.assert_allclose(g.globals["cell"][0], atoms.cell[:])
    np.testing.assert_allclose(np.linalg.norm(edge_vectors(g), axis=1), 3.6 / np.sqrt(2))
    assert int(g.n_edge[0]) == 4 * 12
    m = graph_from_atoms(molecule("H2O"), 2.0)
    assert int(m.n_edge[0]) == 6 and not np.any(m.globals["cell"])


@pytest.mark.parametrize(
    "positions, numbers, cutoff, kwargs, match",
    [
        (np.array([[0.0, 0, 0], [np.nan, 0, 0]]), [1, 1], 2.0, {}, "NaN or inf"),
        (np.array([[0.0, 0, 0], [np.inf, 0, 0]]), [1, 1], 2.0, {}, "NaN or inf"),
        (np.zeros((2, 2)), [1, 1], 2.0, {}, r"positions must have shape \[\*, 3\]"),
        (WATER, [8, 1], 2.0, {}, "atomic_numbers must have shape"),
        (WATER, [8, 1, 0], 2.0, {}, "unknown element"),
        (WATER, [8, 1, 119], 2.0, {}, "unknown element"),
        (WATER, ["O", "H", "Xx"], 2.0, {}, "unknown element"),
        (WATER, [8, 1, 1], -1.0, {}, "cutoff must be positive"),
        (WATER, [8, 1, 1], 0.0, {}, "cutoff must be positive"),
        (WATER, [8, 1, 1], 2.0, {"cell": np.eye(2), "pbc": True}, r"cell must have shape \[3, 3\]"),
        (WATER, [8, 1, 1], 2.0, {"cell": np.diag([5.0, 5.0, 0.0]), "pbc": True}, "singular"),
        (WATER, [8, 1, 1], 2.0, {"pbc": True}, "needs a cell"),
    ],
)
def test_bad_input(positions, numbers, cutoff, kwargs, match):
    with pytest.raises(ValueError, match=match):
        build_graph(positions, numbers, cutoff, **kwargs)


def test_coincident_atoms_named():
    positions = np.array([[0.0, 0, 0], [1.0, 0, 0], [1.0, 0.0, 0.05]])
    with pytest.raises(ValueError, match=r"atoms 1 and 2 are 0.05 Å apart.*min_distance"):
        build_graph(positions, [1, 1, 1], 2.0)
    with pytest.raises(ValueError, match="atoms 0 and 1 are 0 Å apart"):
        build_graph(np.zeros((2, 3)), [1, 1], 2.0)
    build_graph(positions, [1, 1, 1], 2.0, min_distance=0.01)  # allowed when asked


def test_coincident_with_periodic_image():
    # atom 1 sits on the periodic image of atom 0
    with pytest.raises(ValueError, match="atoms 0 and 1"):
        build_graph(np.array([[0.0, 0, 0], [3.0, 0, 0]]), [1, 1], 2.0, np.eye(3) * 3.0, True)
