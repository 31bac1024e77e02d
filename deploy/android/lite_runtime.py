"""Run a Paddle Lite .nb model with Paddle Lite's own light API, the one the phone runs (MobileConfig and
create_paddle_predictor); the `paddlelite` wheel is in .venv310 only.

    .venv310/bin/python deploy/android/lite_runtime.py MODEL.nb INPUT.npy OUTPUT.npy

INPUT.npy is a float32 NCHW batch as deploy/preprocess.py makes it; OUTPUT.npy gets the model's output.
"""
import sys

import numpy as np


def run(nb_file: str, batch: np.ndarray) -> np.ndarray:
    from paddlelite.lite import MobileConfig, create_paddle_predictor

    config = MobileConfig()
    config.set_model_from_file(nb_file)
    predictor = create_paddle_predictor(config)
    predictor.get_input(0).from_numpy(np.ascontiguousarray(batch, dtype=np.float32))
    predictor.run()
    return predictor.get_output(0).numpy()


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    np.save(sys.argv[3], run(sys.argv[1], np.load(sys.argv[2])))
