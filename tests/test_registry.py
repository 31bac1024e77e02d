"""One registry for every named part (engine/registry.py): the config check asks it which parts exist and what
each takes, an unknown name lists the registered ones and the closest, and a new part needs only its own file."""
import re
from pathlib import Path

import pytest

from deploy.backends import BACKENDS, create_backend
from engine.config import ConfigError, load_config
from engine.optim import build_lr
from engine.registry import BACKBONES, DATASETS, MODELS, OPTIMIZERS, SCHEDULES, Registry
from engine.schema import POSITIVE

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "configs" / "test" / "tiny.yaml"


@pytest.mark.parametrize("override, words", [
    ("Optimizer.name=Momentun", "'Optimizer.name': unknown optimizer 'Momentun'; did you mean 'Momentum'? "
                                "(registered: Adam, AdamW, Momentum)"),
    ("Optimizer.lr.name=Cosin", "'Optimizer.lr.name': unknown learning-rate schedule 'Cosin'; did you mean "
                                "'Cosine'? (registered: Constant, Cosine, Piecewise)"),
    ("DataLoader.Train.dataset.name=ImageNetDatset", "unknown dataset 'ImageNetDatset'; did you mean "
                                                     "'ImageNetDataset'? (registered: ImageNetDataset, "
                                                     "MultiListDataset, PairedImageNetDataset)"),
    ("Arch.name=FaceCNN_x0_6", "'Arch.name': unknown backbone 'FaceCNN_x0_6'; did you mean 'FaceCNN_x0_5'?"),
])
def test_an_unknown_name_lists_the_registered_ones_and_the_closest(override, words):
    with pytest.raises(ConfigError, match=re.escape(words)):
        load_config(TINY, [override])


def test_the_keys_a_part_takes_come_from_the_part():
    # FaceCNN takes se_reduction; the tiny config's PPLCNet does not, and the error says whose parameters they are.
    assert load_config(TINY, ["Arch={name: FaceCNN_x0_5, class_num: 4, se_reduction: 4}"])["Arch"]["se_reduction"] == 4
    with pytest.raises(ConfigError, match=r"unknown key 'Arch.se_reduction' \(PPLCNet_x0_25 takes no 'se_reduction'\)"):
        load_config(TINY, ["Arch.se_reduction=4"])
    # A paddleclas factory's keys are those of the network it builds (PPLCNet's class_expand, ResNet's max_pool).
    assert {"class_expand", "stride_list", "use_last_conv", "dropout_prob"} <= BACKBONES.params("PPLCNet_x0_25")
    assert "max_pool" in BACKBONES.params("ResNet18") and "pretrained" not in BACKBONES.params("ResNet18")
    # Kinds: annotated, or the default's; a model of several takes its own keys and gives the rest to its members.
    with pytest.raises(ConfigError, match="'Arch.se_reduction' must be at least 0"):
        load_config(TINY, ["Arch={name: FaceCNN_x0_5, class_num: 4, se_reduction: -1}"])
    with pytest.raises(ConfigError, match="'Arch.use_last_conv' must be a bool"):
        load_config(TINY, ["Arch.use_last_conv=sometimes"])
    with pytest.raises(ConfigError, match="'Arch.models.Teacher.class_num' must be at least 1"):
        load_config(TINY, ["Arch={name: DistillationModel, class_num: 4, models: [{Teacher: {name: FaceCNN_x0_5, "
                           "class_num: 0}}, {Student: {name: FaceCNN_x0_5}}]}"])
    assert MODELS.params("DistillationModel") == {"models", "freeze_params_list", "infer_model_name"}
    assert {"image_root", "cls_label_path", "pair_root"} <= DATASETS.params("PairedImageNetDataset")
    assert OPTIMIZERS.params("AdamW") == {"beta1", "beta2", "epsilon", "weight_decay"}


def test_a_new_part_is_one_registered_class():
    class Halving:
        """A schedule that halves the rate every epoch."""

        def __init__(self, learning_rate: POSITIVE = 0.1):
            self.learning_rate = learning_rate

        def build(self, epochs, iters_per_epoch):
            return self.learning_rate / 2

    SCHEDULES.register(Halving)
    try:
        config = load_config(TINY, ["Optimizer.lr={name: Halving, learning_rate: 0.4}"])
        assert build_lr(config, 10) == 0.2
        with pytest.raises(ConfigError, match=r"'Optimizer.lr.learning_rate' must be above 0"):
            load_config(TINY, ["Optimizer.lr={name: Halving, learning_rate: 0}"])
        with pytest.raises(ConfigError, match="unknown key 'Optimizer.lr.eta_min' .Halving takes no 'eta_min'."):
            load_config(TINY, ["Optimizer.lr={name: Halving, eta_min: 0.1}"])
        with pytest.raises(RuntimeError, match="registered twice"):
            SCHEDULES.register(Halving)
    finally:
        SCHEDULES._parts.pop("Halving")


def test_backends_are_registered_lazily_and_named_like_the_rest(inference_dir):
    assert BACKENDS.names() == ["fastdeploy", "onnx", "paddle"]
    with pytest.raises(ConfigError, match=re.escape("unknown backend 'paddel'; did you mean 'paddle'? (registered: "
                                                    "fastdeploy, onnx, paddle)")):
        create_backend("paddel", inference_dir)
    with pytest.raises(ConfigError, match="'paddle backend option mkldnn' must be a bool"):
        create_backend("paddle", inference_dir, mkldnn="yes")
    lazy = Registry("thing", lazy={"json": "json:JSONDecoder"})
    assert "json" in lazy and lazy.names() == ["json"] and "strict" in lazy.params("json")
