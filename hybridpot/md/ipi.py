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
"""

from __future__ import annotations

import socket

import numpy as np
from ase.calculators.socketio import SocketClient, SocketClosed, actualunixsocketname


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
