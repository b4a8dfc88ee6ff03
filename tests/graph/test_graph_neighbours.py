import numpy as np
import pytest
from ase.build import bulk

from hybridpot.graph import neighbour_list


def brute_force_pairs(positions, cutoff, cell=None, pbc=(False, False, False)):
    """Set of (receiver i, sender j, n0, n1, n2) with |R_j + n @ cell − R_i| < cutoff, minus self."""
    positions = np.asarray(positions, dtype=float)
    pbc = np.broadcast_to(np.asarray(pbc, dtype=bool), (3,))
    cell = np.zeros((3, 3)) if cell is None else np.asarray(cell, dtype=float)
    reach = [0, 0, 0]
    if pbc.any():
        volume = abs(np.linalg.det(cell))
        extent = np.ptp(positions @ np.linalg.inv(cell), axis=0) if len(positions) else np.zeros(3)
        for k in range(3):
            if pbc[k]:
                spacing = volume / np.linalg.norm(np.cross(cell[(k + 1) % 3], cell[(k + 2) % 3]))
                reach[k] = int(np.ceil(cutoff / spacing + extent[k])) + 1
    grids = [np.arange(-r, r + 1) for r in reach]
    offsets = np.stack(np.meshgrid(*grids, indexing="ij"), -1).reshape(-1, 3)
    out = set()
    shifts = offsets @ cell
    for i in range(len(positions)):
        for j in range(len(positions)):
            d = np.linalg.norm(positions[j] + shifts - positions[i], axis=1)
            for n in np.flatnonzero(d < cutoff):
                if i == j and not offsets[n].any():
                    continue
                out.add((i, j, *map(int, offsets[n])))
    return out


def _as_set(senders, receivers, shifts, cell):
    if np.any(shifts):
        offsets = np.rint(shifts @ np.linalg.inv(cell)).astype(int)
        np.testing.assert_allclose(offsets @ cell, shifts, atol=1e-9)
    else:
        offsets = np.zeros_like(shifts, dtype=int)
    return {(int(i), int(j), *map(int, n)) for i, j, n in zip(receivers, senders, offsets)}


def _check(positions, cutoff, cell, pbc):
    s, r, sh = neighbour_list(positions, cutoff, cell, pbc)
    assert s.dtype == np.int32 and r.dtype == np.int32 and sh.shape == (len(s), 3)
    ref = brute_force_pairs(positions, cutoff, cell, pbc)
    assert len(ref) == len(s)
    assert _as_set(s, r, sh, cell) == ref
    # both directions: (i, j, n) present iff (j, i, -n) present
    assert {(j, i, -a, -b, -c) for i, j, a, b, c in ref} == ref
    # sorted by receiver, then sender
    key = r.astype(np.int64) * (len(positions) + 1) + s
    assert np.all(np.diff(key) >= 0)
    return s, r, sh


def test_small_periodic_cell_has_many_images():
    atoms = bulk("Cu", "fcc", a=3.6)  # 1 atom, primitive cell (edge 2.55 Å)
    cell = np.asarray(atoms.cell)
    s, r, sh = _check(atoms.positions, 5.0, cell, True)
    assert np.all(s == 0) and np.all(r == 0)  # only images of the one atom
    assert len(s) == 12 + 6 + 24  # fcc shells at a/√2, a, a√(3/2) (a√2 = 5.09 Å > 5)


def test_triclinic_cell_positions_outside_box():
    rng = np.random.default_rng(1)
    cell = np.array([[3.0, 0.0, 0.0], [0.8, 2.9, 0.0], [0.5, -0.4, 3.2]])
    positions = rng.uniform(-1.0, 5.0, size=(5, 3))
    _check(positions, 3.5, cell, True)


def test_mixed_pbc():
    rng = np.random.default_rng(2)
    cell = np.diag([3.0, 3.5, 10.0])
    positions = rng.uniform(0.0, 3.0, size=(4, 3))
    _check(positions, 4.0, cell, [True, True, False])


def test_molecule():
    rng = np.random.default_rng(3)
    positions = rng.uniform(0.0, 4.0, size=(8, 3))
    s, r, sh = _check(positions, 2.5, None, None)
    assert np.all(sh == 0)


def test_deterministic():
    rng = np.random.default_rng(4)
    positions = rng.uniform(0.0, 6.0, size=(10, 3))
    cell = np.eye(3) * 6.0
    a = neighbour_list(positions, 4.0, cell, True)
    b = neighbour_list(positions, 4.0, cell, True)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("cutoff", [0.0, -1.0])
def test_bad_cutoff(cutoff):
    with pytest.raises(ValueError, match="cutoff"):
        neighbour_list(np.zeros((1, 3)), cutoff)


def test_singular_cell_with_pbc():
    with pytest.raises(ValueError, match="singular"):
        neighbour_list(np.zeros((1, 3)), 3.0, np.diag([3.0, 3.0, 0.0]), True)


def _rattled(atoms, seed=0, scale=0.1):
    atoms.positions += np.random.default_rng(seed).normal(scale=scale, size=atoms.positions.shape)
    return atoms


@pytest.mark.parametrize("case", ["periodic", "triclinic_unwrapped", "mixed", "molecule"])
def test_streamed_search_gives_the_same_list(case, monkeypatch):
    from hybridpot.graph import neighbours

    if case == "periodic":
        atoms = _rattled(bulk("Cu", "fcc", a=3.6, cubic=True).repeat((3, 3, 6)))
        positions, cell, pbc = atoms.positions, atoms.cell[:], [True, True, True]
    elif case == "triclinic_unwrapped":
        atoms = _rattled(bulk("Cu", "fcc", a=3.6).repeat((5, 5, 8)), seed=1)
        positions, cell, pbc = atoms.positions + 7.3 * atoms.cell[2], atoms.cell[:], [True, True, True]
    elif case == "mixed":
        atoms = _rattled(bulk("Cu", "fcc", a=3.6, cubic=True).repeat((3, 6, 3)), seed=2)
        atoms.center(vacuum=5.0, axis=1)
        positions, cell, pbc = atoms.positions, atoms.cell[:], [True, False, True]
    else:
        atoms = _rattled(bulk("Cu", "fcc", a=3.6, cubic=True).repeat((2, 3, 5)), seed=3)
        positions, cell, pbc = atoms.positions, None, False
    whole = neighbour_list(positions, 5.0, cell, pbc)
    searches = []
    search = neighbours._vesin_pairs
    monkeypatch.setattr(neighbours, "_vesin_pairs", lambda *a: searches.append(1) or search(*a))
    streamed = neighbour_list(positions, 5.0, cell, pbc, chunk_atoms=40)
    assert len(searches) >= 3  # it did stream, slab by slab
    assert whole[0].shape[0] > 1000
    for a, b in zip(whole, streamed):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)


def test_a_list_that_does_not_fit_says_what_it_needs(monkeypatch):
    from hybridpot.graph import neighbours

    atoms = bulk("Cu", "fcc", a=3.6, cubic=True).repeat(4)
    expected = neighbours.estimate_edges(atoms.positions, 5.0, atoms.cell[:], True)
    exact = neighbour_list(atoms.positions, 5.0, atoms.cell[:], True)[0].shape[0]
    assert 0.7 * exact < expected < 1.3 * exact
    monkeypatch.setattr(neighbours, "available_memory", lambda: 10**5)
    with pytest.raises(MemoryError, match=r"256 atoms within 5.0 Å would hold about .* edges, about .* GiB"):
        neighbour_list(atoms.positions, 5.0, atoms.cell[:], True)
