"""Backbone building: Xception65 twice in one process (train then eval), same parameter names both times."""
from pathlib import Path

import pytest

from engine.config import ConfigError, load_config
from engine.model import build_model

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def test_xception65_builds_twice_with_the_same_parameter_names():
    config = load_config(CONFIGS / "masked_fer" / "Xception65.yaml")
    first, second = build_model(config), build_model(config)
    assert list(first.state_dict()) == list(second.state_dict())
    assert [p.name for p in first.parameters()] == [p.name for p in second.parameters()]


def test_unknown_backbone_names_the_closest():
    with pytest.raises(ConfigError, match=r"'Arch.name': unknown backbone 'ResNet81'; did you mean 'ResNet18'\? "
                                          r"\(registered: \d+ names; the closest: ResNet18"):
        load_config(CONFIGS / "test" / "tiny.yaml", ["Arch.name=ResNet81"])
    # A model built from a mapping that no config check saw says the same.
    with pytest.raises(ConfigError, match="unknown backbone 'ResNet81'; did you mean 'ResNet18'"):
        build_model({"Arch": {"name": "ResNet81", "class_num": 4}})
