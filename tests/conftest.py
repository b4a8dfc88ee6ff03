"""Test-wide settings: every test runs in float64 so kernels and gradients are checked
to tight tolerances. Code under test that wants float32 asks for it explicitly. The command
line's persistent compilation cache is off (tests that check it name their own folder).

XLA's CPU runtime runs single-threaded Eigen here (and in the processes the tests start): on the
2-core CI machine its multi-threaded Eigen pool deadlocked in a vmapped training program (every
thread asleep, the result never ready; tests/studies/test_diatomic_levels.py, 2026-12-05), which
held a CI run until its time limit. The flag is the known workaround (docs/reliability.md).
"""

import os

if "--xla_cpu_multi_thread_eigen" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen=false").strip()

import jax  # noqa: E402  (after XLA_FLAGS: XLA reads them when its CPU client starts)

os.environ.setdefault("HYBRIDPOT_CACHE", "off")

jax.config.update("jax_enable_x64", True)
