"""MD watches itself: the log, the summary, and the guard that stops a collapsing or drifting run."""

import numpy as np
import pytest
from ase import units
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.cluster import Icosahedron
from ase.geometry import get_distances
from ase.io import read
from ase.md.verlet import VelocityVerlet

from hybridpot.cli import main
from hybridpot.md import MDGuard, MDGuardError, MDWatch, closest_pair
from hybridpot.potentials import EnergyNormalisation, TrainedPotential, save_potential


def test_closest_pair_uses_the_minimum_image():
    atoms = bulk("Cu", "fcc", a=3.6, cubic=True).repeat(2)
    atoms.rattle(0.2, seed=1)
    d, i, j = closest_pair(atoms)
    _, all_d = get_distances(atoms.positions, cell=atoms.cell, pbc=True)
    np.fill_diagonal(all_d, np.inf)
    assert d == pytest.approx(all_d.min()) and all_d[i, j] == pytest.approx(d)
    assert closest_pair(atoms[:1]) == (np.inf, -1, -1)


def test_log_summary_and_the_drift_guard(tmp_path):
    atoms = bulk("Cu", "fcc", a=3.6, cubic=True).repeat(2)
    atoms.rattle(0.05, seed=0)
    atoms.calc = EMT()
    dyn = VelocityVerlet(atoms, 2 * units.fs)
    watch = MDWatch(dyn, MDGuard(), interval=5, log_path=tmp_path / "md.log")
    dyn.run(20)
    watch.close()
    lines = (tmp_path / "md.log").read_text().splitlines()
    assert lines[0].startswith("# step time_fs temperature_K") and len(lines) == 1 + 5  # steps 0, 5, ..., 20
    table = np.loadtxt(tmp_path / "md.log")
    np.testing.assert_allclose(table[:, 1], [0, 10, 20, 30, 40])
    s = watch.summary()
    assert s["checks"] == 5 and abs(s["drift_eV_per_atom"]) < 1e-3 and 2.0 < s["min_distance_A"] < 2.6
    assert s["max_force_eV_per_A"] == pytest.approx(table[:, 6].max())
    # a 40 fs step: energy is not conserved, and the guard stops the run at the first bad check
    dyn = VelocityVerlet(atoms, 40 * units.fs)
    watch = MDWatch(dyn, MDGuard(max_drift=0.02), interval=1)
    with pytest.raises(MDGuardError, match=r"drifted .* beyond 0.02 eV/atom") as stop:
        dyn.run(50)
    assert stop.value.step == watch.rows[-1]["step"] and abs(watch.rows[-2]["drift_eV_per_atom"]) <= 0.02
    frame = stop.value.frame  # the previous check's structure, not the one that failed
    assert len(frame) == len(atoms) and frame.calc is None and not np.allclose(frame.positions, atoms.positions)
    with pytest.raises(ValueError, match="max_drift must be > 0"):
        MDGuard(max_drift=-1.0)


def _collapsing_potential(path):
    """A Morse well at 1.0 Å for Cu–Cu: a Cu cluster falls into itself."""
    pot = TrainedPotential.from_init(
        "pair_mlp", {"cutoff": 4.0, "species": [29], "dtype": "float64"},
        physics={"kind": "morse", "d_e": 5.0, "a": 1.5, "r_e": 1.0, "shift": -5.0, "envelope_cutoff": 4.0},
        normalisation=EnergyNormalisation(np.zeros(119), np.asarray(1e-3)))
    save_potential(path, pot)


def test_cli_md_stops_a_collapsing_structure_and_keeps_the_last_good_frame(tmp_path, capsys):
    _collapsing_potential(tmp_path / "bad.npz")
    Icosahedron("Cu", 2).write(tmp_path / "cluster.extxyz")
    out = tmp_path / "md.extxyz"
    assert main(["md", str(tmp_path / "bad.npz"), str(tmp_path / "cluster.extxyz"), "--steps", "300", "--dt", "2",
                 "--write-every", "5", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    threshold = 0.5 * 2 * 1.32  # ASE's covalent radius of Cu, 1.32 Å
    assert f"closer than {threshold:.3f} Å (0.5 × the covalent radii sum)" in err and "collapsing" in err
    assert "Traceback" not in err and str(tmp_path / "md.last_good.extxyz") in err
    good = read(tmp_path / "md.last_good.extxyz")
    assert threshold <= closest_pair(good)[0] < 2.4  # it was contracting, but still above the threshold
    log = np.loadtxt(tmp_path / "md.log")
    assert log[-1, 7] < threshold <= log[-2, 7] and log[-1, 0] < 300
    # --no-guard measures and runs to the end, reporting how close the atoms came
    assert main(["md", str(tmp_path / "bad.npz"), str(tmp_path / "cluster.extxyz"), "--steps", "60", "--dt", "2",
                 "--write-every", "20", "--out", str(out), "--no-guard"]) == 0
    text = capsys.readouterr().out
    assert "closest pair" in text and "largest force" in text and "energy drift" in text
