"""MD17 loader: units, label sets, split flags, the bundled subset, and clear errors."""

from __future__ import annotations

import numpy as np
import pytest

from hybridpot.io import bundled_md17, load_md17, protocol_split, shared_md17_path
from hybridpot.units import KCAL_PER_MOL_TO_EV


def _write(path, **arrays):
    np.savez(path, **arrays)
    return path


def _frames(n=4, a=3):
    rng = np.random.default_rng(0)
    return dict(z=np.array([6, 1, 8]), R=rng.normal(size=(n, a, 3)), E=rng.normal(size=n), F=rng.normal(size=(n, a, 3)),
                E_md17=rng.normal(size=n), F_md17=rng.normal(size=(n, a, 3)), idx=np.arange(n) * 7,
                rmd17_train_split=np.zeros((5, n), bool), rmd17_test_split=np.ones((5, n), bool))


def test_units_labels_and_splits(tmp_path):
    d = _frames()
    path = _write(tmp_path / "mol.npz", **d)
    ev = load_md17(path)
    kcal = load_md17(path, units="kcal/mol")
    old = load_md17(path, labels="md17", units="kcal/mol")
    np.testing.assert_allclose(ev.energy, d["E"] * KCAL_PER_MOL_TO_EV)
    np.testing.assert_allclose(ev.forces, d["F"] * KCAL_PER_MOL_TO_EV)
    np.testing.assert_array_equal(kcal.energy, d["E"])
    np.testing.assert_array_equal(old.forces, d["F_md17"])
    train, test = ev.official_split(2)
    assert train.size == 0 and test.tolist() == [0, 1, 2, 3]
    sub = ev.select([1, 3])
    assert sub.n_frames == 2 and sub.index.tolist() == [7, 21] and sub.rmd17_test_split.shape == (5, 2)
    ds = ev.to_dataset([0, 2])
    assert len(ds) == 2 and ds[1].energy == pytest.approx(ev.energy[2])
    with pytest.raises(ValueError, match="eV"):
        kcal.to_dataset()


@pytest.mark.parametrize("drop", ["z", "R", "E", "F"])
def test_missingkey_names_file_and_key(tmp_path, drop):
    d = _frames()
    d.pop(drop)
    path = _write(tmp_path / "broken.npz", **d)
    with pytest.raises(ValueError, match=rf"broken\.npz.*'{drop}'"):
        load_md17(path)


def test_corrupt_and_inconsistent_files(tmp_path):
    bad = tmp_path / "corrupt.npz"
    bad.write_bytes(b"PK\x03\x04 definitely not a zip")
    with pytest.raises(ValueError, match="corrupt.npz"):
        load_md17(bad)
    d = _frames()
    d["F"] = d["F"][:, :2]
    with pytest.raises(ValueError, match=r"shape.*'F'|'F'.*shape"):
        load_md17(_write(tmp_path / "shape.npz", **d))
    d = _frames()
    d["E"][1] = np.nan
    with pytest.raises(ValueError, match="'E'.*NaN"):
        load_md17(_write(tmp_path / "nan.npz", **d))
    with pytest.raises(FileNotFoundError):
        load_md17(tmp_path / "absent.npz")
    with pytest.raises(ValueError, match="unknown MD17 molecule"):
        shared_md17_path("caffeine")


def test_bundled_subset_and_protocol_split():
    frames = bundled_md17()
    assert frames.n_frames == 200 and frames.numbers.tolist() == [6, 6, 8, 1, 1, 1, 1, 1, 1]
    # forces sum to ~0 (rMD17) and energies are in eV (ethanol ≈ −97,000 kcal/mol ≈ −4,200 eV)
    assert np.abs(frames.forces.sum(axis=1)).max() < 1e-5
    assert -4300 < frames.energy.mean() < -4100
    with pytest.raises(ValueError, match="E_md17"):
        load_md17(frames.source, labels="md17")
    tr, va, te = protocol_split(200, 100, 50)
    assert len(tr) == 100 and len(va) == 50 and len(te) == 50
    assert len(set(tr) | set(va) | set(te)) == 200
    with pytest.raises(ValueError):
        protocol_split(100, 80, 30)


def test_shared_file_when_present():
    path = shared_md17_path("uracil")
    if not path.is_file():
        pytest.skip("shared MD17 data not present")
    frames = load_md17("uracil")
    train, test = frames.official_split(0)
    assert len(train) == 1000 and len(test) == 1000
