"""Fault tests of `hybridpot train` as a user runs it: a subprocess killed with SIGKILL at random
moments, or stopped with SIGINT, then continued with `--resume`, ends bit-identical to a run that
was never interrupted (parameters, optimiser state, metric rows), with no temporary file left.

`pytest -m fault` runs 20 kills (a few minutes on 2 cores); `pytest -m heavy` runs SIGINT + 2 kills
and the command line's messages on a diverged run; the default selection the output-path checks.
"""

import json
import os
import random
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import yaml

from hybridpot._store import load_checkpoint

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUNDLED = os.path.join(ROOT, "hybridpot", "data", "alni_emt.extxyz")


def _train_file(folder, max_steps: int) -> str:
    """A tiny run (6 Al–Ni structures of the bundled data, a 4-unit pair MLP) that checkpoints every step."""
    import ase.io

    ase.io.write(os.path.join(folder, "small.extxyz"), ase.io.read(BUNDLED, index=":6"), format="extxyz")
    spec = {"dataset": {"train": "small.extxyz", "valid_fraction": 0.34},
            "model": {"kind": "pair_mlp", "hidden": [4], "cutoff": 3.0},
            "data": {"batch_size": 2, "prefetch": 2},
            "run": {"max_steps": max_steps, "checkpoint_every": 1, "eval_every": 3, "log_every": 1,
                    "progress": False}}
    path = os.path.join(folder, "tiny.yaml")
    with open(path, "w") as f:
        yaml.safe_dump(spec, f)
    return path


def _spawn(folder, *args) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.Popen([sys.executable, "-m", "hybridpot.cli", "train", "--no-progress", *args], cwd=folder,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _finish(proc: subprocess.Popen, timeout: float = 300) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def _checkpoint_step(run: str) -> int:
    """Step of the run's last checkpoint (-1: none yet). Reads the embedded metadata: the .npz is authoritative."""
    try:
        return load_checkpoint(os.path.join(run, "checkpoints", "last"))[1]["step"]
    except (FileNotFoundError, ValueError):
        return -1


def _wait_for_new_checkpoint(proc: subprocess.Popen, run: str, after: int, timeout: float = 240) -> bool:
    """Wait until the run's checkpoint passes step ``after`` (False if the process ended first)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            return False
        if _checkpoint_step(run) > after:
            return True
        time.sleep(0.02)
    raise TimeoutError(f"{run}: no checkpoint after step {after} within {timeout} s")


def _restart(folder, config: str, run: str) -> subprocess.Popen:
    """Continue the run: `--resume RUN` once it has a checkpoint, else `CONFIG --resume` (starts it)."""
    if os.path.exists(os.path.join(run, "checkpoints")) and os.listdir(os.path.join(run, "checkpoints")):
        return _spawn(folder, "--resume", "run")
    return _spawn(folder, config, "--resume", "--out", "run")


def _rows(run: str) -> list:
    """The metric rows of a run except the per-process summary (timings)."""
    rows = [json.loads(line) for line in open(os.path.join(run, "metrics.jsonl"))]
    return [r for r in rows if not r.get("summary")]


def _assert_same_run(run: str, reference: str) -> None:
    for name in ("model", "checkpoints/last", "checkpoints/best"):
        got, _ = load_checkpoint(os.path.join(run, name))
        want, _ = load_checkpoint(os.path.join(reference, name))
        assert sorted(got) == sorted(want)
        for key in want:  # bit-identical: parameters, optimiser state, EMA, history
            assert got[key].dtype == want[key].dtype and np.array_equal(got[key], want[key], equal_nan=True), (name, key)
    assert _rows(run) == _rows(reference)  # no repeated or lost metric rows, same losses
    left = [f for d in (run, os.path.join(run, "checkpoints")) for f in os.listdir(d) if f.endswith(".tmp")]
    assert left == []  # the killed runs' temporaries were removed


def _fault_run(tmp_path, n_kills: int, max_steps: int, seed: int, sigint: bool) -> None:
    folder = str(tmp_path)
    config = _train_file(folder, max_steps)
    reference = _spawn(folder, config, "--out", "reference")
    rng = random.Random(seed)
    run = os.path.join(folder, "run")
    proc = _spawn(folder, config, "--out", "run")
    if sigint:  # Ctrl-C: stops after a step with a checkpoint and a one-line message
        assert _wait_for_new_checkpoint(proc, run, 1)
        proc.send_signal(signal.SIGINT)
        rc, _out, err = _finish(proc)
        assert rc == 130, err
        line = err.strip().splitlines()[-1]
        assert line.startswith("hybridpot: interrupted after step ") and "hybridpot train --resume run" in line
        assert f"after step {_checkpoint_step(run)};" in line
        proc = _spawn(folder, "--resume", "run")
    kills = 0
    while kills < n_kills:
        if rng.random() < 0.25:  # a moment anywhere: start-up, compilation, a step, a write
            time.sleep(rng.uniform(0.0, 4.0))
        elif not _wait_for_new_checkpoint(proc, run, _checkpoint_step(run)):
            break  # the run finished before the kill
        else:  # a moment during training and checkpoint writes
            time.sleep(rng.uniform(0.0, 0.4))
        if proc.poll() is not None:
            break
        proc.kill()
        proc.wait()
        kills += 1
        proc = _restart(folder, config, run)
    rc, out, err = _finish(proc)
    assert rc == 0, err
    assert "wrote run/model.npz" in out
    rc, _out, err = _finish(reference)
    assert rc == 0, err
    assert kills == n_kills, f"the run finished after {kills} kills: raise max_steps"
    _assert_same_run(run, os.path.join(folder, "reference"))


@pytest.mark.heavy
def test_sigint_and_two_kills_then_resume_equal_the_uninterrupted_run(tmp_path):
    _fault_run(tmp_path, n_kills=2, max_steps=30, seed=1, sigint=True)


@pytest.mark.fault
def test_twenty_kills_then_resume_equal_the_uninterrupted_run(tmp_path):
    _fault_run(tmp_path, n_kills=20, max_steps=600, seed=0, sigint=False)


def test_outputs_outside_the_working_folder_need_an_absolute_path(tmp_path, monkeypatch, capsys):
    from hybridpot.cli.outputs import check_output

    monkeypatch.chdir(tmp_path / "")
    assert check_output("runs/a/../b", "--out") == "runs/a/../b"
    assert capsys.readouterr().err == ""
    with pytest.raises(ValueError, match=r"--out '../x' leads outside the working folder"):
        check_output("../x", "--out")
    outside = str(tmp_path.parent / "x")
    assert check_output(outside, "--out") == outside
    assert f"writes outside the working folder, to {outside}" in capsys.readouterr().err


def test_an_output_is_replaced_only_when_the_new_one_is_complete(tmp_path):
    from hybridpot.cli.outputs import replace_when_done

    out = tmp_path / "md.extxyz"
    out.write_text("old")
    with pytest.raises(RuntimeError):
        with replace_when_done(str(out)) as tmp:
            assert tmp.endswith(".extxyz") and os.path.dirname(tmp) == str(tmp_path)
            with open(tmp, "w") as f:
                f.write("half")
            assert out.read_text() == "old"
            raise RuntimeError("the run failed")
    assert out.read_text() == "old" and os.listdir(tmp_path) == ["md.extxyz"]
    with replace_when_done(str(out)) as tmp:
        with open(tmp, "w") as f:
            f.write("new")
    assert out.read_text() == "new" and os.listdir(tmp_path) == ["md.extxyz"]


@pytest.mark.heavy  # a CLI training compiling its own step, and a refused config
def test_without_validation_the_final_state_is_the_model_and_a_huge_learning_rate_is_refused(tmp_path, monkeypatch,
                                                                                                   capsys):
    from hybridpot.cli import main
    from hybridpot.potentials import load_potential

    monkeypatch.chdir(tmp_path)
    config = _train_file(str(tmp_path), max_steps=4)
    assert main(["train", config, "--out", "novalid", "--set", "dataset.valid_fraction=0", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "no validation data: the model is the final state (EMA parameters after step 4)" in out
    arrays, meta = load_checkpoint(str(tmp_path / "novalid" / "checkpoints" / "last"))
    model = load_potential(str(tmp_path / "novalid" / "model.npz"))
    assert meta["step"] == 4 and not os.path.exists(tmp_path / "novalid" / "checkpoints" / "best.npz")
    for key, value in arrays.items():  # the model file holds the last checkpoint's EMA parameters
        if key.startswith("best/"):
            np.testing.assert_array_equal(load_checkpoint(str(tmp_path / "novalid" / "model"))[0]["params/" + key[5:]],
                                          value)
    assert model.n_members == 1
    # a learning rate that would overflow float32 parameters at once is refused before training,
    # in one line naming the key (hybridpot.validation); divergence during training, with the
    # checkpoint it names, is checked by tests/train/test_train_trainer.py
    args = ["train", config, "--out", "inf_lr", "--set", "optim.learning_rate=1e300", "--no-progress"]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "optim.learning_rate=1e+300" in err and "less than or equal to 1" in err, err
    assert not os.path.exists(tmp_path / "inf_lr" / "model.npz")


@pytest.mark.heavy  # a CLI training compiling its own step, then its resume
def test_resuming_a_finished_run_rewrites_the_same_model_with_its_validation_metrics(tmp_path, monkeypatch, capsys):
    """A kill between the last checkpoint and the model file leaves a finished run whose resume
    runs no step: the model it writes must still carry the validation metrics of its parameters."""
    from hybridpot.cli import main
    from hybridpot.potentials.files import read_model_metadata

    monkeypatch.chdir(tmp_path)
    config = _train_file(str(tmp_path), max_steps=5)  # eval every 3 steps and at the end: the best may be step 3
    assert main(["train", config, "--out", "run", "--no-progress"]) == 0
    first = read_model_metadata("run/model.npz")["metadata"]
    params = load_checkpoint("run/model")[0]
    os.remove("run/model.npz")
    assert main(["train", "--resume", "run", "--no-progress"]) == 0
    capsys.readouterr()
    again = read_model_metadata("run/model.npz")["metadata"]
    metrics = again["valid_metrics"]
    assert set(metrics) >= {"energy_mae", "forces_mae"} and metrics == first["valid_metrics"]
    for key, value in load_checkpoint("run/model")[0].items():
        np.testing.assert_array_equal(value, params[key])
