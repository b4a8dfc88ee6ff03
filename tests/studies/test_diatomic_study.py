"""The study end to end on the bundled curves, with a tiny budget, and its command line."""

import json
from dataclasses import replace

import numpy as np
import pytest

from hybridpot import cli
from hybridpot.studies.diatomic import run as study_run
from hybridpot.studies.diatomic.protocols import get_protocol


@pytest.fixture
def tiny_protocols(monkeypatch):
    def tiny(name, state, quick=False):
        protocol = get_protocol(name, state, quick)
        stages = {
            m: tuple(replace(s, steps=(30,) * 8, lbfgs_steps=min(s.lbfgs_steps, 2)) for s in ss)
            for m, ss in protocol.stages.items()
        }
        return replace(protocol, stages=stages)

    monkeypatch.setattr(study_run, "get_protocol", tiny)
    # The paper's 850-point Franck–Condon grid costs one dense 850² eigh per run; a 0.05 Å
    # grid over the same range exercises the same path at a fraction of the cost.
    monkeypatch.setattr(study_run, "franck_condon_grid", lambda: np.arange(10, 180) / 20.0)


def test_study_writes_results_in_the_documented_shape(tiny_protocols, tmp_path):
    results = study_run.run_diatomic_study(
        protocol="paper", seeds=2, out=tmp_path, models=("sequential",), progress=False
    )
    on_disk = json.loads((tmp_path / "results.json").read_text())
    assert on_disk["rmse"] == results["rmse"]
    for state in ("X", "EF"):
        for model in ("sequential",):
            stats = on_disk["rmse"][state][model]
            assert list(stats) == ["5", "10", "15", "20", "25", "30", "35", "40"]
            for s in stats.values():
                assert s["q1"] <= s["median"] <= s["q3"] and s["median"] > 0
    fc = on_disk["fc_mse"]["X->EF"]["sequential"]["40"]
    assert fc["q1"] <= fc["median"] <= fc["q3"]
    assert len(on_disk["fc_reference"]) == on_disk["fc_levels"]
    assert set(on_disk["physical_parameters"]["X"]["sequential"]) == {"D_e", "r_e", "a"}
    for name in ("summary.md", "rmse_X.png", "rmse_EF.png", "curves_X.png", "franck_condon.png"):
        assert (tmp_path / name).stat().st_size > 0


def test_study_rejects_unknown_names():
    with pytest.raises(ValueError, match="unknown state"):
        study_run.run_diatomic_study(states=("A",), out=None)
    with pytest.raises(ValueError, match="unknown model"):
        study_run.run_diatomic_study(models=("mace",), out=None)


def test_cli_reports_user_errors_without_traceback(capsys, tmp_path):
    assert cli.main(["study", "diatomic", "--seeds", "0"]) == 2
    assert "--seeds must be at least 1" in capsys.readouterr().err
    assert cli.main(["study", "diatomic", "--data", str(tmp_path / "missing.txt"), "--out", str(tmp_path)]) == 2
    assert "missing.txt" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["study", "diatomic", "--protocol", "fast"])
    assert exit_info.value.code == 2
