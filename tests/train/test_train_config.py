"""Typed configs: validation, YAML files, command-line overrides."""

import dataclasses
import functools
import re

import pytest

from hybridpot.train import (
    OptimConfig,
    RunConfig,
    TrainConfig,
    apply_overrides,
    config_from_dict,
    config_to_dict,
    load_config,
    save_config,
)


def test_defaults_round_trip():
    cfg = TrainConfig()
    assert config_from_dict(config_to_dict(cfg)) == cfg
    assert config_from_dict({}) == cfg
    assert hash(cfg) == hash(config_from_dict(config_to_dict(cfg)))


@pytest.mark.parametrize(
    "data, names",
    [
        ({"optim": {"learnin_rate": 1e-3}}, ["optim.learnin_rate"]),
        ({"trainer": {}}, ["trainer"]),
        ({"run": {"seed": 0, "epochs": 3}}, ["run.epochs"]),
    ],
)
def test_unknown_keys_are_named(data, names):
    with pytest.raises(ValueError, match="unknown config key") as err:
        config_from_dict(data)
    for name in names:
        assert name in str(err.value)


@pytest.mark.parametrize(
    "data, key",
    [
        ({"run": {"max_steps": "ten"}}, "run.max_steps"),
        ({"run": {"max_steps": 10.0}}, "run.max_steps"),
        ({"data": {"shuffle": 1}}, "data.shuffle"),
        ({"loss": {"kind": "l2"}}, "loss.kind"),
        ({"optim": {"clip_norm": "big"}}, "optim.clip_norm"),
        ({"optim": 3}, "optim"),
        ({"data": {"batch_size": 0}}, "data.batch_size"),
        ({"optim": {"weight_decay": 0.1}}, "optim.weight_decay"),
    ],
)
def test_wrong_types_and_values_are_named(data, key):
    with pytest.raises(ValueError, match=key.replace(".", r"\.")):
        config_from_dict(data)


def test_configs_are_hashable_values():
    """Static arguments / lru_cache keys of compiled functions: hashable, equal by value (1 == 1.0)."""
    a = config_from_dict({"optim": {"learning_rate": 1}})
    b = config_from_dict({"optim": {"learning_rate": 1.0}})
    assert a == b and hash(a) == hash(b) and a != TrainConfig()
    calls = []

    @functools.lru_cache
    def compiled(cfg):
        calls.append(cfg)
        return cfg.optim.learning_rate

    assert compiled(a) == compiled(b) == 1.0 and len(calls) == 1
    assert [f.name for f in dataclasses.fields(TrainConfig)] == ["data", "loss", "optim", "normalisation", "run"]
    assert dataclasses.asdict(a)["optim"]["learning_rate"] == 1.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.run.n_seeds = 2  # type: ignore[misc]


def test_replace_revalidates():
    run = dataclasses.replace(RunConfig(), n_seeds=4)
    assert run.n_seeds == 4
    with pytest.raises(ValueError, match="n_seeds"):
        dataclasses.replace(run, n_seeds=0)
    with pytest.raises(ValueError, match="weight_decay"):
        dataclasses.replace(OptimConfig(), weight_decay=0.1)


def test_every_unknown_key_is_named_with_the_known_keys_of_its_section():
    with pytest.raises(ValueError, match="unknown config key") as err:
        config_from_dict({"optim": {"learnin_rate": 1e-3, "nam": "adam"}, "run": {"epochs": 3}, "trainer": {}})
    msg = str(err.value)
    for name in ("optim.learnin_rate", "optim.nam", "run.epochs", "'trainer'"):
        assert name in msg
    assert "known keys of optim" in msg and "'learning_rate'" in msg
    assert "known keys of run" in msg and "'max_steps'" in msg
    assert "known keys of the config" in msg and "'normalisation'" in msg


@pytest.mark.parametrize(
    "data, expected",
    [
        ({"run": {"n_seeds": True}}, "run.n_seeds=True"),  # a bool is not an int
        ({"optim": {"learning_rate": True}}, "optim.learning_rate=True"),  # nor a float
        ({"optim": {"learning_rate": "1e-3"}}, "optim.learning_rate='1e-3'"),  # strings are not parsed
        ({"optim": {"clip_norm": False}}, "optim.clip_norm=False"),
        ({"run": {"patience": "none"}}, "run.patience='none'"),
        ({"run": {"n_seeds": 0}}, "run.n_seeds=0"),
        ({"optim": {"final_lr_fraction": 1.5}}, "optim.final_lr_fraction=1.5"),
        ({"optim": {"ema_decay": 1.0}}, "optim.ema_decay=1.0"),
        ({"data": {"bucket_ratio": 1}}, "data.bucket_ratio=1"),
        ({"loss": {"forces_weight": -1.0}}, "loss.forces_weight=-1.0"),
        ({"optim": {"name": "sgd"}}, "optim.name='sgd'"),
    ],
)
def test_bad_values_are_named_with_the_value(data, expected):
    with pytest.raises(ValueError) as err:
        config_from_dict(data)
    assert expected in str(err.value)


def test_weight_decay_needs_adamw():
    expected = "optim.weight_decay=0.1: needs optim.name='adamw', got optim.name='amsgrad'"
    with pytest.raises(ValueError, match=re.escape(expected)):
        config_from_dict({"optim": {"name": "amsgrad", "weight_decay": 0.1}})
    assert config_from_dict({"optim": {"name": "adamw", "weight_decay": 0.1}}).optim.weight_decay == 0.1
    assert config_from_dict({"optim": {"name": "adam", "weight_decay": 0}}).optim.weight_decay == 0.0


def test_learned_weight_migration():
    """loss.learned_weight: 0 (older run folders and checkpoints) is dropped; any other value is refused."""
    old = config_to_dict(TrainConfig())
    old["loss"]["learned_weight"] = 0.0
    assert config_from_dict(old) == TrainConfig()
    assert old["loss"]["learned_weight"] == 0.0  # the input is left alone
    assert "learned_weight" not in config_to_dict(TrainConfig())["loss"]
    removed = (
        "loss.learned_weight was removed: the APHYNITY penalty belongs to the model now; compose it with "
        "hybridpot.hybrid.aphynity(physics, learned, penalty=λ) (in a train file: strategy: {name: aphynity, "
        "penalty: λ})"
    )
    with pytest.raises(ValueError, match=re.escape(removed)):
        config_from_dict({"loss": {"learned_weight": 0.1}})


def test_int_is_accepted_for_float_and_none_for_optional():
    cfg = config_from_dict({"optim": {"learning_rate": 1, "clip_norm": None}, "run": {"patience": None}})
    assert isinstance(cfg.optim.learning_rate, float) and cfg.optim.clip_norm is None


def test_yaml_and_overrides(tmp_path):
    path = tmp_path / "train.yaml"
    path.write_text("optim:\n  learning_rate: 1e-3\n  name: adamw\n  weight_decay: 1e-5\nrun:\n  n_seeds: 2\n")
    cfg = load_config(path, ["optim.learning_rate=3e-4", "run.patience=5", "data.shuffle=false",
                             "optim.clip_norm=none", "run.dtype=float64", "loss.kind=huber"])
    assert cfg.optim.learning_rate == 3e-4 and cfg.optim.weight_decay == 1e-5
    assert cfg.run.patience == 5 and cfg.run.n_seeds == 2 and cfg.data.shuffle is False
    assert cfg.optim.clip_norm is None and cfg.run.dtype == "float64" and cfg.loss.kind == "huber"
    cfg2 = load_config(path, ["run.patience=none", "optim.clip_norm=10"])
    assert cfg2.run.patience is None and cfg2.optim.clip_norm == 10.0
    # "none" is a value of run.parallel, not None; "1"/"on" are bools for a bool field
    cfg3 = load_config(None, ["run.parallel=none", "run.progress=0", "data.shuffle=on", "optim.ema_decay=~"])
    assert cfg3.run.parallel == "none" and cfg3.run.progress is False and cfg3.data.shuffle is True
    assert cfg3.optim.ema_decay is None
    # the full config is written and reads back the same
    save_config(cfg, tmp_path / "saved.yaml")
    assert load_config(tmp_path / "saved.yaml") == cfg


@pytest.mark.parametrize(
    "override, match",
    [
        ("run.max_steps=1.5", "run.max_steps"),
        ("optim.nope=1", "optim.nope"),
        ("nope.x=1", "nope"),
        ("run=3", "section"),
        ("data.shuffle=maybe", "data.shuffle"),
        ("loss.kind=l2", "loss.kind"),
        ("run.seed", "section.key=value"),
        ("run.n_seeds=0", "run.n_seeds=0"),
        ("loss.learned_weight=0.1", "loss.learned_weight"),
    ],
)
def test_bad_overrides(override, match):
    with pytest.raises(ValueError, match=match.replace(".", r"\.")):
        config_from_dict(apply_overrides({}, [override]))
