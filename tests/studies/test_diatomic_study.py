"""The study end to end on the bundled curves, with a tiny budget, and its command line."""

import json
from dataclasses import replace

import jax
import numpy as np
import pytest

from hybridpot import cli
from hybridpot.spectroscopy import DVRConvergenceWarning
from hybridpot.studies.diatomic import run as study_run
from hybridpot.studies.diatomic.protocols import get_protocol
from hybridpot.studies.diatomic.training import MORSE, train_model

# compile-heavy: outside the default selection; CI runs it with `pytest -m heavy`
pytestmark = pytest.mark.heavy


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
    for name in ("summary.md", "rmse_X.png", "rmse_EF.png", "curves_X.png", "franck_condon_X-EF.png"):
        assert (tmp_path / name).stat().st_size > 0
    assert on_disk["molecule"] == "H2" and on_disk["fc_states"] == ["X", "EF"]
    assert set(on_disk["level_mae_inv_cm"]) == {"X", "EF"}


def test_lih_study_end_to_end_from_the_command_line(tiny_protocols, tmp_path, capsys):
    out = tmp_path / "lih"
    args = ["study", "diatomic", "--data", "lih", "--quick", "--seeds", "1", "--models", "sequential",
            "--dvr-grid", "0.8:6.0:0.04", "--out", str(out), "--no-progress"]
    # A grid cut at 6 Å is too short for the A state's v′ = 19 (a shallow, wide well): the check says so.
    with pytest.warns(DVRConvergenceWarning, match=r"not converged for LiH A \(v = 0…19\)"):
        assert cli.main(args) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["molecule"] == "LiH" and results["states"] == ["X", "A"]
    assert results["reduced_mass_amu"] == pytest.approx(0.8812381667, rel=1e-9)
    assert list(results["fc_mse"]) == ["X->A"]
    assert results["dvr_convergence"]["X"]["converged"] and not results["dvr_convergence"]["A"]["converged"]
    # LiH X term values: ~1300 cm⁻¹ spacing in this basis (experiment ΔG(1/2) ≈ 1359 cm⁻¹).
    assert 1250 < results["reference_term_values_inv_cm"]["X"][0] < 1400
    # per-level errors (model − reference, median over seeds; one seed here) give the MAE metric
    for state in ("X", "A"):
        errors = results["term_value_errors_inv_cm"][state]["sequential"]["40"]
        assert len(errors) == len(results["reference_term_values_inv_cm"][state]) == 9
        assert np.mean(np.abs(errors)) == pytest.approx(results["level_mae_inv_cm"][state]["sequential"]["40"]["median"], rel=1e-12)
    summary = (out / "summary.md").read_text()
    assert "# Diatomic study of LiH" in summary and "LiH state A" in summary and "H2" not in summary
    for name in ("rmse_X.png", "rmse_A.png", "curves_A.png", "franck_condon_X-A.png"):
        assert (out / name).stat().st_size > 0
    assert not (out / "franck_condon_X-EF.png").exists()


def test_per_fraction_units_train_the_same_runs_as_one_program(tiny_protocols):
    curves = study_run.load_study_curves("bundled")
    keep = curves.distance_angstrom < study_run.MAX_DISTANCE_ANGSTROM
    r, targets = curves.distance_angstrom[keep], {"EF": curves.energy_hartree["EF"][keep]}
    sets = study_run.nested_training_sets(len(r))
    protocols = [study_run.get_protocol("improved", "EF")]
    keys = jax.numpy.stack([jax.random.key(s) for s in (2, 4)])
    with jax.enable_x64(True):
        def train(batching, pick):
            units = study_run._training_units("aphynity", protocols, ["EF"], r, targets, sets, batching, np.float64)
            picked = [units[i] for i in pick]
            return [study_run._train_unit("aphynity", n, p, MORSE, c, keys, [2, 4], None)[0] for n, p, c in picked]

        (whole,) = train("model", [0])
        for f, (params, _, finite) in zip((0, 7), train("fraction", [0, 7])):
            assert bool(np.all(finite))
            for got, want in zip(jax.tree.leaves(params), jax.tree.leaves(whole[0])):
                np.testing.assert_allclose(np.asarray(got)[0, 0], np.asarray(want)[0, f], rtol=1e-7, atol=1e-12)


def _forbid_training(monkeypatch):
    """From now on the study may load stored units but not train one: tracing for a unit's output
    shapes is allowed, running its training raises ``AssertionError``."""
    def no_training(model, protocols, physics, curves, keys, **options):
        if not isinstance(curves.r, jax.core.Tracer):
            raise AssertionError("a stored unit was trained again")
        return train_model(model, protocols, physics, curves, keys, **options)

    monkeypatch.setattr(study_run, "train_model", no_training)


def test_interrupted_study_resumes_from_its_stored_units(tiny_protocols, tmp_path, monkeypatch):
    common = dict(protocol="paper", states=("X",), seeds=2, out=tmp_path, models=("morse",), progress=False)
    first = study_run.run_diatomic_study(batching="fraction", **common)
    assert (first["timing"]["units_trained"], first["timing"]["units_loaded"]) == (8, 0)
    assert len(list((tmp_path / "runs").glob("*.npz"))) == 8

    _forbid_training(monkeypatch)
    again = study_run.run_diatomic_study(batching="fraction", **common)
    assert (again["timing"]["units_trained"], again["timing"]["units_loaded"]) == (0, 8)
    assert again["rmse_per_seed"] == first["rmse_per_seed"]

    # Another setting is another fingerprint: those units are trained, not reused.
    with pytest.raises(AssertionError, match="trained again"):
        study_run.run_diatomic_study(batching="fraction", **{**common, "seeds": 3})

    # A damaged unit file is reported by name, not silently retrained or misread.
    victim = sorted((tmp_path / "runs").glob("morse-X-40pct-*.npz"))[0]
    victim.write_bytes(b"not a zip file")
    with pytest.raises(ValueError, match="morse-X-40pct.*corrupt"):
        study_run.run_diatomic_study(batching="fraction", **common)


def test_isotopologue_reuses_the_h2_trained_units(tiny_protocols, tmp_path, monkeypatch):
    # The isotope check: the models trained on H2 predict D2 levels through the mass alone, so
    # the D2 study in the same folder loads the H2 units (the mass is not in their fingerprint).
    common = dict(protocol="improved", states=("X",), seeds=1, out=tmp_path, models=("morse",), progress=False)
    h2 = study_run.run_diatomic_study(**common)

    _forbid_training(monkeypatch)
    d2 = study_run.run_diatomic_study(isotopologue="D2", **common)
    assert (d2["timing"]["units_trained"], d2["timing"]["units_loaded"]) == (0, 1)
    assert d2["rmse_per_seed"] == h2["rmse_per_seed"]  # the same curves ...
    ratio = d2["reduced_mass_amu"] / h2["reduced_mass_amu"]
    assert ratio == pytest.approx(2.0, rel=1e-3)
    # ... with the heavier mass: the fundamental scales by about 1/sqrt(μ ratio)
    t1 = d2["reference_term_values_inv_cm"]["X"][0] / h2["reference_term_values_inv_cm"]["X"][0]
    assert t1 == pytest.approx(ratio**-0.5, rel=0.02)
    model_t1 = [r["reference_term_values_inv_cm"]["X"][0] + r["term_value_errors_inv_cm"]["X"]["morse"]["40"][0] for r in (h2, d2)]
    assert model_t1[1] / model_t1[0] == pytest.approx(ratio**-0.5, rel=0.02)


def test_cli_names_a_bad_curve_file_and_fails(tmp_path, capsys):
    # Issue 25: a negative r ran the whole study to NaN with exit 0; a binary file gave a codec error.
    negative = tmp_path / "negative.txt"
    negative.write_text("# units: r in angstrom; energies in hartree\n# atoms: H H\n-0.5 -1.0\n1.0 -1.1\n")
    binary = tmp_path / "curves.npz"
    binary.write_bytes(b"PK\x03\x04\x00\x00\xff\xfe")
    for path, message in ((negative, "negative.txt:3: r must be > 0"), (binary, "curves.npz: not a text curve file")):
        assert cli.main(["study", "diatomic", "--data", str(path), "--out", str(tmp_path / "out")]) == 2
        assert message in capsys.readouterr().err


def test_study_rejects_unknown_names():
    with pytest.raises(ValueError, match="unknown state"):
        study_run.run_diatomic_study(states=("A",), out=None)
    with pytest.raises(ValueError, match="unknown model"):
        study_run.run_diatomic_study(models=("mace",), out=None)
    with pytest.raises(ValueError, match="unknown batching"):
        study_run.run_diatomic_study(batching="seed", out=None)


def test_cli_reports_user_errors_without_traceback(capsys, tmp_path):
    assert cli.main(["study", "diatomic", "--seeds", "0"]) == 2
    assert "--seeds must be at least 1" in capsys.readouterr().err
    assert cli.main(["study", "diatomic", "--data", str(tmp_path / "missing.txt"), "--out", str(tmp_path)]) == 2
    assert "missing.txt" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["study", "diatomic", "--protocol", "fast"])
    assert exit_info.value.code == 2


def test_protocol_comparison_counts_the_fractions_the_candidate_wins():
    from hybridpot.studies.diatomic.report import comparison_markdown, median_ratios

    def results(protocol, medians):
        rmse = {"X": {"sequential": {f: {"median": m, "q1": m, "q3": m} for f, m in medians.items()}}}
        return {"protocol": protocol, "rmse": rmse}

    paper = results("paper", {"5": 2e-3, "10": 1e-3})
    improved = results("improved", {"5": 1e-3, "10": 2e-3})
    improved["rmse"]["EF"] = {"nn": {"5": {"median": 1.0, "q1": 1.0, "q3": 1.0}}}  # not in paper: left out
    assert median_ratios(paper, improved) == {"X": {"sequential": {"5": 0.5, "10": 2.0}}}
    table = comparison_markdown(paper, improved)
    assert "| Sequential Phy-ML | 439 → 219 | 219 → 439 | 1/2 |" in table
    assert "EF" not in table
