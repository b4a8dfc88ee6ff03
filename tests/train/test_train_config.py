"""Typed configs: validation, YAML files, command-line overrides."""

import pytest

from hybridpot.train import (
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
    ],
)
def test_bad_overrides(override, match):
    with pytest.raises(ValueError, match=match.replace(".", r"\.")):
        config_from_dict(apply_overrides({}, [override]))
