"""Data- and seed-parallel training over 4 forced host devices (in a subprocess) equals 1 device."""

import json
import os
import subprocess
import sys
import textwrap

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

SCRIPT = textwrap.dedent(
    """
    import json, sys, tempfile
    import jax
    jax.config.update("jax_enable_x64", True)
    import numpy as np
    from train_helpers import emt_structures, pair_mlp_model
    from hybridpot.train import config_from_dict, fit

    assert jax.device_count() == 4, jax.devices()
    train, valid = emt_structures().split(4, seed=1)
    out = {}

    def run(parallel, n_seeds, use_valid):
        cfg = config_from_dict({
            "data": {"batch_size": 8, "n_buckets": 1},
            "optim": {"learning_rate": 1e-2},
            "run": {"max_steps": 5, "n_seeds": n_seeds, "dtype": "float64", "eval_every": 5,
                    "log_every": 1, "progress": False, "parallel": parallel},
        })
        r = fit(pair_mlp_model(), train, valid if use_valid else None, cfg, tempfile.mkdtemp())
        leaves = [np.asarray(x) for x in jax.tree.leaves(r.params)]
        return r, leaves

    def compare(name, a, b):
        (ra, la), (rb, lb) = a, b
        out[name] = {
            "loss": float(np.max(np.abs(ra.history["train_loss"] - rb.history["train_loss"]))),
            "params": float(max(np.max(np.abs(x - y)) for x, y in zip(la, lb))),
            "valid": float(np.max(np.abs(ra.history["valid_loss"] - rb.history["valid_loss"]))) if ra.history["valid_loss"].size else 0.0,
        }

    if "data" in sys.argv:
        compare("data", run("none", 1, True), run("data", 1, True))
    if "seeds" in sys.argv:
        compare("seeds", run("none", 4, False), run("seeds", 4, False))
    print("RESULT" + json.dumps(out))
    """
)


def _run(tmp_path, *args):
    script = tmp_path / "parallel_run.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=4", "JAX_PLATFORMS": "cpu",
           "PYTHONPATH": os.pathsep.join([REPO, HERE, os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, str(script), *args], env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = next(l for l in proc.stdout.splitlines() if l.startswith("RESULT"))
    return json.loads(line[len("RESULT"):])


def test_data_parallel_over_four_devices_equals_one_device(tmp_path):
    result = _run(tmp_path, "data")["data"]
    print(result)
    assert result["loss"] < 1e-10 and result["params"] < 1e-10 and result["valid"] < 1e-10, result


@pytest.mark.slow
def test_seeds_spread_over_four_devices_equal_one_device(tmp_path):
    result = _run(tmp_path, "seeds")["seeds"]
    assert result["loss"] < 1e-10 and result["params"] < 1e-10, result
