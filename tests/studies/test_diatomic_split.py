import numpy as np
import pytest

from hybridpot.studies.diatomic import complement_indices, nested_training_sets

# New indices per step for N = 164, from the paper's code (shared/papers/elhaloui2025-code-notes.md).
PUBLISHED_NEW = [
    [0, 3, 13, 29, 53, 83, 119, 162],
    [1, 5, 15, 32, 55, 85, 120, 163],
    [2, 6, 17, 35, 57, 86, 122, 161],
    [4, 8, 20, 37, 60, 88, 123, 159],
    [7, 10, 22, 40, 62, 90, 124, 160],
    [9, 12, 25, 42, 65, 92, 125, 158],
    [11, 16, 27, 45, 67, 94, 126, 156],
    [14, 19, 30, 47, 69, 96, 127, 157],
]


def test_split_reproduces_published_indices():
    sets = nested_training_sets(164)
    assert [len(s) for s in sets] == [8, 16, 24, 32, 40, 48, 56, 64]
    previous = np.array([], int)
    for s, new in zip(sets, PUBLISHED_NEW):
        np.testing.assert_array_equal(np.setdiff1d(s, previous), sorted(new))
        assert set(previous) <= set(s)
        previous = s


def test_test_set_is_the_complement_of_training():
    sets = nested_training_sets(164)
    t = complement_indices(164, sets[0])
    assert len(t) == 156 and not set(t) & set(sets[0])


def test_split_rejects_too_few_points():
    with pytest.raises(ValueError, match="cannot take"):
        nested_training_sets(10)
