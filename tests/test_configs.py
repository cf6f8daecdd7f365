"""Typed config overrides: dotted and plain keys, type conversion, unknown keys rejected."""

from dataclasses import asdict, dataclass, field

import pytest

from recstack.configs import build_config, config_from_dict
from recstack.errors import ConfigError


@dataclass
class _Optim:
    lr: float = 1e-3
    warmup: int = 0


@dataclass
class _Data:
    warmup: int = 5
    shuffle: bool = True


@dataclass
class _Experiment:
    name: str = "base"
    epochs: int = 10
    optim: _Optim = field(default_factory=_Optim)
    data: _Data = field(default_factory=_Data)


def test_strings_are_converted_to_field_types_and_plain_keys_find_their_nested_config():
    config = build_config(_Experiment, {"epochs": "3", "lr": "0.5", "data.shuffle": "no"})
    assert config.epochs == 3 and config.optim.lr == 0.5 and config.data.shuffle is False
    assert build_config(_Experiment, {"lr": 1}).optim.lr == 1.0  # an int is a fine float


def test_unknown_ambiguous_and_badly_typed_keys_name_the_fix():
    with pytest.raises(ConfigError, match=r"optim\.lr") as unknown:
        build_config(_Experiment, {"learning_rate": 0.1})
    assert unknown.value.field == "learning_rate"
    with pytest.raises(ConfigError, match="ambiguous") as ambiguous:
        build_config(_Experiment, {"warmup": 2})
    assert "optim.warmup" in ambiguous.value.fix and "data.warmup" in ambiguous.value.fix
    with pytest.raises(ConfigError, match="int"):
        build_config(_Experiment, {"epochs": "ten"})
    with pytest.raises(ConfigError, match="bool"):
        build_config(_Experiment, {"shuffle": "maybe"})
    with pytest.raises(ConfigError, match="no sub-parameters"):
        build_config(_Experiment, {"epochs.max": 3})


def test_saved_configs_round_trip_and_missing_fields_keep_their_defaults():
    config = build_config(_Experiment, {"name": "x", "optim.lr": 0.1})
    assert config_from_dict(_Experiment, asdict(config)) == config
    assert config_from_dict(_Experiment, {"optim": {"lr": 0.2}}).optim == _Optim(lr=0.2)
