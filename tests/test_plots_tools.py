"""Plots: parity, error histogram, learning curve, dimer curve with separate physics and learned parts."""

import json

import numpy as np
import pytest

from hybridpot import plots
from hybridpot.potentials import EnergyNormalisation, TrainedPotential


def test_parity_and_histogram(tmp_path):
    rng = np.random.default_rng(0)
    ref = rng.normal(size=50)
    pred = ref + 0.1 * rng.normal(size=(3, 50))
    plots.parity_plot(ref, pred, quantity="forces", unit="eV/Å", path=tmp_path / "p.png")
    plots.error_histogram(ref, pred[0], path=tmp_path / "h.png")
    assert (tmp_path / "p.png").stat().st_size > 1000 and (tmp_path / "h.png").stat().st_size > 1000
    with pytest.raises(ValueError, match="50 reference values but 49"):
        plots.parity_plot(ref, pred[:, :49])
    # one colour and one MAE per group (config_type), in the legend
    groups = np.where(np.arange(50) < 20, "bulk", "surface")
    fig = plots.parity_plot(ref, pred[0], groups=groups)
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    mae = np.abs(pred[0, :20] - ref[:20]).mean()
    assert len(labels) == 2 and labels[0].startswith(f"bulk: MAE {mae:.3g}") and labels[1].startswith("surface")
    with pytest.raises(ValueError, match="49 group labels"):
        plots.parity_plot(ref, pred, groups=groups[:49])


def test_calibration_plot(tmp_path):
    rng = np.random.default_rng(0)
    sigma = rng.uniform(0.1, 1.0, 200)
    plots.calibration_plot(rng.normal(size=200) * sigma, 2 * sigma, scales=(1.0, 0.5), path=tmp_path / "c.png")
    assert (tmp_path / "c.png").stat().st_size > 1000
    with pytest.raises(ValueError, match="sigma must be > 0"):
        plots.calibration_plot(np.ones(3), np.zeros(3))


def test_learning_curve(tmp_path):
    rows = [{"step": s, "train_loss": [1.0 / s, 2.0 / s]} for s in range(1, 10)] + [{"step": 9, "valid_loss": [0.2, 0.3]}]
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    plots.learning_curve(tmp_path, tmp_path / "lc.png")
    assert (tmp_path / "lc.png").stat().st_size > 1000
    with pytest.raises(FileNotFoundError):
        plots.learning_curve(tmp_path / "nothing", tmp_path / "x.png")


def test_dimer_parts_add_up_and_plot(tmp_path):
    shift = np.zeros(119)
    shift[29] = -0.5
    pot = TrainedPotential.from_init("pair_mlp", {"cutoff": 3.0, "species": [29], "dtype": "float64"}, n_members=2,
                                     physics={"kind": "zbl", "envelope_cutoff": 2.0},
                                     normalisation=EnergyNormalisation(shift, np.asarray(0.2)))
    r = np.linspace(0.6, 3.5, 30)
    data = plots.dimer_energies(pot, "Cu", 29, r)
    np.testing.assert_allclose(data["total"], data["learned"] + data["physics"])
    assert data["learned"].shape == data["physics"].shape == (2, 30)
    assert np.all(data["physics"][:, r >= 2.0] == 0) and np.all(data["physics"][:, 0] > 10)
    np.testing.assert_allclose(data["learned"][:, r > 3.0], -1.0)  # beyond the cutoff: the two shifts
    plots.dimer_curve(pot, "Cu", "Cu", path=tmp_path / "d.png")
    assert (tmp_path / "d.png").stat().st_size > 1000
