"""MD that watches itself: temperature, energy drift, largest force and closest pair, logged at an
interval, with a guard that stops a run going wrong (a structure collapsing, energy blowing up).

::

    dyn = VelocityVerlet(atoms, 1 * units.fs)
    watch = MDWatch(dyn, MDGuard(), interval=10, log_path="md.log")
    dyn.run(1000)          # raises MDGuardError, with the last good frame, when a check fails
    watch.summary()

A potential trained on too narrow data often lets atoms fall into one another: the energy stays
finite and MD runs on through nonsense. The guard's distance check compares every pair with the
sum of its covalent radii (ASE's table; ``min_distance_factor`` × (r_cov,i + r_cov,j), 0.5 by
default: Ni–Al 1.23 Å, C–H 0.54 Å, H–H 0.31 Å) or with one absolute ``min_distance``. The drift
check (NVE only: a thermostat exchanges energy on purpose) bounds |E_tot(t) − E_tot(0)| per atom.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

#: Columns of the per-interval log (whitespace-separated, one header line starting with ``#``).
LOG_COLUMNS = ("step", "time_fs", "temperature_K", "epot_eV", "etot_eV", "drift_eV_per_atom", "max_force_eV_per_A",
               "min_distance_A")


class MDGuardError(ValueError):
    """An MD run stopped by its guard; ``frame`` is the last ASE ``Atoms`` that passed every check
    (positions and momenta), ``step`` the step of the failed check."""

    def __init__(self, message: str, step: int, frame):
        super().__init__(message)
        self.step = step
        self.frame = frame


@dataclasses.dataclass(frozen=True)
class MDGuard:
    """What stops an MD run (None switches a check off).

    Attributes:
        min_distance_factor: a pair closer than this × (r_cov,i + r_cov,j) stops the run.
        min_distance: Å; when given, one threshold for every pair instead of the covalent one.
        max_drift: eV/atom; |E_tot − E_tot(0)| / N beyond it stops an energy-conserving run.
    """

    min_distance_factor: float | None = 0.5
    min_distance: float | None = None
    max_drift: float | None = 0.05

    def __post_init__(self):
        for name in ("min_distance_factor", "min_distance", "max_drift"):
            value = getattr(self, name)
            if value is not None and not (math.isfinite(value) and value > 0):
                raise ValueError(f"MDGuard.{name} must be > 0 (or None to switch the check off), got {value}")


def closest_pair(atoms, cutoff: float = 6.0) -> tuple[float, int, int]:
    """The closest pair of atoms (minimum image in periodic cells) within ``cutoff`` Å:
    ``(distance Å, i, j)``, or ``(inf, -1, -1)`` when no pair is that close."""
    from ase.neighborlist import neighbor_list

    if len(atoms) < 2:
        return math.inf, -1, -1
    i, j, d = neighbor_list("ijd", atoms, cutoff, self_interaction=False)
    if d.size == 0:
        return math.inf, -1, -1
    k = int(np.argmin(d))
    return float(d[k]), int(i[k]), int(j[k])


def _pair_thresholds(guard: MDGuard) -> np.ndarray | None:
    """``[119, 119]`` distance thresholds Å of the guard by atomic numbers (None: no check)."""
    if guard.min_distance is not None:
        return np.full((119, 119), guard.min_distance)
    if guard.min_distance_factor is None:
        return None
    from ase.data import covalent_radii

    r = np.asarray(covalent_radii, np.float64)[:119]
    return guard.min_distance_factor * (r[:, None] + r[None, :])


class MDWatch:
    """Measures, logs and guards an ASE dynamics object every ``interval`` steps (it attaches itself;
    step 0 is checked when the run starts).

    Args:
        dyn: the ASE dynamics (``VelocityVerlet``, ``Langevin``, ...), its atoms with a calculator.
        guard: an :class:`MDGuard`, or None to measure and log only.
        interval: steps between checks.
        log_path: file for the per-interval log (:data:`LOG_COLUMNS`), or None.
        conserves_energy: the integrator conserves energy, so the drift check applies (default:
            it is ASE's ``VelocityVerlet``).
    """

    def __init__(self, dyn, guard: MDGuard | None = MDGuard(), *, interval: int = 10, log_path=None,
                 conserves_energy: bool | None = None):
        from ase import units
        from ase.md.verlet import VelocityVerlet

        if interval < 1:
            raise ValueError(f"MDWatch: interval must be >= 1 step, got {interval}")
        self.dyn, self.atoms, self.guard = dyn, dyn.atoms, guard
        self.conserves_energy = isinstance(dyn, VelocityVerlet) if conserves_energy is None else conserves_energy
        self.dt_fs = float(dyn.dt / units.fs)
        self.rows: list[dict] = []
        self._thresholds = None if guard is None else _pair_thresholds(guard)
        present = np.unique(self.atoms.numbers)
        # the neighbour search reaches the largest threshold among the elements present (≥ 6 Å)
        self._reach = 6.0 if self._thresholds is None else \
            max(6.0, float(self._thresholds[np.ix_(present, present)].max()))
        self._log = None
        if log_path is not None:
            self._log = open(log_path, "w")
            self._log.write("# " + " ".join(LOG_COLUMNS) + "\n")
        self._e0 = None
        self.last_good = None
        dyn.attach(self, interval=interval)

    def __call__(self) -> None:
        atoms, step = self.atoms, int(self.dyn.nsteps)
        epot = float(atoms.get_potential_energy())
        forces = np.asarray(atoms.get_forces())
        etot = epot + float(atoms.get_kinetic_energy())
        if self._e0 is None:
            self._e0 = etot
        n = len(atoms)
        d, i, j = closest_pair(atoms, self._reach)
        row = {"step": step, "time_fs": step * self.dt_fs, "temperature_K": float(atoms.get_temperature()),
               "epot_eV": epot, "etot_eV": etot, "drift_eV_per_atom": (etot - self._e0) / n,
               "max_force_eV_per_A": float(np.sqrt((forces**2).sum(axis=1)).max()),
               "min_distance_A": d}
        self.rows.append(row)
        if self._log is not None:
            self._log.write(" ".join(f"{row[c]:.6g}" for c in LOG_COLUMNS) + "\n")
            self._log.flush()
        problem = self._problem(row, i, j)
        if problem is not None:
            self.close()
            raise MDGuardError(f"MD stopped at step {step}: {problem}", step, self.last_good)
        self.last_good = atoms.copy()
        self.last_good.calc = None

    def _problem(self, row: dict, i: int, j: int) -> str | None:
        if not all(math.isfinite(row[c]) for c in ("epot_eV", "etot_eV", "max_force_eV_per_A")):
            return "the energy or a force is NaN or inf"
        if self.guard is None:
            return None
        if self._thresholds is not None and i >= 0:
            zi, zj = int(self.atoms.numbers[i]), int(self.atoms.numbers[j])
            limit = self._thresholds[zi, zj]
            if row["min_distance_A"] < limit:
                from ase.data import chemical_symbols

                rule = (f"{self.guard.min_distance_factor} × the covalent radii sum" if self.guard.min_distance is None
                        else "--min-distance")
                return (f"atoms {i} ({chemical_symbols[zi]}) and {j} ({chemical_symbols[zj]}) are "
                        f"{row['min_distance_A']:.3f} Å apart, closer than {limit:.3f} Å ({rule}): "
                        "the structure is collapsing (the potential is unphysical here)")
        drift, bound = abs(row["drift_eV_per_atom"]), self.guard.max_drift
        if self.conserves_energy and bound is not None and drift > bound:
            return (f"total energy drifted {row['drift_eV_per_atom']:+.4g} eV/atom since the start, beyond "
                    f"{self.guard.max_drift} eV/atom (time step too long, or the potential is not smooth)")
        return None

    def summary(self) -> dict:
        """Over the checked steps: final temperature K, final and largest |drift| eV/atom, largest
        force eV/Å, smallest interatomic distance Å, and the number of checks."""
        if not self.rows:
            raise ValueError("MDWatch.summary: no step was checked")
        last = self.rows[-1]
        return {"checks": len(self.rows), "temperature_K": last["temperature_K"],
                "drift_eV_per_atom": last["drift_eV_per_atom"],
                "max_abs_drift_eV_per_atom": max(abs(r["drift_eV_per_atom"]) for r in self.rows),
                "max_force_eV_per_A": max(r["max_force_eV_per_A"] for r in self.rows),
                "min_distance_A": min(r["min_distance_A"] for r in self.rows)}

    def close(self) -> None:
        """Close the log file."""
        if self._log is not None:
            self._log.close()
            self._log = None
