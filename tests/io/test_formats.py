"""Structure files: extxyz / ASE db / MD17 npz, unit conversion, and errors that name the file and problem."""

import numpy as np
import pytest
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator

from hybridpot.io import (
    parse_frame_selection,
    read_atoms,
    read_structures,
    write_structures,
)
from hybridpot.train import Dataset, Structure
from hybridpot.units import BOHR_TO_ANGSTROM, HARTREE_TO_EV


def _dataset():
    rng = np.random.default_rng(0)
    cell = np.diag([4.0, 4.2, 4.4])
    stress = rng.normal(size=(3, 3)) * 1e-2
    bulk = Structure(rng.uniform(0, 4, (3, 3)), [29, 29, 13], -3.5, rng.normal(size=(3, 3)), cell, [True] * 3,
                     stress + stress.T)
    molecule = Structure(np.array([[0.0, 0, 0], [0.96, 0, 0], [-0.24, 0.93, 0]]), [8, 1, 1], -14.2,
                         rng.normal(size=(3, 3)))
    return Dataset([bulk, molecule])


@pytest.mark.parametrize("name", ["d.extxyz", "d.db"])
def test_round_trip(tmp_path, name):
    data = _dataset()
    write_structures(tmp_path / name, data)
    back = read_structures(tmp_path / name)
    for a, b in zip(data, back):
        np.testing.assert_allclose(b.positions, a.positions, atol=1e-10)
        np.testing.assert_allclose(b.forces, a.forces, atol=1e-10)
        assert b.energy == pytest.approx(a.energy) and list(b.numbers) == list(a.numbers)
    np.testing.assert_allclose(back[0].stress, data[0].stress, atol=1e-10)
    assert back[1].cell is None and back[1].stress is None


def test_units_and_custom_keys_are_converted(tmp_path):
    atoms = Atoms("H2", positions=[[0, 0, 0], [1.4, 0, 0]])  # bohr
    atoms.info["REF_energy"] = -1.17  # hartree
    atoms.arrays["REF_forces"] = np.array([[0.01, 0, 0], [-0.01, 0, 0]])  # hartree/bohr
    from ase.io import write

    write(tmp_path / "h2.extxyz", atoms)
    s = read_structures(tmp_path / "h2.extxyz", energy_unit="hartree", length_unit="bohr",
                        energy_key="REF_energy", forces_key="REF_forces")[0]
    assert s.energy == pytest.approx(-1.17 * HARTREE_TO_EV)
    assert s.positions[1, 0] == pytest.approx(1.4 * BOHR_TO_ANGSTROM)
    assert s.forces[0, 0] == pytest.approx(0.01 * HARTREE_TO_EV / BOHR_TO_ANGSTROM)
    with pytest.raises(ValueError, match="unknown energy unit 'Hartrees'.*kcal/mol"):
        read_structures(tmp_path / "h2.extxyz", energy_unit="Hartrees")


def test_md17_npz_dispatches_to_the_md17_reader():
    from importlib import resources

    with resources.as_file(resources.files("hybridpot") / "data" / "md17_ethanol_rmd17_200.npz") as path:
        data = read_structures(path, index="0:5")
    assert len(data) == 5 and list(data[0].numbers).count(6) == 2 and abs(data[0].energy) > 1e3  # eV


def test_frames_selected_in_the_name_as_ase_does(tmp_path):
    rng = np.random.default_rng(1)
    frames = [Structure(rng.uniform(0, 3, (2, 3)), [1, 1], float(-k), np.zeros((2, 3)),
                        config_type="dimer" if k % 2 else None) for k in range(6)]
    path = tmp_path / "f.extxyz"
    write_structures(path, Dataset(frames))
    energies = lambda d: [s.energy for s in d]  # noqa: E731
    assert energies(read_structures(f"{path}@1:5:2")) == [-1.0, -3.0]
    assert energies(read_structures(f"{path}@-1")) == [-5.0]
    assert energies(read_structures(f"{path}@4,0,4")) == [-4.0, 0.0, -4.0]
    assert energies(read_structures(path, index=[2, -2])) == [-2.0, -4.0]
    assert len(read_atoms(f"{path}@::3")) == 2
    # config_type survives the round trip (None where the frame has none)
    assert [s.config_type for s in read_structures(path)] == [None, "dimer"] * 3
    md17 = tmp_path / "m.npz"
    from importlib import resources

    with resources.as_file(resources.files("hybridpot") / "data" / "md17_ethanol_rmd17_200.npz") as bundled:
        md17.write_bytes(bundled.read_bytes())
    whole = read_structures(md17)
    assert [s.energy for s in read_structures(f"{md17}@3,1")] == [whole[3].energy, whole[1].energy]
    with pytest.raises(ValueError, match="no frame 6; the file has 6 frames"):
        read_structures(f"{path}@0,6")
    with pytest.raises(ValueError, match="no frame 9"):
        read_structures(f"{path}@9")
    with pytest.raises(ValueError, match="selected twice"):
        read_structures(f"{path}@0", index="1")
    with pytest.raises(ValueError, match="bad frame selection 'one'"):
        read_structures(f"{path}@one")
    with pytest.raises(ValueError, match="no structures"):
        read_structures(f"{path}@3:3")
    with pytest.raises(FileNotFoundError, match="other.extxyz"):
        read_structures(tmp_path / "other.extxyz@0")
    assert parse_frame_selection(" :10 ") == slice(None, 10) and parse_frame_selection("7") == 7


def _frame(n_forces=3, energy=-1.0):
    atoms = Atoms("Cu3", positions=[[0, 0, 0], [2.5, 0, 0], [0, 2.5, 0]])
    atoms.calc = SinglePointCalculator(atoms, energy=energy, forces=np.zeros((3, 3)))
    return atoms


def test_errors_name_the_file_and_the_problem(tmp_path):
    from ase.io import write

    with pytest.raises(FileNotFoundError, match="missing.extxyz"):
        read_structures(tmp_path / "missing.extxyz")
    (tmp_path / "empty.extxyz").write_text("")
    with pytest.raises(ValueError, match=r"empty.extxyz: empty file"):
        read_structures(tmp_path / "empty.extxyz")
    # truncated: the header promises 3 atoms, the file ends after 2
    write(tmp_path / "ok.extxyz", [_frame(), _frame()])
    lines = (tmp_path / "ok.extxyz").read_text().splitlines()
    (tmp_path / "cut.extxyz").write_text("\n".join(lines[:4]) + "\n")
    with pytest.raises(ValueError, match=r"cut.extxyz: cannot read"):
        read_structures(tmp_path / "cut.extxyz")
    # garbage where a number should be
    bad = lines[:]
    bad[2] = bad[2].replace(bad[2].split()[1], "x1.0y", 1)
    (tmp_path / "garbage.extxyz").write_text("\n".join(bad) + "\n")
    with pytest.raises(ValueError, match=r"garbage.extxyz: cannot read"):
        read_structures(tmp_path / "garbage.extxyz")
    # no labels
    write(tmp_path / "unlabelled.extxyz", Atoms("Cu2", positions=[[0, 0, 0], [2.5, 0, 0]]))
    with pytest.raises(ValueError, match=r"unlabelled.extxyz: frame 0: no energy"):
        read_structures(tmp_path / "unlabelled.extxyz")
    # inconsistent: forces of the wrong length
    atoms = Atoms("Cu3", positions=[[0, 0, 0], [2.5, 0, 0], [0, 2.5, 0]])
    atoms.info["energy"] = -1.0
    atoms.info["REF_forces"] = np.zeros((2, 3))
    write(tmp_path / "inconsistent.extxyz", atoms)
    with pytest.raises(ValueError, match=r"inconsistent.extxyz: frame 0: (forces|no 'REF_forces')"):
        read_structures(tmp_path / "inconsistent.extxyz", forces_key="REF_forces")
    # NaN energy in the second frame
    write(tmp_path / "nan.extxyz", [_frame(), _frame(energy=float("nan"))])
    with pytest.raises(ValueError, match=r"nan.extxyz: frame 1: energy holds NaN"):
        read_structures(tmp_path / "nan.extxyz")
    # a corrupt database
    (tmp_path / "corrupt.db").write_bytes(b"\x00\x01garbage" * 100)
    with pytest.raises(ValueError, match=r"corrupt.db: cannot read"):
        read_structures(tmp_path / "corrupt.db")
    # an MD17 npz with a missing key
    np.savez(tmp_path / "md17.npz", z=np.array([1, 1]), R=np.zeros((2, 2, 3)))
    with pytest.raises(ValueError, match=r"md17.npz: missing key 'E'"):
        read_structures(tmp_path / "md17.npz")
