"""Data pipeline: data order, common buckets, triplets, prefetch, species checks."""

import dataclasses
import threading
import time

import jax
import numpy as np
import pytest
from train_helpers import emt_data  # noqa: F401  (fixture)

from hybridpot.graph import build_triplets
from hybridpot.train import Dataset, GraphSet, collate, make_buckets, prefetch
from hybridpot.train.data import batch_indices, epoch_order


def test_epoch_order_is_a_pure_function_of_key_and_epoch():
    key = np.array([0, 7], np.uint32)
    a, b = epoch_order(key, 3, 20), epoch_order(key, 3, 20)
    np.testing.assert_array_equal(a, b)
    assert sorted(a) == list(range(20))
    assert not np.array_equal(a, epoch_order(key, 4, 20))
    assert not np.array_equal(a, epoch_order(np.array([0, 8], np.uint32), 3, 20))
    np.testing.assert_array_equal(epoch_order(key, 3, 20, shuffle=False), np.arange(20))


def test_each_epoch_visits_every_structure_once():
    keys = [np.array([0, 1], np.uint32), np.array([0, 2], np.uint32)]
    seen = [[], []]
    for step in range(4):  # 20 structures, batch 6 -> 4 steps per epoch, last one of 2
        for m, parts in enumerate(batch_indices(keys, step, 20, 6, 2)):
            assert len(parts) == 2
            seen[m].extend(np.concatenate(parts).tolist())
    for s in seen:
        assert sorted(s) == list(range(20))


def test_collate_pads_all_parts_to_one_bucket(emt_data):
    train, _ = emt_data
    gs = GraphSet(train, 4.0, dtype=np.float64)
    buckets = make_buckets([gs], 3, 3, 1.5)
    idx = [[np.array([0, 1, 2]), np.array([18])], [np.array([19]), np.array([5, 6])]]
    batch = collate(gs, idx, buckets)
    n_node = batch.graph.nodes["positions"].shape[2]
    assert batch.graph.nodes["positions"].shape[:2] == (2, 2)
    assert batch.energy.shape == (2, 2, 4) and batch.forces.shape == (2, 2, n_node, 3)
    # the bucket is the smallest that fits the largest part
    sizes = [(gs.n_node[i].sum(), gs.n_edge[i].sum(), len(i)) for row in idx for i in row]
    assert buckets.choose(*np.max(sizes, axis=0)).n_node == n_node
    np.testing.assert_array_equal(batch.index[0, 1], [18, -1, -1, -1])
    assert batch.energy[0, 1, 0] == train[18].energy and np.all(batch.energy[0, 1, 1:] == 0)
    np.testing.assert_array_equal(batch.forces[0, 0, : gs.n_node[[0, 1, 2]].sum()],
                                  np.concatenate([train[i].forces for i in (0, 1, 2)]))
    assert batch.has_stress[0, 0, :3].all() and not batch.has_stress[0, 1].any()
    assert batch.has_forces[0, 0, :3].all() and not batch.has_forces[0, 0, 3:].any()


def test_structures_without_forces_collate_to_zero_forces_and_a_false_flag(emt_data):
    train, _ = emt_data
    energy_only = Dataset([dataclasses.replace(s, forces=None) if k % 2 else s for k, s in enumerate(train)])
    gs = GraphSet(energy_only, 4.0, dtype=np.float64)
    batch = collate(gs, [[np.array([0, 1, 2])]], make_buckets([gs], 3, 1, 1.5))
    np.testing.assert_array_equal(batch.has_forces[0, 0], [True, False, True, False])
    n0, n1 = gs.n_node[0], gs.n_node[1]
    np.testing.assert_array_equal(batch.forces[0, 0, :n0], train[0].forces)
    assert np.all(batch.forces[0, 0, n0 : n0 + n1] == 0)
    assert energy_only.fingerprint() != train.fingerprint()


def test_collate_builds_triplets_when_needed(emt_data):
    train, _ = emt_data
    gs = GraphSet(train, 4.0, needs_triplets=True, dtype=np.float64)
    buckets = make_buckets([gs], 2, 2, 1.5)
    batch = jax.tree.map(lambda x: x[0, 0], collate(gs, [[np.array([3, 19])]], buckets))
    n_real = int(gs.n_triplet[[3, 19]].sum())
    reference = build_triplets(jax.tree.map(lambda x: x, batch.graph))
    np.testing.assert_array_equal(batch.triplets.kj[:n_real], reference.kj)
    assert batch.triplets.kj.shape[0] >= n_real


def test_species_outside_the_model_are_named(emt_data):
    train, _ = emt_data
    with pytest.raises(ValueError, match=r"structure 0 contains element\(s\) Al \(Z=13\) that the model was not built for"):
        GraphSet(train, 4.0, species=(29,))


def test_prefetch_keeps_order_propagates_errors_and_stops():
    assert list(prefetch(iter(range(50)), 3)) == list(range(50))
    assert list(prefetch(iter(range(5)), 0)) == list(range(5))

    def failing():
        yield 1
        raise RuntimeError("bad batch")

    with pytest.raises(RuntimeError, match="bad batch"):
        list(prefetch(failing(), 2))

    produced = []

    def endless():
        i = 0
        while True:
            produced.append(i)
            yield i
            i += 1

    before = threading.active_count()
    stream = prefetch(endless(), 2)
    assert next(stream) == 0
    stream.close()
    time.sleep(0.3)
    n = len(produced)
    time.sleep(0.2)
    assert len(produced) == n  # the producer stopped
    assert threading.active_count() <= before


def test_dataset_rejects_bad_labels():
    from hybridpot.train import Structure

    with pytest.raises(ValueError, match="forces"):
        Structure(np.zeros((2, 3)), [1, 1], 0.0, np.zeros((3, 3)))
    with pytest.raises(ValueError, match="energy"):
        Structure(np.zeros((2, 3)), [1, 1], float("nan"), np.zeros((2, 3)))
    with pytest.raises(ValueError, match="at least one"):
        Dataset([])


def test_from_atoms_keeps_energy_only_images_and_names_an_unlabelled_one():
    from ase import Atoms
    from ase.calculators.singlepoint import SinglePointCalculator

    atoms = Atoms("H2", positions=[[0, 0, 0], [0.74, 0, 0]])
    atoms.calc = SinglePointCalculator(atoms, energy=-31.7)
    (s,) = Dataset.from_atoms([atoms]).structures
    assert s.energy == -31.7 and s.forces is None
    with pytest.raises(ValueError, match="image 1 has no energy"):
        Dataset.from_atoms([atoms, Atoms("H2", positions=[[0, 0, 0], [0.74, 0, 0]])])
