"""Accuracy and cost of summing float32 per-atom energies into one energy, against system size.

Values: the float32 per-atom energies of a perfect crystal, −2.985643 eV (second-moment Al) plus a
uniform jitter of ±2.5 µeV (the spread float32 rounding gives them, docs/scale.md). Methods, all
in float32 under ``jax.jit`` (no ``jax_enable_x64``):

* ``segment_sum``: ``jax.ops.segment_sum`` (the old ``graph_sum``), a running float32 total;
* ``jnp.sum``: XLA's reduction (one graph only: it has no segments);
* ``kahan scan``: Kahan–Babuška compensated sum, one atom per ``lax.scan`` step;
* ``compensated``: :func:`hybridpot.graph.sums.contiguous_segment_sum` (double-float blocks, now
  ``graph_sum``).

Error: |E/N − exact/N| in eV/atom, the exact sum taken in float64 of the same float32 values.
Time: ms per call after compilation (median of ``--repeats``), value and gradient (forces need
the gradient) as ``value+grad``. The peer is ``segment_sum``.

Run: ``python benchmarks/energy_sum.py [--sizes 1000 10000 100000 1000000]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np


def main(argv=None):
    """Command line; prints the markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000, 1000000])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args(argv)
    import jax
    import jax.numpy as jnp

    from hybridpot.graph.sums import _double_float_add, contiguous_segment_sum

    def kahan(values, counts):
        def step(carry, x):
            return _double_float_add(carry, (x, jnp.zeros_like(x))), None

        zero = jnp.zeros((), values.dtype)
        (hi, lo), _ = jax.lax.scan(step, (zero, zero), values)
        return (hi + lo)[None]

    methods = {
        "segment_sum": lambda v, c: jax.ops.segment_sum(v, jnp.zeros(v.shape[0], jnp.int32), num_segments=1),
        "jnp.sum": lambda v, c: jnp.sum(v)[None],
        "kahan scan": kahan,
        "compensated": contiguous_segment_sum,
    }

    def timed(fn, *a):
        jax.block_until_ready(fn(*a))  # compile
        out = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            jax.block_until_ready(fn(*a))
            out.append(time.perf_counter() - t0)
        return 1e3 * float(np.median(out))

    rows = []
    for n in args.sizes:
        rng = np.random.default_rng(0)
        values = (np.float32(-2.985643) + rng.uniform(-2.5e-6, 2.5e-6, n)).astype(np.float32)
        exact = values.astype(np.float64).sum() / n
        v, c = jnp.asarray(values), jnp.asarray([n])
        for name, fn in methods.items():
            value = jax.jit(fn)
            grad = jax.jit(jax.value_and_grad(lambda x, f=fn: f(x, c)[0]))
            err = abs(float(value(v, c)[0]) / n - exact)
            rows.append((name, n, err, timed(value, v, c), timed(grad, v)))
            print(rows[-1], flush=True)
    print(f"\ndevice: {jax.devices()[0].platform} ({platform.processor() or platform.machine()}), "
          f"{os.cpu_count()} CPU cores; jax {jax.__version__}; load average at the end {os.getloadavg()[0]:.1f}\n")
    print("| method | atoms | error eV/atom | value ms | value+grad ms | value+grad / segment_sum |")
    print("|---|---|---|---|---|---|")
    peer = {n: g for name, n, _, _, g in rows if name == "segment_sum"}
    for name, n, err, t_value, t_grad in rows:
        print(f"| {name} | {n} | {err:.1e} | {t_value:.3f} | {t_grad:.3f} | {t_grad / peer[n]:.1f}× |")


if __name__ == "__main__":
    main()
