"""``hybridpot properties``: a model file written here, a report and plots, clear errors for bad structures."""

import json

import numpy as np
import pytest
from ase.build import bulk
from ase.io import write
from properties_helpers import eam_hybrid, eam_lattice_constant

from hybridpot.cli import main
from hybridpot.potentials import save_potential
from hybridpot.properties import elastic_constants


@pytest.mark.heavy  # ~30 s on 2 cores: the QHA compiles the force constants of a few supercell sizes
def test_properties_command_writes_report_and_plots(tmp_path, capsys):
    model = save_potential(tmp_path / "model", eam_hybrid())
    atoms = bulk("Al", "fcc", a=eam_lattice_constant())
    write(tmp_path / "al.extxyz", atoms)
    out = tmp_path / "out"
    status = main(["properties", model, str(tmp_path / "al.extxyz"), "--out", str(out), "--mesh", "6", "6", "6",
                   "--t-max", "400", "--t-step", "100"])
    assert status == 0, capsys.readouterr().err
    report = json.load(open(out / "properties.json"))
    assert set(report) >= {"structure", "eos", "elastic", "phonons", "qha"}
    assert abs(report["eos"]["scale_to_v0"] - 1) < 1e-4  # the structure is at the model's minimum
    np.testing.assert_allclose(report["elastic"]["relaxed_GPa"], elastic_constants(atoms, eam_hybrid()).relaxed,
                               rtol=1e-10)
    assert report["phonons"]["supercell"] == [5, 5, 5] and report["phonons"]["bands"]["labels"][0] == "G"
    assert report["qha"]["temperature_K"] == [0.0, 100.0, 200.0, 300.0, 400.0]
    assert report["qha"]["linear_expansion_per_K"][3] > 0
    for name in ("eos.png", "phonons.png", "thermal_expansion.png"):
        assert (out / name).stat().st_size > 1000
    assert "C (relaxed, GPa): C11" in capsys.readouterr().out

    rattled = bulk("Al", "fcc", a=eam_lattice_constant(), cubic=True)
    rattled.rattle(0.05, seed=3)
    write(tmp_path / "rattled.extxyz", rattled)
    assert main(["properties", model, str(tmp_path / "rattled.extxyz"), "--what", "elastic", "--relax", "--out",
                 str(tmp_path / "relaxed")]) == 0  # the same structure that fails unrelaxed (below) passes relaxed
    assert json.load(open(tmp_path / "relaxed" / "properties.json"))["relaxed_here"] is True


def test_properties_command_errors(tmp_path, capsys):
    model = save_potential(tmp_path / "model", eam_hybrid())
    rattled = bulk("Al", "fcc", a=eam_lattice_constant(), cubic=True)
    rattled.rattle(0.05, seed=3)
    write(tmp_path / "rattled.extxyz", rattled)
    args = ["properties", model, str(tmp_path / "rattled.extxyz"), "--what", "elastic", "--out", str(tmp_path / "o")]
    assert main(args) == 2
    assert "relax" in capsys.readouterr().err
    molecule = bulk("Al", "fcc", a=eam_lattice_constant())
    molecule.pbc = False
    write(tmp_path / "molecule.xyz", molecule)
    assert main(["properties", model, str(tmp_path / "molecule.xyz"), "--what", "elastic", "--out",
                 str(tmp_path / "o")]) == 2
    assert "periodic in x, y and z" in capsys.readouterr().err
    assert main(["properties", model, str(tmp_path / "rattled.extxyz"), "--what", "entropy"]) == 2
    assert "unknown properties ['entropy']" in capsys.readouterr().err
