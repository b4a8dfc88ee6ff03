"""Bundled FCI/d-aug-cc-pVTZ H2 curves against the reference curves of El Haloui et al. (2025).

Runs only where the reference file is available (it is not shipped: no licence). The reference
does not say its method or basis, so a near-constant shift is expected; the test bounds the raw
deviation near the wells and, more tightly, the deviation after removing the mean shift (shape).
Bounds are set from the measured values (docs/data.md) with some margin.
"""

import numpy as np
import pytest

from hybridpot.io import bundled_h2_curves, reference_h2_curves

# state: (r window in Å, max |Δ| raw in Eh, max |Δ - mean Δ| in Eh).
# Measured (Δ = ours - reference): X raw 1.54e-3, shape 4.9e-4 (Δ falls from 1.5 mEh at 0.6 Å to
# 0.8 mEh at 1.2 Å: our basis-set error grows at short r); EF raw 0.80e-3, shape 1.7e-4.
WINDOWS = {
    "X": ((0.6, 1.2), 2.0e-3, 7.0e-4),
    "EF": ((0.8, 2.8), 1.2e-3, 3.0e-4),
}


@pytest.fixture(scope="module")
def curves():
    try:
        reference = reference_h2_curves()
    except FileNotFoundError as err:
        pytest.skip(f"reference H2 curves not available: {err}")
    return bundled_h2_curves(), reference


def test_same_grid(curves):
    ours, ref = curves
    np.testing.assert_allclose(ours.distance_angstrom, ref.distance_angstrom, atol=1e-9)


@pytest.mark.parametrize("state", sorted(WINDOWS))
def test_deviation_near_well(curves, state):
    ours, ref = curves
    (lo, hi), max_raw, max_shape = WINDOWS[state]
    r = ref.distance_angstrom
    window = (r >= lo - 1e-9) & (r <= hi + 1e-9)
    delta = ours.energy_hartree[state][window] - ref.energy_hartree[state][window]
    raw = np.max(np.abs(delta))
    offset = delta.mean()
    shape = np.max(np.abs(delta - offset))
    print(
        f"\n{state}, r in [{lo}, {hi}] Å ({window.sum()} points): max |Δ| = {raw:.2e} Eh, "
        f"mean Δ = {offset:+.2e} Eh, max |Δ - mean Δ| = {shape:.2e} Eh"
    )
    assert raw < max_raw
    assert shape < max_shape
