"""Run a Paddle Lite .nb model with Paddle Lite's own light API, the one the phone runs (MobileConfig and
create_paddle_predictor); the `paddlelite` wheel is in .venv310 only.

    .venv310/bin/python deploy/android/lite_runtime.py MODEL.nb INPUT.npy OUTPUT.npz

INPUT.npy is a float32 batch in the model's input layout (NCHW); each item runs on its own, as on the phone (the
face detector takes one picture at a time). OUTPUT.npz gets every output of the model, arr_0, arr_1, ..., each
the items' answers stacked.
"""
import sys

import numpy as np


def run(nb_file: str, batch: np.ndarray) -> list:
    from paddlelite.lite import MobileConfig, create_paddle_predictor

    config = MobileConfig()
    config.set_model_from_file(nb_file)
    predictor = create_paddle_predictor(config)
    outputs = []
    for item in np.asarray(batch, dtype=np.float32):
        predictor.get_input(0).from_numpy(np.ascontiguousarray(item[None]))
        predictor.run()
        # numpy() is a view of the runtime's buffer, which the next run overwrites.
        outputs.append([predictor.get_output(i).numpy().copy() for i in range(len(predictor.get_output_names()))])
    return [np.concatenate(parts) for parts in zip(*outputs)]


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    np.savez(sys.argv[3], *run(sys.argv[1], np.load(sys.argv[2])))
