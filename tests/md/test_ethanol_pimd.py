"""The ethanol path-integral study (experiments/path_integral/ethanol_rdf.py): its pair-distance
analysis against numpy on synthetic trajectories, its harmonic reference against the closed-form
quantum width, and its i-PI run path at a tiny size (2 beads, 4 steps)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from ase import Atoms, units

pytest.importorskip("ipi")

SCRIPT = Path(__file__).resolve().parents[2] / "experiments" / "path_integral" / "ethanol_rdf.py"


@pytest.fixture(scope="module")
def study():
    spec = importlib.util.spec_from_file_location("ethanol_rdf", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def ethanol():
    from hybridpot.io import bundled_md17

    frames = bundled_md17()
    return frames.numbers, frames.positions[0]


@pytest.mark.heavy
def test_pair_classes_of_ethanol(study, ethanol):
    numbers, positions = ethanol
    bonded, types = study.pair_classes(numbers, positions)
    assert {k: len(v) for k, v in bonded.items()} == {"C–C": 1, "C–H": 5, "C–O": 1, "H…H (same atom)": 4, "O–H": 1}
    assert {k: len(v) for k, v in types.items()} == {"C–C": 1, "C–H": 12, "C–O": 2, "H–H": 15, "O–H": 6}
    d = study.pair_distances(positions, bonded["C–H"])
    assert np.all((d > 1.0) & (d < 1.3))


@pytest.mark.heavy
def test_moments_and_histogram_against_numpy(study, ethanol):
    """⟨r⟩, σ, P(r) and their block errors of a synthetic bead trajectory [40 frames, 3 beads]
    equal numpy's, computed here from equal blocks of frames."""
    numbers, positions = ethanol
    rng = np.random.default_rng(0)
    trajectory = positions + 0.05 * rng.standard_normal((40, 3, len(numbers), 3))
    pairs = study.pair_classes(numbers, positions)[0]["C–H"]
    r = np.stack([[[np.linalg.norm(frame[j] - frame[i]) for i, j in pairs] for frame in bead] for bead in trajectory])
    assert np.allclose(study.pair_distances(trajectory, pairs), r)

    got = study.block_moments(r, n_blocks=4)
    flat = r.reshape(4, -1)  # 4 blocks of 10 frames, every bead and pair of a frame in its block
    assert got["mean"] == pytest.approx(r.mean(), rel=1e-14)
    assert got["sd"] == pytest.approx(np.sqrt(np.mean(r**2) - r.mean() ** 2), rel=1e-10)
    assert got["mean_err"] == pytest.approx(np.std(flat.mean(axis=1), ddof=1) / 2, rel=1e-12)
    assert got["sd_err"] == pytest.approx(np.std(flat.std(axis=1), ddof=1) / 2, rel=1e-12)

    edges = np.linspace(0.6, 1.8, 61)
    density, err = study.block_histogram(r, edges, n_blocks=4)
    assert r.min() > edges[0] and r.max() < edges[-1]
    assert np.allclose(density, np.histogram(r.ravel(), edges, density=True)[0])
    per_block = np.array([np.histogram(b, edges, density=True)[0] for b in flat])
    assert np.allclose(err, per_block.std(axis=0, ddof=1) / 2)
    with pytest.raises(ValueError, match="too few"):
        study.block_moments(r[:5], n_blocks=4)

    training = positions + 0.02 * rng.standard_normal((5, len(numbers), 3))
    seen = np.stack([[np.linalg.norm(frame[j] - frame[i]) for i, j in pairs] for frame in training])
    got = study.analyse(trajectory, numbers, positions, edges, edges, 4, training)
    assert got["classes"]["C–H"]["mean"] == pytest.approx(r.mean(), rel=1e-14)
    assert got["classes"]["C–H"]["training_range"] == pytest.approx([seen.min(), seen.max()], rel=1e-14)
    assert got["classes"]["C–H"]["outside_training"] == pytest.approx(np.mean((r < seen.min()) | (r > seen.max())))
    from ase.data import covalent_radii

    bonded = study.pair_classes(numbers, positions)[0]
    bonds = np.concatenate([q for name, q in bonded.items() if "…" not in name])
    scaled = [np.linalg.norm(trajectory[..., j, :] - trajectory[..., i, :], axis=-1)
              / (covalent_radii[numbers[i]] + covalent_radii[numbers[j]]) for i, j in bonds]
    assert got["largest_bond_over_covalent"] == pytest.approx(np.max(scaled), rel=1e-14)


@pytest.mark.heavy
def test_harmonic_width_against_closed_form(study):
    """The P-bead harmonic width: 1 at P = 1, the quantum width (ħ/2μω coth(βħω/2))^½ over the
    classical (kT/μω²)^½ in the limit and at large P, and ω recovered from σ_classical."""
    wavenumber, temperature, mu = 2950.0, 300.0, 0.93
    assert study.harmonic_width_ratio(wavenumber, temperature, 1) == pytest.approx(1.0, rel=1e-14)
    hbar_omega = wavenumber * units.invcm  # eV
    omega = hbar_omega * units._e / units._hbar  # rad/s
    mass = mu * units._amu
    quantum = units._hbar / (2 * mass * omega) / np.tanh(hbar_omega / (2 * units.kB * temperature))
    classical = units.kB * temperature * units._e / (mass * omega**2)
    limit = np.sqrt(quantum / classical)
    assert study.harmonic_width_ratio(wavenumber, temperature, None) == pytest.approx(limit, rel=1e-12)
    assert study.harmonic_width_ratio(wavenumber, temperature, 4096) == pytest.approx(limit, rel=1e-5)
    ratios = [study.harmonic_width_ratio(wavenumber, temperature, p) for p in (1, 8, 16, 32)]
    assert np.all(np.diff(ratios) > 0) and ratios[-1] < limit
    sd = np.sqrt(classical) * 1e10  # Å
    assert study.classical_wavenumber(sd, mu, temperature) == pytest.approx(wavenumber, rel=1e-10)


@pytest.mark.heavy
def test_tiny_pimd_run(study, ethanol, tmp_path):
    """Two beads, four steps of i-PI served by one `hybridpot serve-ipi` (an untrained pair MLP):
    every evaluation is served, and the bead trajectories start at the start structure."""
    from hybridpot.potentials import EnergyNormalisation, TrainedPotential, save_potential

    numbers, positions = ethanol
    potential = TrainedPotential.from_init("pair_mlp", {"cutoff": 4.0, "species": [1, 6, 8], "dtype": "float64"},
                                           normalisation=EnergyNormalisation(np.zeros(119), np.asarray(0.05)))
    model = save_potential(tmp_path / "model.npz", potential)
    start = Atoms(numbers=numbers, positions=positions - positions.mean(axis=0) + 10.0, cell=[20.0] * 3)
    timing = study.run_ipi(Path(model), start, tmp_path / "run", temperature=300.0, beads=2, steps=4, dt=0.5,
                           tau=100.0, stride=2, seed=1, clients=1)
    assert timing["evaluations"] == 2 * 5
    trajectory = study.read_bead_positions(tmp_path / "run", len(numbers))
    assert trajectory.shape == (3, 2, len(numbers), 3)  # steps 0, 2, 4
    np.testing.assert_allclose(trajectory[0], np.broadcast_to(start.positions, (2, len(numbers), 3)), atol=1e-4)
    assert np.all(np.abs(trajectory[-1] - trajectory[0]) < 0.1)
