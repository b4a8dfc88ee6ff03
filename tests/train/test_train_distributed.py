"""Data-parallel training over 2 processes (jax.distributed on localhost, CPU collectives) equals 1 process."""

import json
import os
import socket
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
    port, n_processes, process_id = map(int, sys.argv[1:4])
    if n_processes > 1:
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
        jax.distributed.initialize(coordinator_address=f"localhost:{port}", num_processes=n_processes,
                                   process_id=process_id)
    jax.config.update("jax_enable_x64", True)
    import numpy as np
    from train_helpers import emt_structures, pair_mlp_model
    from hybridpot.train import config_from_dict, fit

    assert jax.process_count() == n_processes and jax.device_count() == n_processes, jax.devices()
    train, valid = emt_structures().split(4, seed=1)
    cfg = config_from_dict({
        "data": {"batch_size": 8, "n_buckets": 1},
        "optim": {"learning_rate": 1e-2},
        "run": {"max_steps": 5, "n_seeds": 1, "dtype": "float64", "eval_every": 5, "log_every": 1,
                "progress": False, "parallel": "data" if n_processes > 1 else "none"},
    })
    r = fit(pair_mlp_model(), train, valid, cfg, tempfile.mkdtemp())
    print("RESULT" + json.dumps({
        "params": [np.asarray(x).tolist() for x in jax.tree.leaves(r.params)],
        "loss": np.asarray(r.history["train_loss"]).tolist(),
        "valid": np.asarray(r.history["valid_loss"]).tolist(),
    }))
    """
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def _results(tmp_path, n_processes: int) -> list[dict]:
    script = tmp_path / "distributed_run.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "PYTHONPATH": os.pathsep.join([REPO, HERE, os.environ.get("PYTHONPATH", "")])}
    env.pop("XLA_FLAGS", None)  # one CPU device per process
    port = _free_port()
    procs = [
        subprocess.Popen([sys.executable, str(script), str(port), str(n_processes), str(i)], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for i in range(n_processes)
    ]
    outs = []
    for proc in procs:
        stdout, stderr = proc.communicate(timeout=600)
        assert proc.returncode == 0, stderr[-3000:]
        outs.append(json.loads(next(l for l in stdout.splitlines() if l.startswith("RESULT"))[len("RESULT"):]))
    return outs


@pytest.mark.heavy  # three fresh processes, each compiling the step
def test_two_process_data_parallel_training_equals_one_process(tmp_path):
    import numpy as np

    (single,) = _results(tmp_path, 1)
    pair = _results(tmp_path, 2)
    for result in pair:  # each process holds the same replicated parameters, equal to one process's
        for key in ("params", "loss", "valid"):
            for a, b in zip(result[key], single[key]):
                np.testing.assert_allclose(np.asarray(a, float), np.asarray(b, float), rtol=1e-10, atol=1e-12)
