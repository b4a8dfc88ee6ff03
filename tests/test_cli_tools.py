"""The command line: train → evaluate → md → dimer on a tiny EMT data set; --help; errors without tracebacks."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import yaml

from hybridpot.cli import main
from hybridpot.cli.templates import MODEL_SECTIONS, TEMPLATE, template
from hybridpot.cli.train_app import parse_train_file
from hybridpot.io import write_structures
from hybridpot.potentials import load_potential


def _emt_file(path, seed0=0):
    from ase.build import bulk
    from ase.calculators.emt import EMT

    from hybridpot.train import Dataset

    images = []
    for k in range(6):
        atoms = bulk("Cu", "fcc", a=3.6, cubic=True)
        atoms.numbers[k % 4] = 13
        atoms.rattle(0.05, seed=seed0 + k)
        atoms.info["config_type"] = "rattled" if k < 4 else "other"
        atoms.calc = EMT()
        images.append(atoms)
    write_structures(path, Dataset.from_atoms(images))


def test_template_is_a_valid_train_file():
    spec = parse_train_file(yaml.safe_load(TEMPLATE), ["optim.learning_rate=3e-4", "model.hidden=[8]"])
    assert spec.model_kind == "pair_mlp" and spec.model_args["hidden"] == [8]
    assert spec.config.optim.learning_rate == 3e-4 and spec.dataset.train == "train.extxyz"


@pytest.mark.parametrize("kind", sorted(MODEL_SECTIONS))
def test_every_family_template_builds_its_model(kind, tmp_path):
    """Each `hybridpot template --model KIND` is a valid train file whose model builds on the data,
    with the data-derived arguments (species, n̄, a Behler–Parrinello spec and scaling) filled in."""
    from hybridpot.cli.train_app import complete_model_args
    from hybridpot.io import read_structures
    from hybridpot.potentials import build_potential_model

    _emt_file(tmp_path / "data.extxyz")
    spec = parse_train_file(yaml.safe_load(template(kind)), ["dataset.train=data.extxyz"])
    data = read_structures(tmp_path / "data.extxyz")
    args = complete_model_args(spec.model_kind, spec.model_args, [13, 29], "float32", data)
    model = build_potential_model(spec.model_kind, args, spec.physics, spec.strategy)
    assert set(model.species or (13, 29)) == {13, 29} and model.atomic_energy is not None
    if kind == "behler_parrinello":
        assert args["spec"]["cutoff"] == 6.0 and np.asarray(args["scaling"]["mean"]).shape == (2, 64)
        with pytest.raises(ValueError, match=r"unknown option\(s\) \['radius'\]"):
            complete_model_args(kind, {"descriptor": {"radius": 5.0}}, [13, 29], "float32", data)
    if kind == "mace":
        assert args["avg_num_neighbors"] > 10


@pytest.mark.heavy  # over 20 s of compilation on 2 cores
def test_a_behler_parrinello_train_file_trains_and_writes_a_model_file(tmp_path, capsys):
    _emt_file(tmp_path / "data.extxyz")
    cfg = yaml.safe_load(template("behler_parrinello"))
    cfg["dataset"].update(train="data.extxyz", valid_fraction=0.34)
    cfg["model"].update(hidden=[8], descriptor={"cutoff": 4.5, "num_radial": 4, "num_angular_eta": 0})
    cfg["run"].update(max_steps=4, eval_every=2, checkpoint_every=2)
    cfg["data"].update(batch_size=2, n_buckets=1)
    (tmp_path / "bp.yaml").write_text(yaml.safe_dump(cfg, allow_unicode=True))
    out = str(tmp_path / "bp")
    assert main(["train", str(tmp_path / "bp.yaml"), "--out", out, "--no-progress",
                 "--set", "physics={kind: embedded_atom, species: [13, 29], cutoff: 4.5, a: 0.1, p: 10.0, "
                          "xi: 1.5, q: 2.5, r0: 2.7}"]) == 0
    pot = load_potential(os.path.join(out, "model.npz"))
    assert pot.model_kind == "behler_parrinello" and pot.physics["kind"] == "embedded_atom"
    assert pot.model_args["spec"]["species"] == [13, 29] and not pot.needs_triplets
    assert main(["evaluate", os.path.join(out, "model.npz"), str(tmp_path / "data.extxyz")]) == 0
    assert "| forces |" in capsys.readouterr().out


@pytest.mark.heavy  # a whole train → evaluate → md → dimer session through the CLI: kept out of the 5-minute default selection
def test_train_evaluate_md_dimer(tmp_path, capsys):
    _emt_file(tmp_path / "data.extxyz")
    cfg = yaml.safe_load(TEMPLATE)
    cfg["dataset"]["train"] = "data.extxyz"
    cfg["dataset"]["valid_fraction"] = 0.34
    cfg["model"]["hidden"] = [8]
    cfg["run"].update(max_steps=6, eval_every=3, checkpoint_every=3, n_seeds=2)
    cfg["data"].update(batch_size=2, n_buckets=1)
    (tmp_path / "train.yaml").write_text(yaml.safe_dump(cfg, allow_unicode=True))
    out = str(tmp_path / "run")
    assert main(["train", str(tmp_path / "train.yaml"), "--out", out, "--no-progress",
                 "--set", "physics={kind: zbl, envelope_cutoff: 1.5}",
                 "--set", "strategy={name: aphynity, penalty: 0.1}"]) == 0
    model = os.path.join(out, "model.npz")
    pot = load_potential(model)
    assert pot.n_members == 2 and pot.species == (13, 29) and pot.physics["kind"] == "zbl"
    assert pot.strategy == {"name": "aphynity", "penalty": 0.1} and pot.model.hybrid.strategy.penalty == 0.1
    assert main(["evaluate", model, str(tmp_path / "data.extxyz"), "--plots", str(tmp_path / "plots"),
                 "--json", str(tmp_path / "m.json")]) == 0
    text = capsys.readouterr().out
    assert "| forces |" in text and "| stress |" in text
    assert os.path.exists(tmp_path / "plots" / "parity_forces.png")
    # an ensemble also reports its committee: error of the mean, calibration of the spread
    assert "committee of 2 members" in text and "| energy_per_atom | 1 |" in text
    assert "| rattled | 4 |" in text and "| other | 2 |" in text
    # frames picked in the name, as ase does; errors broken down per config_type in the JSON
    assert main(["evaluate", model, str(tmp_path / "data.extxyz") + "@1:5", "--json", str(tmp_path / "s.json")]) == 0
    assert "data.extxyz@1:5: 4 structures" in capsys.readouterr().out
    by_type = json.loads((tmp_path / "s.json").read_text())["by_config_type"]
    assert {k: v["n_structures"] for k, v in by_type.items()} == {"other": 1, "rattled": 3}
    _emt_file(tmp_path / "valid.extxyz", seed0=20)
    assert main(["evaluate", model, str(tmp_path / "data.extxyz"), "--calibrate", str(tmp_path / "valid.extxyz"),
                 "--json", str(tmp_path / "c.json")]) == 0
    rows = json.loads((tmp_path / "c.json").read_text())["committee"]
    assert {r["quantity"] for r in rows} == {"energy_per_atom", "forces"}
    assert any(r["scale"] != 1.0 for r in rows) and all(-1 <= r["spearman"] <= 1 for r in rows)
    assert main(["md", model, str(tmp_path / "data.extxyz"), "--steps", "6", "--write-every", "2",
                 "--out", str(tmp_path / "md.extxyz"), "--thermostat", "langevin"]) == 0
    from ase.io import read

    assert len(read(tmp_path / "md.extxyz", ":")) == 4  # steps 0, 2, 4, 6
    assert "compilations 1" in capsys.readouterr().out
    assert main(["md", model, str(tmp_path / "data.extxyz") + "@0:2", "--steps", "1"]) == 2
    assert "selects 2 frames; MD starts from one" in capsys.readouterr().err
    assert main(["dimer", model, "Cu", "Al", "--out", str(tmp_path / "dimer.png")]) == 0
    assert os.path.getsize(tmp_path / "dimer.png") > 1000


@pytest.mark.parametrize("argv, message", [
    (["train", "missing.yaml"], "train file missing.yaml does not exist"),
    (["evaluate", "missing.npz", "data.xyz"], "model file missing.npz does not exist"),
])
def test_user_mistakes_end_without_a_traceback(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_train_file_mistakes(tmp_path, capsys):
    (tmp_path / "t.yaml").write_text("model: {kind: pair_mlp}\n")
    assert main(["train", str(tmp_path / "t.yaml")]) == 2
    assert "dataset.train" in capsys.readouterr().err
    (tmp_path / "t.yaml").write_text("dataset: {train: x.xyz}\nmodel: {kind: pair_mlp}\noptim: {learnin_rate: 1}\n")
    assert main(["train", str(tmp_path / "t.yaml")]) == 2
    assert "optim.learnin_rate" in capsys.readouterr().err
    (tmp_path / "t.yaml").write_text("dataset: {train: x.xyz}\n")
    assert main(["train", str(tmp_path / "t.yaml")]) == 2
    assert "model.kind" in capsys.readouterr().err
    (tmp_path / "t.yaml").write_text("dataset: {train: nothere.xyz}\nmodel: {kind: pair_mlp}\n")
    assert main(["train", str(tmp_path / "t.yaml")]) == 2
    assert "nothere.xyz: no such file" in capsys.readouterr().err


def test_help_everywhere_and_template_in_a_subprocess():
    for argv in ([], ["train"], ["evaluate"], ["md"], ["dimer"], ["template"], ["study"], ["study", "diatomic"]):
        with pytest.raises(SystemExit) as exit_info:
            main(argv + ["--help"])
        assert exit_info.value.code == 0
    out = subprocess.run([sys.executable, "-m", "hybridpot.cli", "template"], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0 and "kind: pair_mlp" in out.stdout
    assert np.isfinite(yaml.safe_load(out.stdout)["optim"]["learning_rate"])


def test_compile_cache_folder_choice(monkeypatch, tmp_path):
    from hybridpot.cli import compile_cache_dir

    monkeypatch.delenv("HYBRIDPOT_CACHE", raising=False)
    assert compile_cache_dir() == os.path.expanduser("~/.cache/hybridpot/jax")
    monkeypatch.setenv("HYBRIDPOT_CACHE", str(tmp_path / "env"))
    assert compile_cache_dir() == str(tmp_path / "env")
    assert compile_cache_dir(str(tmp_path / "opt")) == str(tmp_path / "opt")
    assert compile_cache_dir(str(tmp_path / "opt"), disabled=True) is None
    monkeypatch.setenv("HYBRIDPOT_CACHE", "off")
    assert compile_cache_dir() is None


@pytest.mark.heavy  # two trainings in fresh processes
def test_second_run_loads_its_programs_from_the_compile_cache(tmp_path):
    _emt_file(tmp_path / "data.extxyz")
    cfg = yaml.safe_load(TEMPLATE)
    cfg["dataset"].update(train="data.extxyz", valid_fraction=0.34)
    cfg["model"]["hidden"] = [8]
    cfg["run"].update(max_steps=2, eval_every=2, checkpoint_every=2)
    cfg["data"].update(batch_size=2, n_buckets=1)
    (tmp_path / "train.yaml").write_text(yaml.safe_dump(cfg, allow_unicode=True))
    # count the persistent cache's hits and misses of one `hybridpot train` in a fresh process
    script = (
        "import collections, sys, jax.monitoring\n"
        "seen = collections.Counter()\n"
        "jax.monitoring.register_event_listener(lambda name, **kw: seen.update([name]))\n"
        "from hybridpot.cli import main\n"
        "status = main(sys.argv[1:])\n"
        "print('HITS', seen['/jax/compilation_cache/cache_hits'], 'MISSES', seen['/jax/compilation_cache/cache_misses'])\n"
        "sys.exit(status)\n"
    )
    cache = tmp_path / "cache"
    import hybridpot

    root = os.path.dirname(os.path.dirname(hybridpot.__file__))  # this checkout's package in the child too
    env = {**os.environ, "HYBRIDPOT_CACHE": str(cache), "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])}
    counts = []
    for run in ("a", "b"):
        done = subprocess.run([sys.executable, "-c", script, "train", "train.yaml", "--out", run, "--no-progress"],
                              cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-2000:]
        counts.append([int(v) for v in done.stdout.split("HITS")[-1].split()[::2]])
    (hits_a, misses_a), (hits_b, misses_b) = counts
    assert any(cache.iterdir()) and hits_a == 0 and misses_a > 0
    assert hits_b > 0 and misses_b < misses_a, counts
