"""The engine's eval transforms (training side) and deploy's inference.yml preprocessing (serving side) are two
implementations of PaddleClas's ops; on the same image they must give the same tensor."""
import cv2
import numpy as np
import pytest

from deploy.predictor import Predictor
from engine.config import load_config
from engine.transforms import apply_transforms, build_transforms
from tests.conftest import ROOT


@pytest.mark.parametrize("shape", [(48, 48), (64, 80, 3), (101, 57, 3)])
def test_training_eval_ops_equal_exported_preprocessing(inference_dir, tmp_path, shape):
    image = np.random.default_rng(sum(shape)).integers(0, 256, shape, dtype=np.uint8)
    path = tmp_path / "face.png"                       # lossless, so both sides decode the same pixels
    cv2.imwrite(str(path), image)
    config = load_config(ROOT / "configs" / "test" / "tiny.yaml")
    engine_ops = build_transforms(config["DataLoader"]["Eval"]["dataset"]["transform_ops"])
    trained_on = apply_transforms(engine_ops, path.read_bytes()).transpose(2, 0, 1)   # ImageNetDataset's CHW
    served = Predictor(inference_dir).preprocess(cv2.imread(str(path), cv2.IMREAD_UNCHANGED))
    assert served.shape == trained_on.shape
    np.testing.assert_allclose(served, trained_on, atol=1e-5)
