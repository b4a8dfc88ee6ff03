"""Test-wide settings: every test runs in float64 so kernels and gradients are checked
to tight tolerances. Code under test that wants float32 asks for it explicitly."""

import jax

jax.config.update("jax_enable_x64", True)
