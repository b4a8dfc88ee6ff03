"""The i-PI socket client (hybridpot.md.ipi, `hybridpot serve-ipi`): short i-PI runs started by the
tests, whose reported energies, forces and virials must equal the calculator's; and a server that
goes away mid-run."""

from __future__ import annotations

import dataclasses
import os
import socket
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import numpy as np
import pytest
from ase import Atoms, units
from ase.calculators.lj import LennardJones
from ase.calculators.socketio import IPIProtocol, actualunixsocketname
from ase.io import read, write
from md_helpers import copper, hybrid_potential

from hybridpot.md.ipi import IPIConnectionLost, nvt_input, serve_ipi, start_ipi

pytest.importorskip("ipi")

#: i-PI's atomic unit of pressure (hartree/bohr³) in eV/Å³. Energies, positions and forces are
#: written in i-PI's "ase" units: its "electronvolt" and "angstrom" use other CODATA constants than
#: ASE (the client's units), a 1e-7 relative difference in energies.
HARTREE_PER_BOHR3 = units.Hartree / units.Bohr**3


def _start_ipi(folder: Path, atoms, beads: int, steps: int):
    """i-PI on a fresh UNIX socket in ``folder`` (PIMD at 300 K, every step and bead written);
    returns (process, address) once it listens."""
    address = f"hybridpot-test-{uuid.uuid4().hex[:12]}"
    write(folder / "init.extxyz", atoms, format="extxyz")
    xml = nvt_input(address=address, structure="init.extxyz", steps=steps, beads=beads, temperature_K=300,
                    timestep_fs=1, tau_fs=100, seed=31415, properties="[step, potential{ase}, virial_md]",
                    flush=1, trajectories={"pos": "positions{ase}", "frc": "forces{ase}"}, trajectory_format="ase")
    try:
        return start_ipi(folder, xml, address), address
    except FileNotFoundError as err:  # the ipi package without its i-pi script
        pytest.skip(str(err))


def _check_against_calculator(folder: Path, calc, beads: int, steps: int) -> None:
    """i-PI's bead-averaged potential, each bead's forces and the bead-summed virial at every step
    equal the calculator's on the positions i-PI wrote."""
    out = np.loadtxt(folder / "sim.out", ndmin=2)
    assert out.shape == (steps + 1, 8)
    positions = [read(folder / f"sim.pos_{b}.extxyz", index=":") for b in range(beads)]
    forces = [read(folder / f"sim.frc_{b}.extxyz", index=":") for b in range(beads)]
    for step in range(steps + 1):
        energies, stresses = [], []
        for b in range(beads):
            frame = positions[b][step].copy()
            frame.calc = calc
            energies.append(frame.get_potential_energy())
            stresses.append(frame.get_stress(voigt=False))
            np.testing.assert_allclose(forces[b][step].get_forces(), frame.get_forces(), atol=2e-7)
        assert out[step, 1] == pytest.approx(np.mean(energies), abs=1e-7)
        # virial_md: Σ_beads (−V σ) / V as xx yy zz xy xz yz, hartree/bohr³
        minus_stress = -np.sum(stresses, axis=0)
        expected = minus_stress[[0, 1, 2, 0, 0, 1], [0, 1, 2, 1, 2, 2]]
        np.testing.assert_allclose(out[step, 2:] * HARTREE_PER_BOHR3, expected, atol=1e-7, rtol=1e-6)


def _copper():
    return copper(repeat=2), hybrid_potential()


def test_nvt_input_names_what_it_was_given():
    """The XML the project's PIMD runs start from: masses, outputs and thermostat as given."""
    import xml.etree.ElementTree as ET

    xml = nvt_input(address="abc", structure="h2.extxyz", steps=7, beads=4, temperature_K=20, timestep_fs=0.25,
                    tau_fs=50, seed=3, masses_amu=[1.007825, 2.014102], trajectories={"pos": "positions{angstrom}"},
                    stride=5)
    root = ET.fromstring(xml)
    assert root.find("system/initialize").get("nbeads") == "4"
    assert root.find("system/initialize/file").text == "h2.extxyz"
    assert [float(m) for m in root.find("system/initialize/masses").text.strip("[]").split(",")] == [1.007825, 2.014102]
    assert root.find("ffsocket/address").text == "abc"
    assert root.find("total_steps").text == "7"
    assert root.find("system/motion/dynamics/timestep").text == "0.25"
    assert root.find("system/ensemble/temperature").text == "20"
    (trajectory,) = root.findall("output/trajectory")
    assert (trajectory.get("filename"), trajectory.get("stride"), trajectory.text) == ("pos", "5", "positions{angstrom}")
    assert ET.fromstring(nvt_input(address="a", structure="s", steps=1, beads=1, temperature_K=300, timestep_fs=1,
                                   tau_fs=100, seed=0)).find("system/initialize/masses") is None


@pytest.mark.heavy
def test_ipi_pimd_round_trip_matches_calculator(tmp_path):
    """Two beads, three steps of PIMD in i-PI with a hybrid (Morse + pair MLP) potential served by
    two serve_ipi clients (threads of this process) on one socket: together they serve every
    evaluation, and the energies, forces and virials i-PI reports are the calculator's."""
    from hybridpot.md import HybridpotCalculator

    atoms, potential = _copper()
    beads, steps = 2, 3
    process, address = _start_ipi(tmp_path, atoms, beads, steps)
    served, errors = [], []

    def client():
        mine = atoms.copy()
        mine.calc = HybridpotCalculator(potential)
        try:
            served.append(serve_ipi(mine, unixsocket=address))
        except Exception as err:  # noqa: BLE001 - reported by the assertion below
            errors.append(err)

    threads = [threading.Thread(target=client) for _ in range(2)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=300)
        assert process.wait(timeout=120) == 0, (tmp_path / "ipi.log").read_text()[-3000:]
    finally:
        process.kill()
    assert not errors, errors
    assert sum(served) == beads * (steps + 1), served
    _check_against_calculator(tmp_path, HybridpotCalculator(potential), beads, steps)


@pytest.mark.slow
def test_serve_ipi_cli_two_clients_share_the_beads(tmp_path):
    """`hybridpot serve-ipi` twice on one socket: both serve beads of the same 4-bead run, together
    every evaluation, and i-PI reports the model file's energies, forces and virials."""
    from hybridpot.md import HybridpotCalculator
    from hybridpot.potentials import load_potential, save_potential

    atoms, potential = _copper()
    # a float64 model file (the client computes in the dtype its training config names)
    model = save_potential(tmp_path / "model.npz", dataclasses.replace(potential, config={"run": {"dtype": "float64"}}))
    write(tmp_path / "start.extxyz", atoms, format="extxyz")
    beads, steps = 4, 2
    process, address = _start_ipi(tmp_path, atoms, beads, steps)
    root = Path(__file__).resolve().parents[2]
    command = [sys.executable, "-m", "hybridpot.cli", "serve-ipi", str(model), str(tmp_path / "start.extxyz"),
               "--unix", address]
    env = {**os.environ, "PYTHONPATH": str(root)}
    clients = [subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
               for _ in range(2)]
    try:
        outputs = [c.communicate(timeout=300)[0] for c in clients]
        assert process.wait(timeout=120) == 0, (tmp_path / "ipi.log").read_text()[-3000:]
    finally:
        process.kill()
        for c in clients:
            c.kill()
    assert [c.returncode for c in clients] == [0, 0], outputs
    served = [int(o.split("served ")[1].split()[0]) for o in outputs]
    assert sum(served) == beads * (steps + 1)
    assert min(served) > 0, outputs  # i-PI gave both clients work
    _check_against_calculator(tmp_path, HybridpotCalculator(load_potential(model)), beads, steps)


class _FakeServer:
    """A server speaking i-PI's protocol (ASE's IPIProtocol) that sends ``n_posdata`` positions of
    ``positions`` then closes the connection without EXIT."""

    def __init__(self, positions: np.ndarray, n_posdata: int, tcp: bool = False):
        if tcp:  # a free port on localhost
            self.path, self.server = None, socket.socket(socket.AF_INET)
            self.server.bind(("localhost", 0))
            self.address = {"port": self.server.getsockname()[1]}
        else:
            name = f"hybridpot-test-{uuid.uuid4().hex[:12]}"
            self.path, self.server = actualunixsocketname(name), socket.socket(socket.AF_UNIX)
            self.server.bind(self.path)
            self.address = {"unixsocket": name}
        self.server.listen(1)
        self.energies = []
        self.thread = threading.Thread(target=self._run, args=(positions, n_posdata), daemon=True)
        self.thread.start()

    def _run(self, positions, n_posdata):
        connection, _ = self.server.accept()
        protocol = IPIProtocol(connection)
        try:
            for _ in range(n_posdata):
                self.energies.append(protocol.calculate(positions, np.eye(3) * 20.0)["energy"])
        except OSError:  # the client hung up first (the bad-input tests)
            pass
        connection.close()

    def close(self):
        self.thread.join(timeout=10)
        self.server.close()
        if self.path is not None:
            Path(self.path).unlink(missing_ok=True)


def _argon_dimer():
    atoms = Atoms("Ar2", positions=[[0, 0, 0], [0, 0, 3.8]])
    atoms.calc = LennardJones(sigma=3.4, epsilon=0.0104, rc=10.0)
    return atoms


@pytest.mark.parametrize("tcp", [False, True], ids=["unix", "tcp"])
def test_server_closing_mid_run_ends_the_client_with_a_message(tcp):
    atoms = _argon_dimer()
    expected = atoms.get_potential_energy()
    fake = _FakeServer(atoms.positions + 0.0, n_posdata=2, tcp=tcp)
    try:
        with pytest.raises(IPIConnectionLost, match="closed the connection without EXIT after 2 evaluations"):
            serve_ipi(atoms, timeout=30, **fake.address)
    finally:
        fake.close()
    assert fake.energies == pytest.approx([expected] * 2, rel=1e-12)  # eV -> hartree on the wire -> eV


def test_wrong_number_of_atoms_is_named():
    atoms = _argon_dimer()
    fake = _FakeServer(np.zeros((3, 3)), n_posdata=1)
    try:
        with pytest.raises(ValueError, match="i-PI sent 3 atoms but the structure served has 2"):
            serve_ipi(atoms, timeout=30, **fake.address)
    finally:
        fake.close()


def test_no_server_is_named():
    with pytest.raises(IPIConnectionLost, match="no i-PI server is listening at UNIX socket /tmp/ipi_"):
        serve_ipi(_argon_dimer(), unixsocket=f"hybridpot-test-{uuid.uuid4().hex[:12]}")


def test_cli_reports_a_lost_server(tmp_path, capsys):
    from hybridpot.cli import main
    from hybridpot.potentials import save_potential

    atoms, potential = _copper()
    model = save_potential(tmp_path / "model.npz", potential)
    write(tmp_path / "start.extxyz", atoms, format="extxyz")
    assert main(["serve-ipi", str(model), str(tmp_path / "start.extxyz"), "--unix", "hybridpot-no-such-socket"]) == 2
    assert "no i-PI server is listening" in capsys.readouterr().err
    assert main(["serve-ipi", str(model), str(tmp_path / "start.extxyz")]) == 2
    assert "give exactly one address" in capsys.readouterr().err
