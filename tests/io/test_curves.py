"""hybridpot.io.curves: unit conversion, comments, names, every error path, the bundled file."""

import numpy as np
import pytest

from hybridpot.io import (
    DiatomicCurves,
    bundled_h2_curves,
    bundled_lih_curves,
    load_curves,
    reference_h2_curves,
    write_curves,
)
from hybridpot.units import (
    BOHR_TO_ANGSTROM,
    HARTREE_TO_EV,
    HARTREE_TO_INV_CM,
    KCAL_PER_MOL_TO_EV,
)


UNITS = "# units: r in angstrom; energies in hartree\n"


def _write(tmp_path, text, name="curves.txt"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_plain_file_default_names_and_comments(tmp_path):
    path = _write(
        tmp_path,
        UNITS + "# a comment\n\n0.5 -1.0 -0.5\n  # indented comment\n0.6 -1.1 -0.6  # trailing comment\n0.7 -1.2 -0.7\n",
    )
    curves = load_curves(path)
    assert isinstance(curves, DiatomicCurves)
    np.testing.assert_array_equal(curves.distance_angstrom, [0.5, 0.6, 0.7])
    assert list(curves.energy_hartree) == ["state0", "state1"]
    np.testing.assert_array_equal(curves.energy_hartree["state1"], [-0.5, -0.6, -0.7])
    assert curves.source == str(path)


def test_names_from_header_and_state_selection(tmp_path):
    path = _write(tmp_path, UNITS + "# method: test\n# columns: r X EF\n1.0 -1.1 -0.7\n2.0 -1.0 -0.71\n")
    curves = load_curves(path)
    assert list(curves.energy_hartree) == ["X", "EF"]
    only = load_curves(path, states=["EF"])
    assert list(only.energy_hartree) == ["EF"]
    np.testing.assert_array_equal(only.energy_hartree["EF"], [-0.7, -0.71])
    with pytest.raises(ValueError, match="unknown state"):
        load_curves(path, states=["GK"])
    with pytest.raises(ValueError, match="disagree"):
        load_curves(path, names=["A", "B"])


def test_names_argument(tmp_path):
    path = _write(tmp_path, UNITS + "1.0 -1.1 -0.7\n2.0 -1.0 -0.71\n")
    assert list(load_curves(path, names=["X", "EF"]).energy_hartree) == ["X", "EF"]
    with pytest.raises(ValueError, match="1 names given"):
        load_curves(path, names=["X"])


@pytest.mark.parametrize(
    "unit, factor",
    [
        ("hartree", 1.0),
        ("ev", 1.0 / HARTREE_TO_EV),
        ("inv_cm", 1.0 / HARTREE_TO_INV_CM),
        ("kcal_per_mol", KCAL_PER_MOL_TO_EV / HARTREE_TO_EV),
    ],
)
def test_energy_units(tmp_path, unit, factor):
    path = _write(tmp_path, "1.0 2.0\n2.0 3.0\n")
    curves = load_curves(path, distance_unit="angstrom", energy_unit=unit)
    np.testing.assert_allclose(curves.energy_hartree["state0"], np.array([2.0, 3.0]) * factor, rtol=1e-15)


def test_known_conversions(tmp_path):
    # 1 hartree = 27.211386 eV = 219474.63 cm^-1 = 627.5095 kcal/mol; 1 bohr = 0.529177 Å
    path = _write(tmp_path, "1.0 627.509474\n2.0 0.0\n")
    curves = load_curves(path, distance_unit="bohr", energy_unit="kcal_per_mol")
    np.testing.assert_allclose(curves.distance_angstrom, [BOHR_TO_ANGSTROM, 2 * BOHR_TO_ANGSTROM], rtol=1e-15)
    np.testing.assert_allclose(curves.energy_hartree["state0"][0], 1.0, rtol=1e-8)
    path = _write(tmp_path, "1.0 27.211386245988\n", name="ev.txt")
    np.testing.assert_allclose(
        load_curves(path, distance_unit="angstrom", energy_unit="eV").energy_hartree["state0"], [1.0], rtol=1e-14
    )


@pytest.mark.parametrize(
    "text, match",
    [
        ("1.0 -1.0\n2.0 abc\n", r"curves.txt:2: value 'abc' is not a number"),
        ("1.0 -1.0 -0.5\n2.0 -1.0\n", r"curves.txt:2: state column missing \(ragged rows\)"),
        ("# columns: r X EF\n1.0 -1.0 -0.5\n2.0 -1.0\n", r"curves.txt:3: state column missing.*names 2 states"),
        ("1.0 -1.0\n2.0 nan\n", r"curves.txt:2: NaN or inf"),
        ("1.0 -1.0\n2.0 inf\n", r"curves.txt:2: NaN or inf"),
        ("# header\n1.0 -1.0\n0.9 -1.0\n", r"curves.txt:3: r must be sorted"),
        ("1.0 -1.0\n1.0 -1.0\n", r"curves.txt:2: duplicate r = 1.0 \(also on line 1\)"),
        ("-0.5 -1.0\n1.0 -1.0\n", r"curves.txt:1: r must be > 0"),
        ("0.0 -1.0\n1.0 -1.0\n", r"curves.txt:1: r must be > 0"),
        ("# only comments\n\n", r"curves.txt: empty file"),
        ("", r"curves.txt: empty file"),
        ("1.0\n", r"curves.txt:1: need r and at least one energy"),
        ("# columns: r X EF\n1.0 -1.0\n", r"curves.txt:2: state column missing.*names 2 states"),
        ("# atoms: Li\n1.0 -1.0\n", r"curves.txt: '# atoms:' must name two element symbols"),
    ],
)
def test_errors_name_file_and_line(tmp_path, text, match):
    path = _write(tmp_path, text + UNITS)  # comment lines may come anywhere
    with pytest.raises(ValueError, match=match):
        load_curves(path)


@pytest.mark.parametrize(
    "header, kwargs, match",
    [
        ("", {}, "units not stated for r and energy"),
        ("# units: energies in hartree\n", {}, "units not stated for r"),
        ("# units: r in bohr\n", {}, "units not stated for energy"),
        ("# units: r in bohr; energies in hartree\n", {"distance_unit": "angstrom"}, "distance unit 'angstrom' given, but the file says 'bohr'"),
        ("# units: r in nm; energies in hartree\n", {}, "unknown distance unit 'nm'"),
    ],
)
def test_units_must_be_stated_once(tmp_path, header, kwargs, match):
    path = _write(tmp_path, header + "1.0 -1.0\n2.0 -0.9\n")
    with pytest.raises(ValueError, match=match) as error:
        load_curves(path, **kwargs)
    assert str(path) in str(error.value)


def test_units_molecule_and_atoms_from_the_header(tmp_path):
    path = _write(tmp_path, "# molecule: HeH+\n# atoms: He H\n# units: r bohr, energy ev\n# columns: r X\n2.0 27.211386245988\n3.0 0\n")
    curves = load_curves(path)
    np.testing.assert_allclose(curves.distance_angstrom, [2 * BOHR_TO_ANGSTROM, 3 * BOHR_TO_ANGSTROM], rtol=1e-15)
    np.testing.assert_allclose(curves.energy_hartree["X"], [1.0, 0.0], rtol=1e-14)
    assert (curves.molecule, curves.atoms) == ("HeH+", ("He", "H"))
    with pytest.raises(ValueError, match="molecule 'LiH' given, but the file says 'HeH\\+'"):
        load_curves(path, molecule="LiH")


@pytest.mark.parametrize(
    "content, match",
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not a text curve file"),
        ("1.0 -1.0 # \u00e9\n".encode("latin-1"), "not a UTF-8 text curve file"),
    ],
)
def test_binary_or_undecodable_file_is_named(tmp_path, content, match):
    path = tmp_path / "curves.bin"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=match) as error:
        load_curves(path, distance_unit="angstrom", energy_unit="hartree")
    assert str(path) in str(error.value)


def test_unreadable_paths_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.txt"):
        load_curves(tmp_path / "missing.txt")
    with pytest.raises(ValueError, match="is a directory"):
        load_curves(tmp_path)


@pytest.mark.parametrize("kwargs", [{"distance_unit": "nm"}, {"energy_unit": "joule"}])
def test_unknown_unit(tmp_path, kwargs):
    path = _write(tmp_path, "1.0 -1.0\n")
    with pytest.raises(ValueError, match="unknown (distance|energy) unit"):
        load_curves(path, **{"distance_unit": "angstrom", "energy_unit": "hartree", **kwargs})


def test_bundled_lih_curves():
    curves = bundled_lih_curves()
    r = curves.distance_angstrom
    assert (curves.molecule, curves.atoms) == ("LiH", ("Li", "H"))
    assert list(curves.energy_hartree) == ["X", "A"]
    assert r.shape == (133,) and r[0] == pytest.approx(0.8) and r[-1] == pytest.approx(15.0)
    x, a = curves.energy_hartree["X"], curves.energy_hartree["A"]
    # X: minimum near the experimental r_e = 1.596 Å; A: a shallow well near 2.4–2.6 Å.
    assert r[np.argmin(x)] == pytest.approx(1.6, abs=0.05)
    assert r[np.argmin(a)] == pytest.approx(2.5, abs=0.15)
    # Well depths in a small basis: X about 2.3 eV (experiment 2.5), A about 1.0 eV (experiment 1.1).
    assert (x[-1] - x.min()) * HARTREE_TO_EV == pytest.approx(2.3, abs=0.2)
    assert (a[-1] - a.min()) * HARTREE_TO_EV == pytest.approx(1.0, abs=0.15)
    assert np.all(a > x)


def test_bundled_h2_curves():
    curves = bundled_h2_curves()
    r = curves.distance_angstrom
    assert r.shape == (426,)
    assert r[0] == pytest.approx(0.5) and r[-1] == pytest.approx(50.5)
    assert list(curves.energy_hartree)[:2] == ["X", "EF"]
    assert (curves.molecule, curves.atoms) == ("H2", ("H", "H"))
    x, ef = curves.energy_hartree["X"], curves.energy_hartree["EF"]
    # X: minimum near 0.74 Å, about -1.172 Eh; two H(1s) atoms at large r.
    assert 0.65 <= r[np.argmin(x)] <= 0.8
    assert x.min() == pytest.approx(-1.172, abs=2e-3)
    assert x[-1] == pytest.approx(-1.0, abs=1e-3)
    # EF: double well (inner near 1.0 Å, outer near 2.3 Å), H(1s) + H(n=2) at large r.
    inner, outer = (r > 0.8) & (r < 1.5), (r > 1.9) & (r < 3.0)
    assert r[inner][np.argmin(ef[inner])] == pytest.approx(1.0, abs=0.15)
    assert r[outer][np.argmin(ef[outer])] == pytest.approx(2.3, abs=0.15)
    barrier = ef[(r > 1.5) & (r < 1.9)].max()
    assert barrier > ef[inner].min() + 0.01 and barrier > ef[outer].min() + 0.01
    assert ef[-1] == pytest.approx(-0.625, abs=1e-3)
    # Roots ordered and ¹Σg⁺ energies below the next state at every r.
    energies = np.stack(list(curves.energy_hartree.values()))
    assert np.all(np.diff(energies, axis=0) >= -1e-12)


def test_reference_missing_raises(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match="not shipped"):
        reference_h2_curves(shared_dir=tmp_path)
    monkeypatch.setenv("HYBRIDPOT_SHARED_DATA", str(tmp_path))
    with pytest.raises(FileNotFoundError, match=str(tmp_path / "diatomic")):
        reference_h2_curves()


def test_reference_env_var(tmp_path, monkeypatch):
    (tmp_path / "diatomic").mkdir()
    row = "0.5 " + " ".join(f"{-1.0 + 0.01 * i:.4f}" for i in range(8))
    (tmp_path / "diatomic" / "Potential_Energy_Curves_H2_GS_ES1-7.txt").write_text(row + "\n")
    monkeypatch.setenv("HYBRIDPOT_SHARED_DATA", str(tmp_path))
    curves = reference_h2_curves()
    assert curves.molecule == "H2"
    assert list(curves.energy_hartree) == ["X", "EF"] + [f"state{i}" for i in range(2, 8)]
    assert curves.energy_hartree["EF"][0] == pytest.approx(-0.99)


def test_write_curves_round_trips_the_bundled_lih_file(tmp_path):
    lih = bundled_lih_curves()
    names = list(lih.energy_hartree)
    energies = np.stack([lih.energy_hartree[n] for n in names], axis=1)
    header = ["molecule: LiH", "atoms: Li H", "units: r in angstrom; energies in hartree", "columns: r " + " ".join(names)]
    path = tmp_path / "sub" / "lih.txt"
    write_curves(path, lih.distance_angstrom, energies, header)
    again = load_curves(path)
    np.testing.assert_array_equal(again.distance_angstrom, lih.distance_angstrom)
    for name in names:
        np.testing.assert_allclose(again.energy_hartree[name], lih.energy_hartree[name], rtol=0, atol=5e-11)
