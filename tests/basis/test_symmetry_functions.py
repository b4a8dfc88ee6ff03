"""Behler–Parrinello G2/G4/G5 terms against brute-force NumPy loops over a small cluster."""

import itertools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hybridpot.basis import (
    angular_symmetry_terms,
    angular_symmetry_terms_g5,
    radial_symmetry_terms,
    symmetry_function_parameters,
)

CUTOFF = 3.5


@pytest.fixture
def cluster():
    rng = np.random.default_rng(7)
    return rng.uniform(0.0, 3.0, size=(7, 3))


def fc(r):
    return 0.5 * (math.cos(math.pi * r / CUTOFF) + 1.0) if r < CUTOFF else 0.0


def brute_g2(pos, eta, rs):
    n = len(pos)
    out = np.zeros((n, len(eta)))
    for i in range(n):
        for j in range(n):
            if i == j:
                continue
            r = np.linalg.norm(pos[i] - pos[j])
            for p in range(len(eta)):
                out[i, p] += math.exp(-eta[p] * (r - rs[p]) ** 2) * fc(r)
    return out


def brute_g4(pos, eta, zeta, lam, wide=False):
    n = len(pos)
    out = np.zeros((n, len(eta)))
    for i in range(n):
        for j in range(n):
            for k in range(n):
                if len({i, j, k}) < 3:
                    continue
                rij_v, rik_v = pos[j] - pos[i], pos[k] - pos[i]
                rij, rik = np.linalg.norm(rij_v), np.linalg.norm(rik_v)
                rjk = np.linalg.norm(pos[k] - pos[j])
                cos = float(rij_v @ rik_v / (rij * rik))
                for p in range(len(eta)):
                    ang = 2.0 ** (1 - zeta[p]) * (1 + lam[p] * cos) ** zeta[p]
                    if wide:
                        rad = math.exp(-eta[p] * (rij**2 + rik**2)) * fc(rij) * fc(rik)
                    else:
                        rad = math.exp(-eta[p] * (rij**2 + rik**2 + rjk**2)) * fc(rij) * fc(rik) * fc(rjk)
                    out[i, p] += ang * rad
    return out


def pairs_and_triplets(n):
    pairs = np.array([(i, j) for i in range(n) for j in range(n) if i != j])
    triplets = np.array([t for t in itertools.product(range(n), repeat=3) if len(set(t)) == 3])
    return pairs, triplets


def triplet_geometry(pos, triplets):
    i, j, k = triplets.T
    rij_v, rik_v = pos[j] - pos[i], pos[k] - pos[i]
    rij = jnp.linalg.norm(rij_v, axis=-1)
    rik = jnp.linalg.norm(rik_v, axis=-1)
    rjk = jnp.linalg.norm(pos[k] - pos[j], axis=-1)
    cos = jnp.sum(rij_v * rik_v, axis=-1) / (rij * rik)
    return rij, rik, rjk, cos


def test_g2_sum_matches_brute_force(cluster):
    params = symmetry_function_parameters(CUTOFF, num_radial=6)
    eta, rs = params["radial_eta"], params["radial_shift"]
    pairs, _ = pairs_and_triplets(len(cluster))
    r = np.linalg.norm(cluster[pairs[:, 1]] - cluster[pairs[:, 0]], axis=-1)
    terms = radial_symmetry_terms(jnp.asarray(r), eta, rs, CUTOFF)
    assert terms.shape == (len(pairs), 6)
    g2 = jax.ops.segment_sum(terms, pairs[:, 0], num_segments=len(cluster))
    np.testing.assert_allclose(g2, brute_g2(cluster, eta, rs), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("wide", [False, True])
def test_g4_g5_sum_matches_brute_force(cluster, wide):
    params = symmetry_function_parameters(CUTOFF, num_angular_eta=2)
    eta, zeta, lam = params["angular_eta"], params["angular_zeta"], params["angular_lambda"]
    _, triplets = pairs_and_triplets(len(cluster))
    rij, rik, rjk, cos = triplet_geometry(jnp.asarray(cluster), triplets)
    if wide:
        terms = angular_symmetry_terms_g5(rij, rik, cos, eta, zeta, lam, CUTOFF)
    else:
        terms = angular_symmetry_terms(rij, rik, rjk, cos, eta, zeta, lam, CUTOFF)
    assert terms.shape == (len(triplets), len(eta))
    g = jax.ops.segment_sum(terms, triplets[:, 0], num_segments=len(cluster))
    np.testing.assert_allclose(g, brute_g4(cluster, eta, zeta, lam, wide), rtol=1e-12, atol=1e-14)
    assert np.any(np.asarray(g) > 1e-3)  # the cluster is not trivially outside the cutoff


def test_terms_vanish_beyond_cutoff():
    assert np.all(radial_symmetry_terms(jnp.array([CUTOFF, 4.0]), [0.5, 1.0], [0.0, 1.0], CUTOFF) == 0.0)
    t = angular_symmetry_terms(1.0, 1.0, CUTOFF + 0.1, 0.3, [0.1], [2.0], [1.0], CUTOFF)
    assert np.all(t == 0.0)


@pytest.mark.parametrize("zeta, lam", [(1.0, 1.0), (2.0, 1.0), (16.0, 1.0), (1.0, -1.0), (3.5, -1.0)])
def test_gradient_finite_where_base_is_zero(zeta, lam):
    # 1 + λ cosθ = 0 exactly: θ = π for λ = +1, θ = 0 for λ = -1
    cos0 = -lam
    f = lambda c: angular_symmetry_terms(1.0, 1.2, 2.2, c, [0.2], [zeta], [lam], CUTOFF)[0]
    assert float(f(cos0)) == 0.0
    g = float(jax.grad(f)(cos0))
    rest = math.exp(-0.2 * (1.0 + 1.44 + 2.2**2)) * fc(1.0) * fc(1.2) * fc(2.2)
    # d/dc 2^{1-ζ}(1+λc)^ζ at the root: λ for ζ = 1, else 0
    assert g == pytest.approx(lam * rest if zeta == 1.0 else 0.0, abs=1e-15)
    # round-off just past the root stays finite and zero
    assert float(f(cos0 - lam * 1e-16)) == 0.0


def test_gradient_wrt_positions_collinear_triplet():
    # j - i - k on a line: θ_ijk = π, 1 + cosθ = 0 for λ = +1
    pos = jnp.array([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [-1.3, 0.0, 0.0]])
    triplets = np.array([[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]])
    params = symmetry_function_parameters(CUTOFF, num_angular_eta=2)

    def energy(p):
        rij, rik, rjk, cos = triplet_geometry(p, triplets)
        return angular_symmetry_terms(
            rij, rik, rjk, cos, params["angular_eta"], params["angular_zeta"], params["angular_lambda"], 4.0
        ).sum()

    g = jax.grad(energy)(pos)
    assert np.all(np.isfinite(np.asarray(g)))
    # central finite differences along the line (smooth direction)
    h = 1e-6
    d = jnp.zeros_like(pos).at[1, 0].set(h)
    fd = (energy(pos + d) - energy(pos - d)) / (2 * h)
    assert float(g[1, 0]) == pytest.approx(float(fd), rel=1e-6, abs=1e-9)


def test_jit_and_vmap():
    r = jnp.linspace(0.5, 4.0, 8)
    cos = jnp.linspace(-1.0, 1.0, 8)
    eta, zeta, lam = jnp.array([0.1, 0.3]), jnp.array([1.0, 4.0]), jnp.array([-1.0, 1.0])
    fns = [
        lambda x, c: radial_symmetry_terms(x, eta, jnp.array([0.0, 1.0]), CUTOFF),
        lambda x, c: angular_symmetry_terms(x, 1.1, x + 0.5, c, eta, zeta, lam, CUTOFF),
        lambda x, c: angular_symmetry_terms_g5(x, 1.1, c, eta, zeta, lam, CUTOFF),
    ]
    for f in fns:
        eager = f(r, cos)
        np.testing.assert_allclose(jax.jit(f)(r, cos), eager, rtol=1e-12, atol=1e-15)
        looped = jnp.stack([f(x, c) for x, c in zip(r, cos)])
        np.testing.assert_allclose(jax.vmap(f)(r, cos), looped, rtol=1e-12, atol=1e-15)


def test_parameter_sets():
    p = symmetry_function_parameters(6.0, num_radial=5)
    n = 5
    # Imbalzano 2018 shifted grid: r_s = r_c / n^{m/n}, m = 1..n, ascending
    np.testing.assert_allclose(p["radial_shift"], np.sort(6.0 / n ** (np.arange(1, n + 1) / n)), rtol=1e-14)
    rs_ext = 6.0 / n ** (np.arange(0, n + 1) / n)
    np.testing.assert_allclose(p["radial_eta"], (1.0 / np.diff(rs_ext) ** 2)[::-1], rtol=1e-14)
    assert p["angular_eta"].shape == p["angular_zeta"].shape == p["angular_lambda"].shape == (4 * 4 * 2,)
    assert set(p["angular_zeta"]) == {1.0, 2.0, 4.0, 16.0} and set(p["angular_lambda"]) == {-1.0, 1.0}
    np.testing.assert_allclose(np.unique(p["angular_eta"]), (3.0 ** (np.arange(4) / 3) / 6.0) ** 2, rtol=1e-14)
    g = symmetry_function_parameters(6.0, num_radial=6, num_angular_eta=3, rule="gastegger2018", r_lower=1.0)
    np.testing.assert_allclose(g["radial_shift"], np.linspace(1.0, 6.0, 6))
    np.testing.assert_allclose(g["radial_eta"], 1.0 / (2 * 1.0**2))
    np.testing.assert_allclose(np.unique(g["angular_eta"]), np.sort(1.0 / (2 * np.linspace(1.0, 6.0, 3) ** 2)))


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: radial_symmetry_terms(1.0, [0.1], [0.0], -3.0), "cutoff"),
        (lambda: radial_symmetry_terms(1.0, [-0.1], [0.0], 3.0), "eta"),
        (lambda: radial_symmetry_terms(1.0, [[0.1]], [0.0], 3.0), "eta"),
        (lambda: angular_symmetry_terms(1.0, 1.0, 1.0, 0.5, [0.1], [0.5], [1.0], 3.0), "zeta"),
        (lambda: angular_symmetry_terms(1.0, 1.0, 1.0, 0.5, [0.1], [1.0], [2.0], 3.0), "lam"),
        (lambda: angular_symmetry_terms_g5(1.0, 1.0, 0.5, [0.1], [1.0], [1.0], 0.0), "cutoff"),
        (lambda: symmetry_function_parameters(-1.0), "cutoff"),
        (lambda: symmetry_function_parameters(6.0, num_radial=1), "num_radial"),
        (lambda: symmetry_function_parameters(6.0, num_angular_eta=2.5), "num_angular_eta"),
        (lambda: symmetry_function_parameters(6.0, zetas=(0.5,)), "zetas"),
        (lambda: symmetry_function_parameters(6.0, rule="behler"), "rule"),
        (lambda: symmetry_function_parameters(6.0, rule="gastegger2018"), "r_lower"),
        (lambda: symmetry_function_parameters(6.0, rule="gastegger2018", r_lower=7.0), "r_lower"),
    ],
)
def test_bad_input_raises(call, message):
    with pytest.raises(ValueError, match=message):
        call()
