"""The report of one crystal is JSON-ready and its plots are drawn, for one report and two overlaid."""

import json

import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.emt import EMT
from properties_helpers import EMT_CUTOFF, emt_lattice_constant

from hybridpot.properties import CalculatorSource
from hybridpot.properties.plots import report_plots
from hybridpot.properties.report import property_report, relax_crystal


def test_report_and_plots(tmp_path):
    source = CalculatorSource(EMT(), cutoff=EMT_CUTOFF)
    reports = {name: property_report(bulk(symbol, "fcc", a=emt_lattice_constant(symbol)), source,
                                     temperatures=np.arange(0.0, 401.0, 100.0), mesh=(6, 6, 6), band_points=40)
               for name, symbol in (("Al", "Al"), ("Ni", "Ni"))}
    back = json.loads(json.dumps(reports))  # JSON-ready: nothing but lists, numbers, strings and bools
    assert back["Al"]["elastic"]["relaxed_GPa"][3][3] == pytest.approx(36.2, abs=0.1)
    assert len(back["Ni"]["phonons"]["bands"]["frequencies_THz"]) == 40
    paths = report_plots(reports, tmp_path, title="EMT")
    assert [p.rsplit("/", 1)[1] for p in paths] == ["eos.png", "phonons.png", "thermal_expansion.png"]
    assert all((tmp_path / name).stat().st_size > 1000 for name in ("eos.png", "phonons.png", "thermal_expansion.png"))
    with pytest.raises(ValueError, match="unknown properties"):
        property_report(bulk("Al", "fcc", a=4.0), source, what=("eos", "band gap"))


def test_relax_crystal_reaches_the_eos_minimum():
    start = bulk("Al", "fcc", a=4.05, cubic=True)
    start.rattle(0.02, seed=4)
    relaxed = relax_crystal(start, EMT(), fmax=1e-5)
    assert relaxed.get_volume() ** (1 / 3) == pytest.approx(emt_lattice_constant("Al"), abs=2e-4)
    assert relaxed.calc is None and start.get_volume() == pytest.approx(4.05**3)
