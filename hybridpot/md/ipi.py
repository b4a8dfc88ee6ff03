"""Serve any ASE calculator (a hybridpot model) to an i-PI server as a socket client.

i-PI (https://ipi-code.org) runs path-integral MD, replica exchange and other sampling in one
server process and asks its clients for the energy, forces and virial of each bead over a UNIX or
TCP socket. Several clients may connect to the same socket: i-PI hands each a bead in turn.

::

    from hybridpot.md import HybridpotCalculator
    from hybridpot.md.ipi import serve_ipi

    atoms.calc = HybridpotCalculator("model.npz")
    serve_ipi(atoms, unixsocket="hybridpot")   # until i-PI sends EXIT

The wire protocol (messages, atomic units: bohr in, hartree and hartree/bohr out) is ASE's
:class:`ase.calculators.socketio.SocketClient`; this module only adds what a long run needs: the
number of atoms i-PI sends is checked against the template, and a server that goes away
mid-run (killed, crashed) ends the client with :class:`IPIConnectionLost` naming what happened
instead of ASE's silent return.

:func:`nvt_input` writes the input of the runs the project starts itself (thermostatted path-integral
MD on one UNIX socket) and :func:`start_ipi` starts the server and waits until it listens.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from ase.calculators.socketio import SocketClient, SocketClosed, actualunixsocketname

_NVT_INPUT = """<simulation verbosity="low" safe_stride="1000000">
  <output prefix="sim">
    <properties stride="{stride}" filename="out" flush="{flush}">{properties}</properties>
{trajectories}  </output>
  <total_steps>{steps}</total_steps>
  <prng><seed>{seed}</seed></prng>
  <ffsocket name="hybridpot" mode="unix"><address>{address}</address></ffsocket>
  <system>
    <initialize nbeads="{beads}">
      <file mode="ase">{structure}</file>
{masses}      <velocities mode="thermal" units="kelvin">{temperature}</velocities>
    </initialize>
    <forces><force forcefield="hybridpot"/></forces>
    <ensemble><temperature units="kelvin">{temperature}</temperature></ensemble>
    <motion mode="dynamics"><dynamics mode="nvt"><timestep units="femtosecond">{dt}</timestep>
      <thermostat mode="pile_l"><tau units="femtosecond">{tau}</tau></thermostat></dynamics></motion>
  </system>
</simulation>
"""


def nvt_input(*, address: str, structure: str, steps: int, beads: int, temperature_K: float, timestep_fs: float,
              tau_fs: float, seed: int, properties: str = "[step, potential{ase}]", stride: int = 1,
              flush: int = 10, trajectories: dict[str, str] | None = None, trajectory_format: str = "xyz",
              masses_amu: list[float] | None = None) -> str:
    """i-PI's XML input for path-integral NVT MD (PILE-L thermostat) served over one UNIX socket.

    Args:
        address: the ``<ffsocket>`` address (the socket file ``/tmp/ipi_<address>``); clients use
            the same one (``serve_ipi(unixsocket=address)``, ``hybridpot serve-ipi --unix``).
        structure: the start structure's file name, read by i-PI with ASE (relative to i-PI's folder).
        steps, beads: MD steps and path-integral beads (1: classical MD).
        temperature_K, timestep_fs, tau_fs: thermostat temperature (K), time step (fs) and the
            PILE-L centroid time constant (fs); velocities start thermal at the same temperature.
        seed: i-PI's random seed.
        properties: i-PI's property list written to ``sim.out`` every ``stride`` steps.
        flush: lines i-PI buffers before it writes its outputs.
        trajectories: output file stem → quantity (e.g. ``{"pos": "positions{angstrom}"}``), each
            written every ``stride`` steps as ``sim.<stem>_<bead>.<trajectory_format>``.
        masses_amu: one mass per atom (dalton) instead of i-PI's element masses.
    Returns:
        the XML text (write it to ``input.xml`` and pass it to :func:`start_ipi`).
    """
    lines = "".join(f'    <trajectory filename="{stem}" stride="{stride}" format="{trajectory_format}" '
                    f'flush="{flush}">{what}</trajectory>\n' for stem, what in (trajectories or {}).items())
    masses = "" if masses_amu is None else (
        f'      <masses mode="manual" units="dalton">[{", ".join(repr(float(m)) for m in masses_amu)}]</masses>\n')
    return _NVT_INPUT.format(stride=stride, flush=flush, properties=properties, trajectories=lines, steps=steps,
                             seed=seed, address=address, beads=beads, structure=structure, masses=masses,
                             temperature=temperature_K, dt=timestep_fs, tau=tau_fs)


def start_ipi(folder, input_xml: str, address: str, *, timeout: float = 120.0) -> subprocess.Popen:
    """Start the i-PI server in ``folder`` on ``input_xml`` and return once its UNIX socket listens.

    Args:
        folder: i-PI's working folder: ``input.xml`` and i-PI's log ``ipi.log`` are written there,
            next to the start structure the input names.
        input_xml: the input text (e.g. from :func:`nvt_input`).
        address: the input's UNIX socket address.
        timeout: seconds to wait for the socket.
    Returns:
        the server process (wait for it after the clients are done; kill it on error).
    Raises:
        FileNotFoundError: no ``i-pi`` script (install the ``ipi`` extra).
        RuntimeError: i-PI stopped or did not listen within ``timeout``; the message names its log.
    """
    folder = Path(folder)
    executable = Path(sys.executable).with_name("i-pi")
    if not executable.is_file():
        executable = shutil.which("i-pi")
        if executable is None:
            raise FileNotFoundError("no i-pi script next to this Python or on PATH: pip install 'hybridpot[ipi]'")
    (folder / "input.xml").write_text(input_xml)
    with open(folder / "ipi.log", "w") as log:
        process = subprocess.Popen([str(executable), "input.xml"], cwd=folder, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + timeout
    while not Path(actualunixsocketname(address)).exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            tail = (folder / "ipi.log").read_text()[-2000:]
            raise RuntimeError(f"i-PI did not open its socket {actualunixsocketname(address)} "
                               f"(see {folder / 'ipi.log'}):\n{tail}")
        time.sleep(0.1)
    return process


class IPIConnectionLost(ConnectionError):
    """The i-PI server closed the connection (or could not be reached) before sending EXIT."""


def _describe(unixsocket, host, port) -> str:
    return f"UNIX socket {actualunixsocketname(unixsocket)}" if unixsocket is not None else f"TCP {host}:{port}"


def serve_ipi(atoms, *, unixsocket: str | None = None, host: str = "localhost", port: int | None = None,
              timeout: float | None = None, log=None) -> int:
    """Answer an i-PI server's force requests with ``atoms.calc`` until it sends EXIT.

    Args:
        atoms: ``ase.Atoms`` with a calculator attached: the species (in i-PI's atom order) and
            periodicity of the system; i-PI overwrites positions [n, 3] Å and cell [3, 3] Å.
        unixsocket: i-PI's ``<address>`` of a ``mode="unix"`` socket (the file
            ``/tmp/ipi_<unixsocket>``); else TCP.
        host, port: the TCP address of a ``mode="inet"`` socket (port default 31415).
        timeout: seconds a socket operation may wait (None: forever; i-PI may idle between steps).
        log: file object for ASE's message log (None: silent).
    Returns:
        the number of evaluations (beads × steps served by this client).
    Raises:
        IPIConnectionLost: the server could not be reached or closed the connection before EXIT.
        ValueError: i-PI sent a different number of atoms than ``atoms`` has.

    Energies go out in hartree, forces in hartree/bohr and, for periodic ``atoms``, the virial
    −V σ in hartree (ASE converts); non-periodic systems send a zero virial.
    """
    where = _describe(unixsocket, host, port)
    if atoms.calc is None:
        raise ValueError("atoms has no calculator to serve")
    try:
        client = SocketClient(host=host, port=port, unixsocket=unixsocket, timeout=timeout, log=log)
    except (FileNotFoundError, ConnectionRefusedError, socket.gaierror, socket.timeout) as err:
        raise IPIConnectionLost(f"no i-PI server is listening at {where} ({err.__class__.__name__}: {err}); "
                                "start i-pi first and use the address of its <ffsocket>") from None
    protocol = client.protocol
    receive_message, receive_positions = protocol.recvmsg, protocol.recvposdata
    closed_early = []

    def recvmsg():
        # ASE treats a closed socket like EXIT; keep the difference, so a killed server is reported.
        try:
            return receive_message()
        except SocketClosed:
            closed_early.append(True)
            raise

    def recvposdata():
        cell, icell, positions = receive_positions()
        if positions.shape != (len(atoms), 3):
            raise ValueError(f"i-PI sent {positions.shape[0]} atoms but the structure served has {len(atoms)}; "
                             "give the client the same structure as i-PI's <initialize> file")
        return cell, icell, positions

    protocol.recvmsg, protocol.recvposdata = recvmsg, recvposdata
    n = 0
    try:
        for _ in client.irun(atoms, use_stress=bool(np.any(atoms.pbc))):
            n += 1
    except (SocketClosed, ConnectionError, socket.timeout) as err:
        detail = "" if isinstance(err, SocketClosed) else f" ({err.__class__.__name__}: {err})"
        raise IPIConnectionLost(f"the i-PI server at {where} closed the connection mid-message after {n} "
                                f"evaluations{detail}") from None
    if closed_early:
        raise IPIConnectionLost(f"the i-PI server at {where} closed the connection without EXIT after {n} "
                                "evaluations (was it stopped or did it crash? see its output)")
    return n
