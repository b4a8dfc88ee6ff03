"""ZBL kernel against an independent NumPy implementation of the published formula and of
the LAMMPS ``pair_style zbl`` switch; forces, symmetry, switches, jit/vmap/grad and checks."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hybridpot.physics import (
    ZBL_UNIVERSAL,
    EnvelopeZBLSwitch,
    LammpsZBLSwitch,
    ZBLParams,
    lammps_zbl_switch_coefficients,
    zbl_energy,
)
from hybridpot.units import COULOMB_CONSTANT

# Published constants, typed in again here so the reference does not read the module's.
KE = 14.3996454784  # eV Å
C = np.array([0.18175, 0.50986, 0.28022, 0.02817])
D = np.array([3.19980, 0.94229, 0.40290, 0.20162])
PAIRS = {"H-H": (1, 1), "C-C": (6, 6), "C-H": (6, 1), "Cu-Cu": (29, 29)}
R = np.array([0.05, 0.1, 0.3, 0.5, 0.8, 1.2, 2.0, 3.5])


def _zbl_np(r, zi, zj, order=0):
    """E (order 0) or d^order E / dr^order from the published ZBL formula, term by term."""
    r = np.asarray(r, dtype=np.float64)[..., None]
    a = 0.46850 / (zi**0.23 + zj**0.23)
    b = D / a
    ex = C * np.exp(-b * r)
    if order == 0:
        t = ex / r
    elif order == 1:
        t = -ex * (b / r + 1 / r**2)
    else:
        t = ex * (b**2 / r + 2 * b / r**2 + 2 / r**3)
    return KE * zi * zj * t.sum(-1)


def _lammps_np(r, zi, zj, inner, outer):
    """LAMMPS pair_zbl energy: E + S(r), S = A/3 t^3 + B/4 t^4 + C (t = r - inner), 0 beyond outer."""
    tc = outer - inner
    fc, fcp, fcpp = (_zbl_np(outer, zi, zj, k) for k in range(3))
    sw_a = (-3 * fcp + tc * fcpp) / tc**2
    sw_b = (2 * fcp - tc * fcpp) / tc**3
    sw_c = -fc + tc / 2 * fcp - tc**2 / 12 * fcpp
    r = np.asarray(r, dtype=np.float64)
    e = _zbl_np(r, zi, zj) + sw_c
    t = r - inner
    e = np.where(r > inner, e + t**3 * (sw_a / 3 + sw_b / 4 * t), e)
    return np.where(r < outer, e, 0.0), (sw_a, sw_b, sw_c)


def test_coulomb_constant():
    assert COULOMB_CONSTANT == pytest.approx(14.399645, abs=5e-7)
    assert round(COULOMB_CONSTANT, 6) == 14.399645


def test_universal_parameters():
    np.testing.assert_array_equal(ZBL_UNIVERSAL.coefficients, C)
    np.testing.assert_array_equal(ZBL_UNIVERSAL.exponents, D)
    assert ZBL_UNIVERSAL.screening_length == 0.46850 and ZBL_UNIVERSAL.screening_exponent == 0.23


@pytest.mark.parametrize("pair", PAIRS, ids=list(PAIRS))
def test_energy_vs_numpy(pair):
    zi, zj = PAIRS[pair]
    np.testing.assert_allclose(zbl_energy(R, zi, zj), _zbl_np(R, zi, zj), rtol=1e-13)


@pytest.mark.parametrize("pair", PAIRS, ids=list(PAIRS))
def test_forces_vs_finite_differences(pair):
    zi, zj = PAIRS[pair]
    f = lambda r: zbl_energy(r, zi, zj)
    forces = -jax.vmap(jax.grad(f))(jnp.asarray(R))
    h = 1e-6 * R
    fd = -(np.asarray(f(R + h)) - np.asarray(f(R - h))) / (2 * h)
    np.testing.assert_allclose(forces, fd, rtol=1e-7)
    np.testing.assert_allclose(forces, -_zbl_np(R, zi, zj, 1), rtol=1e-12)


def test_symmetric_in_species_and_per_edge_broadcast():
    zi = np.array([1, 6, 29, 6])
    zj = np.array([6, 1, 6, 29])
    r = np.array([0.4, 0.4, 1.1, 1.1])
    e = np.asarray(zbl_energy(r, zi, zj))
    assert e[0] == pytest.approx(e[1], rel=1e-15) and e[2] == pytest.approx(e[3], rel=1e-15)
    np.testing.assert_allclose(e, [_zbl_np(r[k], zi[k], zj[k]) for k in range(4)], rtol=1e-13)
    np.testing.assert_allclose(zbl_energy(r, zi.astype(float), zj.astype(float)), e, rtol=1e-15)


def test_padding_species_zero():
    r = jnp.array([0.8, 0.8])
    zi = jnp.array([6, 0])
    e = zbl_energy(r, zi, 6)
    assert float(e[1]) == 0.0
    g = jax.grad(lambda p: zbl_energy(r, zi, 6, params=p).sum())(ZBL_UNIVERSAL)
    assert all(np.all(np.isfinite(x)) for x in g)


SWITCH = LammpsZBLSwitch(inner=1.0, outer=2.0)


@pytest.mark.parametrize("pair", PAIRS, ids=list(PAIRS))
def test_lammps_switch_vs_numpy(pair):
    zi, zj = PAIRS[pair]
    r = np.array([0.2, 0.7, 0.999, 1.0, 1.3, 1.6, 1.95, 1.999, 2.0, 2.5])
    want, (sa, sb, sc) = _lammps_np(r, zi, zj, SWITCH.inner, SWITCH.outer)
    np.testing.assert_allclose(zbl_energy(r, zi, zj, switch=SWITCH), want, rtol=1e-10, atol=1e-12)
    a, b, c = lammps_zbl_switch_coefficients(zi, zj, SWITCH)
    np.testing.assert_allclose([a, b, c], [sa, sb, sc], rtol=1e-12)


@pytest.mark.parametrize("pair", PAIRS, ids=list(PAIRS))
def test_lammps_switch_vanishes_smoothly_at_outer(pair):
    zi, zj = PAIRS[pair]
    f = lambda r: zbl_energy(r, zi, zj, switch=SWITCH)
    d1, d2 = jax.grad(f), jax.grad(jax.grad(f))
    r = SWITCH.outer - 1e-9
    scale = abs(_zbl_np(1.0, zi, zj))  # energies on the scale of E(inner)
    assert abs(float(f(r))) < 1e-12 * scale
    assert abs(float(d1(r))) < 1e-10 * scale
    assert abs(float(d2(r))) < 1e-7 * scale
    for x in (SWITCH.outer, SWITCH.outer + 0.5):
        assert float(f(x)) == 0.0 and float(d1(x)) == 0.0 and float(d2(x)) == 0.0


@pytest.mark.parametrize("pair", PAIRS, ids=list(PAIRS))
def test_lammps_switch_inner_continuity_and_constant_shift(pair):
    zi, zj = PAIRS[pair]
    f = lambda r: zbl_energy(r, zi, zj, switch=SWITCH)
    eps = 1e-9
    lo, hi = SWITCH.inner - eps, SWITCH.inner + eps
    assert float(f(lo)) == pytest.approx(float(f(hi)), rel=1e-8)
    assert float(jax.grad(f)(lo)) == pytest.approx(float(jax.grad(f)(hi)), rel=1e-7)
    assert float(jax.grad(jax.grad(f))(lo)) == pytest.approx(float(jax.grad(jax.grad(f))(hi)), rel=1e-6)
    r = np.linspace(0.05, SWITCH.inner, 20)
    shift = np.asarray(zbl_energy(r, zi, zj, switch=SWITCH)) - _zbl_np(r, zi, zj)
    _, (_, _, sc) = _lammps_np(r, zi, zj, SWITCH.inner, SWITCH.outer)
    np.testing.assert_allclose(shift, sc, rtol=1e-8, atol=1e-10 * abs(_zbl_np(0.05, zi, zj)))


@pytest.mark.parametrize("pair", PAIRS, ids=list(PAIRS))
def test_envelope_switch(pair):
    zi, zj = PAIRS[pair]
    cutoff = 2.5
    sw = EnvelopeZBLSwitch(cutoff)
    f = lambda r: zbl_energy(r, zi, zj, switch=sw)
    r = cutoff - 1e-9
    scale = abs(_zbl_np(1.0, zi, zj))
    assert abs(float(f(r))) < 1e-12 * scale
    assert abs(float(jax.grad(f)(r))) < 1e-10 * scale
    assert abs(float(jax.grad(jax.grad(f))(r))) < 1e-6 * scale
    x = np.array([0.3, 1.0, 2.0])
    u = 1 - 28 * (x / cutoff) ** 6 + 48 * (x / cutoff) ** 7 - 21 * (x / cutoff) ** 8  # p = 6
    np.testing.assert_allclose(f(x), _zbl_np(x, zi, zj) * u, rtol=1e-12)
    assert float(f(cutoff)) == 0.0 and float(f(3.0)) == 0.0


@pytest.mark.parametrize("switch", [None, SWITCH, EnvelopeZBLSwitch(2.0)], ids=["bare", "lammps", "envelope"])
def test_jit_vmap_grad(switch):
    r = jnp.linspace(0.05, 10.0, 101)
    f = lambda r, p: zbl_energy(r, 6, 1, params=p, switch=switch)
    np.testing.assert_allclose(jax.jit(f)(r, ZBL_UNIVERSAL), f(r, ZBL_UNIVERSAL), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(
        jax.jit(lambda r, s: zbl_energy(r, 6, 1, switch=s))(r, switch), f(r, ZBL_UNIVERSAL), rtol=1e-12, atol=1e-14
    )
    scales = jnp.array([0.9, 1.0, 1.1])
    batch = ZBLParams(
        coefficients=jnp.stack([jnp.asarray(C)] * 3),
        exponents=jnp.stack([jnp.asarray(D) * s for s in scales]),
        screening_length=0.46850 * scales,
        screening_exponent=0.23 * scales,
    )
    got = jax.vmap(f, in_axes=(None, 0))(r, batch)
    want = np.stack([f(r, ZBLParams(*(x[i] for x in batch))) for i in range(3)])
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)
    assert np.all(np.isfinite(jax.vmap(jax.grad(f), in_axes=(0, None))(r, ZBL_UNIVERSAL)))
    gp = jax.grad(lambda p: f(r, p).sum())(ZBL_UNIVERSAL)
    assert all(np.all(np.isfinite(x)) for x in gp)


def test_screening_length_gradient_vs_finite_difference():
    f = lambda a0: zbl_energy(0.7, 6, 6, params=ZBL_UNIVERSAL._replace(screening_length=a0), switch=SWITCH)
    h = 1e-6
    fd = (f(0.4685 + h) - f(0.4685 - h)) / (2 * h)
    assert float(jax.grad(f)(0.4685)) == pytest.approx(float(fd), rel=1e-6)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(switch=LammpsZBLSwitch(2.0, 2.0)), "inner must be smaller than outer"),
        (dict(switch=LammpsZBLSwitch(3.0, 2.0)), "inner must be smaller than outer"),
        (dict(switch=LammpsZBLSwitch(-1.0, 2.0)), "zbl switch inner must be positive"),
        (dict(switch=EnvelopeZBLSwitch(-2.0)), "zbl envelope cutoff must be positive"),
        (dict(switch=(1.0, 2.0)), "zbl switch must be None"),
        (dict(params=ZBL_UNIVERSAL._replace(screening_length=-0.4685)), "zbl screening_length must be positive"),
        (dict(params=ZBL_UNIVERSAL._replace(exponents=np.array([1.0, 2.0]))), "same length"),
        (dict(z_i=-6), "zbl z_i must be non-negative"),
    ],
)
def test_bad_input_raises(kwargs, match):
    args = dict(z_i=6, z_j=6)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        zbl_energy(1.0, **args)
