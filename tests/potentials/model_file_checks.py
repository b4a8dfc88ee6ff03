"""Shared check of the model-file tests: a reloaded potential gives the same results."""

import numpy as np

from hybridpot.md import HybridpotCalculator


def assert_same_energy_and_forces(original, reloaded, atoms) -> None:
    """Energy and forces of ``atoms`` from both potentials (float64 ASE calculators) agree to 1e-12."""
    results = []
    for potential in (original, reloaded):
        a = atoms.copy()
        a.calc = HybridpotCalculator(potential, dtype="float64")
        results.append((a.get_potential_energy(), a.get_forces()))
    np.testing.assert_allclose(results[1][0], results[0][0], rtol=0, atol=1e-12)
    np.testing.assert_allclose(results[1][1], results[0][1], rtol=0, atol=1e-12)
