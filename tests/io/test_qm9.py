"""QM9 loader: units, padding, the property data set, clear errors, and the shared subset when present."""

import numpy as np
import pytest

from hybridpot.io import QM9_UNITS, load_qm9, shared_qm9_path
from hybridpot.units import HARTREE_TO_EV


def _molecules(n=3, width=5):
    rng = np.random.default_rng(0)
    counts = np.array([5, 3, 4])[:n]
    z = np.zeros((n, width), np.int64)
    r = np.zeros((n, width, 3))
    for i, c in enumerate(counts):
        z[i, :c] = rng.choice([1, 6, 7, 8, 9], size=c)
        r[i, :c] = rng.normal(size=(c, 3))
    data = {"idx": np.arange(1, n + 1), "N": counts, "Z": z, "R": r}
    for key in QM9_UNITS:
        data[key] = rng.normal(size=n)
    return data


def test_units_padding_and_property_dataset(tmp_path):
    data = _molecules()
    np.savez(tmp_path / "q.npz", **data)
    q = load_qm9(tmp_path / "q.npz")
    assert q.n_molecules == 3 and [len(z) for z in q.numbers] == [5, 3, 4]
    np.testing.assert_array_equal(q.positions[1], data["R"][1, :3])
    np.testing.assert_allclose(q.properties["homo"], data["homo"] * HARTREE_TO_EV)
    np.testing.assert_allclose(q.properties["U0"], data["U0"] * HARTREE_TO_EV)
    np.testing.assert_array_equal(q.properties["mu"], data["mu"])  # Debye, as in the file
    ds = q.to_dataset("gap", [2, 0])
    assert len(ds) == 2 and ds[0].energy == pytest.approx(data["gap"][2] * HARTREE_TO_EV)
    assert ds[1].forces is None  # energy-only labels: no force loss, no backward pass
    assert len(q.to_dataset("alpha", np.array([True, False, True]))) == 2
    with pytest.raises(ValueError, match="unknown QM9 property 'dipole'"):
        q.to_dataset("dipole")


@pytest.mark.parametrize(
    "change, match",
    [
        (lambda d: d.pop("gap"), r"missing keys \['gap'\]"),
        (lambda d: d.__setitem__("N", np.array([5, 2, 4])), "molecule 1 does not have its N = 2 atoms first"),
        (lambda d: d["homo"].__setitem__(1, np.nan), "homo contains NaN or inf"),
        (lambda d: d.__setitem__("R", d["R"][:, :4]), "shapes disagree"),
    ],
)
def test_bad_files_are_named(tmp_path, change, match):
    data = _molecules()
    change(data)
    np.savez(tmp_path / "q.npz", **data)
    with pytest.raises(ValueError, match=match):
        load_qm9(tmp_path / "q.npz")


def test_missing_and_corrupt_files(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_qm9(tmp_path / "none.npz")
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="not a readable npz"):
        load_qm9(tmp_path / "bad.npz")


@pytest.mark.skipif(not shared_qm9_path().is_file(), reason="shared QM9 subset not present")
def test_shared_subset():
    q = load_qm9()
    assert q.n_molecules == 20000
    assert set(np.concatenate(q.numbers).tolist()) <= {1, 6, 7, 8, 9}
    assert max(len(z) for z in q.numbers) <= 29
    gap = q.properties["lumo"] - q.properties["homo"]
    assert np.max(np.abs(gap - q.properties["gap"])) < 1e-4 * HARTREE_TO_EV + 1e-9  # 4 decimals of Ha in the CSV
