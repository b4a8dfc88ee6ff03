"""Test-wide settings: every test runs in float64 so kernels and gradients are checked
to tight tolerances. Code under test that wants float32 asks for it explicitly. The command
line's persistent compilation cache is off (tests that check it name their own folder)."""

import os

import jax

os.environ.setdefault("HYBRIDPOT_CACHE", "off")

jax.config.update("jax_enable_x64", True)
