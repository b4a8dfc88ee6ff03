"""Host-side input checks that raise a ``ValueError`` naming the problem.

Checks run on concrete (non-traced) values only: inside ``jax.jit`` a value is a tracer
and cannot be inspected, so the checks are skipped there and belong at the boundary
where user data enters (loaders, graph builders, public entry points).
"""

from __future__ import annotations

import numbers

import numpy as np
from jax.core import Tracer


def is_concrete(x) -> bool:
    """True when ``x`` holds values that can be inspected on the host (not a jit tracer)."""
    return not isinstance(x, Tracer)


def check_finite(name: str, x) -> None:
    """Raise ``ValueError`` if the concrete array ``x`` holds NaN or inf; name the first bad index."""
    if not is_concrete(x):
        return
    a = np.asarray(x)
    if a.dtype.kind in "fc":
        bad = ~np.isfinite(a)
        if bad.any():
            first = tuple(int(i) for i in np.argwhere(bad)[0])
            raise ValueError(f"{name} contains NaN or inf (first at index {first}, value {a[first]})")


def check_shape(name: str, x, shape: tuple) -> None:
    """Raise ``ValueError`` unless ``x`` has ``shape``; ``None`` entries match any length."""
    actual = np.shape(x)
    if len(actual) != len(shape) or any(s is not None and s != a for s, a in zip(shape, actual)):
        want = "[" + ", ".join("*" if s is None else str(s) for s in shape) + "]"
        raise ValueError(f"{name} must have shape {want}, got {list(actual)}")


def check_positive(name: str, x, *, allow_zero: bool = False) -> None:
    """Raise ``ValueError`` if the concrete value ``x`` is negative (or zero unless ``allow_zero``)."""
    if not is_concrete(x):
        return
    a = np.asarray(x)
    bad = (a < 0) if allow_zero else (a <= 0)
    if bad.any() or np.isnan(a).any():
        kind = "non-negative" if allow_zero else "positive"
        raise ValueError(f"{name} must be {kind}, got {a.tolist() if a.ndim else a.item()}")


def check_integer(name: str, value, *, minimum: int = 0) -> int:
    """Return ``value`` as ``int``; raise ``ValueError`` unless it is an integer ≥ ``minimum``.

    For static arguments that fix array shapes (orders, basis sizes): Python and NumPy integers
    pass; floats (even ``8.0``) and booleans are rejected, so a typo is caught.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value}")
    return int(value)
