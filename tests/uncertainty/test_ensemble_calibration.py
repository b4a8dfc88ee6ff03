"""Committee statistics, calibration measures and candidate selection against known answers."""

import dataclasses

import numpy as np
import pytest
import scipy.stats

from hybridpot.uncertainty import (
    calibration_curve,
    calibration_report,
    ensemble_statistics,
    farthest_point_order,
    fit_sigma_scale,
    gaussian_nll,
    miscalibration_area,
    pair_distance_fingerprint,
    rank_correlation,
    select_uncertain_diverse,
)


def test_ensemble_statistics_recover_a_known_spread():
    rng = np.random.default_rng(0)
    n_struct = 3
    mean_e = rng.normal(size=n_struct)
    d = np.array([0.1, 0.2, 0.4])
    signs = np.array([1.0, -1.0, 1.0, -1.0])  # population std of the offsets is exactly 1
    energies = mean_e[None, :] + signs[:, None] * d[None, :]
    sizes = (2, 5, 3)
    f_mean = [rng.normal(size=(n, 3)) for n in sizes]
    f_spread = [rng.uniform(0.05, 0.5, size=(n, 3)) for n in sizes]
    forces = [m[None] + signs[:, None, None] * s[None] for m, s in zip(f_mean, f_spread)]

    stats = ensemble_statistics(energies, forces)
    np.testing.assert_allclose(stats.energy_mean, mean_e, atol=1e-14)
    np.testing.assert_allclose(stats.energy_std, d, atol=1e-14)
    np.testing.assert_array_equal(stats.n_atoms, sizes)
    np.testing.assert_allclose(stats.energy_per_atom_std, d / np.array(sizes), atol=1e-14)
    for k in range(n_struct):
        np.testing.assert_allclose(stats.forces_mean[k], f_mean[k], atol=1e-14)
        np.testing.assert_allclose(stats.forces_std[k], f_spread[k], atol=1e-14)
        atom = np.linalg.norm(f_spread[k], axis=1)
        np.testing.assert_allclose(stats.atom_force_std[k], atom, atol=1e-14)
        assert stats.max_force_std[k] == pytest.approx(atom.max())
        assert stats.mean_force_std[k] == pytest.approx(atom.mean())
    sample = ensemble_statistics(energies, forces, ddof=1)
    np.testing.assert_allclose(sample.energy_std, d * np.sqrt(4 / 3), atol=1e-14)


def test_ensemble_statistics_reject_bad_shapes():
    with pytest.raises(ValueError, match="n_members, n_structures"):
        ensemble_statistics(np.zeros(3), [])
    with pytest.raises(ValueError, match="forces has 1 entries"):
        ensemble_statistics(np.zeros((2, 2)), [np.zeros((2, 1, 3))])
    with pytest.raises(ValueError, match=r"forces\[0\] must have shape \[2, n_atoms, 3\]"):
        ensemble_statistics(np.zeros((2, 1)), [np.zeros((3, 1, 3))])
    with pytest.raises(ValueError, match="n_members > ddof"):
        ensemble_statistics(np.zeros((1, 1)), [np.zeros((1, 1, 3))], ddof=1)
    with pytest.raises(ValueError, match="energies contains NaN"):
        ensemble_statistics(np.array([[np.nan], [0.0]]), [np.zeros((2, 1, 3))])


@pytest.fixture(scope="module")
def heteroscedastic():
    """Errors drawn from N(0, σ²) with σ spread over two decades: calibrated by construction."""
    rng = np.random.default_rng(1)
    sigma = 10 ** rng.uniform(-2, 0, size=40000)
    return rng.normal(size=sigma.size) * sigma, sigma


def test_calibrated_errors_score_as_calibrated(heteroscedastic):
    error, sigma = heteroscedastic
    report = calibration_report(error, sigma)
    assert report["miscalibration_area"] < 0.01
    assert report["coverage_68"] == pytest.approx(0.6827, abs=0.01)
    assert report["coverage_95"] == pytest.approx(0.9545, abs=0.005)
    assert fit_sigma_scale(error, sigma) == pytest.approx(1.0, abs=0.01)
    assert report["spearman"] > 0.5  # σ spans two decades: it ranks the errors
    assert report["nll"] == pytest.approx(-np.mean(scipy.stats.norm.logpdf(error, scale=sigma)), rel=1e-12)
    assert report["rmse"] == pytest.approx(np.sqrt(np.mean(error**2)))


def test_one_parameter_recalibration_undoes_a_global_scale(heteroscedastic):
    error, sigma = heteroscedastic
    over = 3.0 * sigma
    s = fit_sigma_scale(error, over)
    assert s == pytest.approx(1 / 3, rel=0.01)
    assert gaussian_nll(error, s * over) < gaussian_nll(error, over)
    assert miscalibration_area(error, over) > 0.2
    assert miscalibration_area(error, s * over) < 0.01
    assert rank_correlation(error, over) == pytest.approx(rank_correlation(error, sigma))
    assert calibration_report(error, over, scale=s)["miscalibration_area"] < 0.01


def test_calibration_curve_counts_errors_inside_the_interval():
    error = np.array([0.5, -1.5, 2.5, -0.1])
    sigma = np.ones(4)
    levels, observed = calibration_curve(error, sigma, [0.5, 0.95])
    z = scipy.stats.norm.ppf([0.75, 0.975])  # 0.674, 1.960
    np.testing.assert_allclose(observed, [(np.abs(error) <= z[0]).mean(), (np.abs(error) <= z[1]).mean()])
    assert observed.tolist() == [0.5, 0.75]


def test_uninformative_sigma_does_not_rank():
    rng = np.random.default_rng(2)
    assert abs(rank_correlation(rng.normal(size=20000), rng.uniform(0.5, 1.5, 20000))) < 0.03


@pytest.mark.parametrize(
    "error, sigma, match",
    [
        (np.zeros(3), np.ones(4), "same number of entries"),
        (np.zeros(3), np.array([1.0, 0.0, 1.0]), "1 of 3 entries are <= 0"),
        (np.array([0.0, np.nan]), np.ones(2), "error contains NaN"),
        (np.zeros(1), np.ones(1), "at least 2"),
    ],
)
def test_calibration_rejects_bad_input(error, sigma, match):
    with pytest.raises(ValueError, match=match):
        calibration_report(error, sigma)


def test_farthest_point_order_on_a_line():
    x = np.array([[0.0], [1.0], [10.0], [4.0], [7.0]])
    assert farthest_point_order(x, 0, 5).tolist() == [0, 2, 3, 4, 1]  # 0 → 10 → 4 (d 4) → 7 (d 3) → 1
    assert farthest_point_order(x, 3, 2).tolist() == [3, 2]


def test_selection_prefers_uncertain_and_different_candidates():
    rng = np.random.default_rng(3)
    cluster_a = rng.normal(0.0, 0.01, size=(5, 4))
    cluster_b = rng.normal(5.0, 0.01, size=(5, 4))
    calm = rng.normal(10.0, 0.01, size=(10, 4))
    features = np.concatenate([cluster_a, cluster_b, calm])
    uncertainty = np.concatenate([[1.0, 0.99, 0.98, 0.97, 0.96], [0.9, 0.89, 0.88, 0.87, 0.86], np.full(10, 0.1)])
    top = select_uncertain_diverse(uncertainty, features, 2, oversample=1)
    assert top.tolist() == [0, 1]  # no room for diversity: the two most uncertain
    diverse = select_uncertain_diverse(uncertainty, features, 2, oversample=5)
    assert diverse[0] == 0 and 5 <= diverse[1] < 10  # one of each uncertain cluster, none of the calm ones
    with pytest.raises(ValueError, match="features must have shape"):
        select_uncertain_diverse(uncertainty, features[:3], 2)


def test_pair_distance_fingerprint_is_invariant_and_intensive():
    from ase.build import bulk

    atoms = bulk("NiAl", "cesiumchloride", a=2.88)
    atoms.rattle(0.05, seed=0)
    fp = pair_distance_fingerprint(atoms.positions, atoms.numbers, (13, 28), cell=atoms.cell[:], pbc=True)
    big = atoms.repeat((2, 1, 3))
    fp_big = pair_distance_fingerprint(big.positions, big.numbers, (13, 28), cell=big.cell[:], pbc=True)
    np.testing.assert_allclose(fp_big, fp, atol=1e-12)  # per atom: a supercell has the same fingerprint
    order = np.random.default_rng(0).permutation(len(big))
    shifted = pair_distance_fingerprint(big.positions[order] + 0.3, big.numbers[order], (13, 28), cell=big.cell[:], pbc=True)
    np.testing.assert_allclose(shifted, fp_big, atol=1e-12)
    dimer = pair_distance_fingerprint(np.array([[0, 0, 0], [0, 0, 2.5]]), [13, 28], (13, 28), cutoff=5.0, n_bins=20)
    blocks = dimer.reshape(3, 20)
    assert np.abs(blocks[[0, 2]]).max() == 0  # no Al–Al or Ni–Ni pairs
    assert np.argmax(blocks[1]) == 9  # grid 0.25, 0.5, …: 2.5 Å is point 9
    with pytest.raises(ValueError, match=r"elements \[29\]"):
        pair_distance_fingerprint(np.zeros((1, 3)), [29], (13, 28))


def test_committee_errors_pair_mean_errors_with_spreads():
    from hybridpot.train import Dataset, Structure
    from hybridpot.uncertainty import committee_errors

    rng = np.random.default_rng(4)
    structures = [Structure(rng.normal(size=(n, 3)) * 3, np.full(n, 29), float(rng.normal()), rng.normal(size=(n, 3)))
                  for n in (2, 3)]
    energies = np.array([[1.0, 2.0], [3.0, 6.0]])  # 2 members
    forces = [rng.normal(size=(2, n, 3)) for n in (2, 3)]
    stats = ensemble_statistics(energies, forces)
    out = committee_errors(stats, Dataset(structures))
    e_err, e_sig = out["energy_per_atom"]
    np.testing.assert_allclose(e_err, (np.array([2.0, 4.0]) - [s.energy for s in structures]) / [2, 3])
    np.testing.assert_allclose(e_sig, np.array([1.0, 2.0]) / [2, 3])
    f_err, f_sig = out["forces"]
    assert f_err.shape == f_sig.shape == (15,)
    np.testing.assert_allclose(f_err[:6], (forces[0].mean(0) - structures[0].forces).ravel())
    np.testing.assert_allclose(f_sig[6:], forces[1].std(0).ravel())
    with pytest.raises(ValueError, match="stats describe 2 structures, the dataset has 1"):
        committee_errors(stats, Dataset(structures[:1]))
    # a structure without force labels drops out of the force entries; none at all drops the key
    partial = committee_errors(stats, Dataset([dataclasses.replace(structures[0], forces=None), structures[1]]))
    np.testing.assert_allclose(partial["forces"][0], f_err[6:])
    np.testing.assert_allclose(partial["forces"][1], f_sig[6:])
    energy_only = Dataset([dataclasses.replace(s, forces=None) for s in structures])
    assert set(committee_errors(stats, energy_only)) == {"energy_per_atom"}
