"""Checkpoints: round trip without pickle, and a writer killed with SIGKILL mid-write."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import jax.numpy as jnp
import numpy as np
import optax
import pytest

from hybridpot.train import load_checkpoint, save_checkpoint, unflatten_like

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_round_trip_of_params_and_optimiser_state(tmp_path):
    params = {"dense": {"kernel": jnp.arange(6.0).reshape(2, 3), "bias": jnp.zeros(3)}}
    opt_state = optax.chain(optax.clip_by_global_norm(1.0), optax.adam(1e-3)).init(params)
    tree = {"params": params, "opt": opt_state, "step": np.int64(7)}
    save_checkpoint(str(tmp_path / "last"), tree, {"step": 7, "note": "Å"})
    arrays, meta = load_checkpoint(str(tmp_path / "last"))
    assert meta == {"step": 7, "note": "Å"}
    assert json.loads((tmp_path / "last.json").read_text(encoding="utf-8")) == meta
    back = unflatten_like(tree, arrays)
    np.testing.assert_array_equal(back["params"]["dense"]["kernel"], params["dense"]["kernel"])
    assert type(back["opt"][1][0]).__name__ == type(opt_state[1][0]).__name__
    # every stored array is a plain numeric array (nothing needs pickle)
    with np.load(tmp_path / "last.npz", allow_pickle=False) as z:
        assert all(z[k].dtype != object for k in z.files)
    with pytest.raises(ValueError, match="shape"):
        unflatten_like({"params": {"dense": {"kernel": jnp.zeros(2), "bias": jnp.zeros(3)}}}, arrays)
    assert not [f for f in os.listdir(tmp_path) if f.endswith(".tmp")]


WRITER = textwrap.dedent(
    """
    import sys
    import numpy as np
    from hybridpot._store import save_checkpoint
    path = sys.argv[1]
    step = 0
    while True:
        tree = {"big": np.full((512, 512), float(step)), "small": {"count": np.arange(step + 1)}}
        save_checkpoint(path, tree, {"step": step})
        print(step, flush=True)
        step += 1
    """
)


def test_sigkill_during_writes_leaves_a_loadable_checkpoint(tmp_path):
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    env = {**os.environ, "PYTHONPATH": REPO + os.pathsep + os.environ.get("PYTHONPATH", ""), "JAX_PLATFORMS": "cpu"}
    path = str(tmp_path / "ckpt" / "last")
    rng = np.random.default_rng(0)
    for trial in range(2):
        proc = subprocess.Popen([sys.executable, str(script), path], stdout=subprocess.PIPE, env=env, text=True)
        try:
            written = [int(proc.stdout.readline()) for _ in range(3 + trial)]  # some complete writes
            time.sleep(float(rng.uniform(0.0, 0.05)))
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        arrays, meta = load_checkpoint(path)
        step = meta["step"]
        assert step >= written[-1]
        assert np.all(arrays["big"] == step)
        np.testing.assert_array_equal(arrays["small/count"], np.arange(step + 1))


@pytest.fixture
def umask_027():
    old = os.umask(0o027)
    yield
    os.umask(old)


def test_written_files_follow_the_umask_and_orphan_temporaries_are_removed(tmp_path, umask_027):
    from hybridpot._store import atomic_write, remove_orphan_temporaries
    from hybridpot.train.logging import MetricsLog

    save_checkpoint(str(tmp_path / "c"), {"a": np.zeros(2)}, {"step": 1})
    log = MetricsLog(str(tmp_path / "metrics.jsonl"))
    log.append({"step": 1})
    log.append({"step": 2})
    log.truncate_after(1)  # rewritten atomically on resume: keeps the user's mode, not mkstemp's 0600
    for name in ("c.npz", "c.json", "metrics.jsonl"):
        assert os.stat(tmp_path / name).st_mode & 0o777 == 0o640, name
    (tmp_path / ".c.npz.x1y2.tmp").write_bytes(b"torn")
    (tmp_path / "keep.tmp").write_bytes(b"not ours")

    def fail(f):
        f.write(b"half")
        raise RuntimeError("writer failed")

    with pytest.raises(RuntimeError):
        atomic_write(str(tmp_path / "c.json"), fail)
    assert json.loads((tmp_path / "c.json").read_text()) == {"step": 1}  # the old file is intact
    assert remove_orphan_temporaries(str(tmp_path)) == [str(tmp_path / ".c.npz.x1y2.tmp")]
    assert sorted(os.listdir(tmp_path)) == ["c.json", "c.npz", "keep.tmp", "metrics.jsonl"]


def test_a_truncated_checkpoint_is_an_error_naming_the_file_and_previous_is_kept(tmp_path):
    from hybridpot._store import CheckpointError, keep_previous

    path = str(tmp_path / "last")
    save_checkpoint(path, {"a": np.zeros(3)}, {"step": 1})
    keep_previous(path, str(tmp_path / "previous"))
    keep_previous(path, str(tmp_path / "previous"))  # again, as after a kill before the write: no temporary left
    assert sorted(os.listdir(tmp_path)) == ["last.json", "last.npz", "previous.json", "previous.npz"]
    save_checkpoint(path, {"a": np.ones(3)}, {"step": 2})
    assert load_checkpoint(str(tmp_path / "previous"))[1] == {"step": 1}
    data = (tmp_path / "last.npz").read_bytes()
    (tmp_path / "last.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="last.npz: truncated or corrupt") as err:
        load_checkpoint(path)
    assert err.value.unreadable
    assert load_checkpoint(str(tmp_path / "previous"))[1] == {"step": 1}  # a hard link, not the same file
    with pytest.raises(FileNotFoundError, match="nothere.npz"):
        load_checkpoint(str(tmp_path / "nothere"))
