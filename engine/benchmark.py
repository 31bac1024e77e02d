"""Training throughput of a config's model on this machine: the optimiser step the engine runs, timed.

    python -m engine.benchmark -c configs/masked_fer/ResNet18.yaml      (prints one JSON line)

The session-start measurement DEVELOPERS.md names; `python tools/benchmark.py training -c CONFIG` is the same.

Threads are fixed when Paddle loads, so compare thread counts in separate processes (OMP_NUM_THREADS=1 ...).
"""
import argparse
import json
import os
import statistics
import sys
import time

import numpy as np
import paddle

from .model import build_model, trainable_parameters
from .losses import build_loss
from .optim import build_optimizer


def training_throughput(config, iterations=12, warmup=3, repeats=3) -> dict:
    """Images/s of forward + backward + update at the config's batch size and image_shape, median of `repeats`.

    The input is random: on 48x48 faces decoding and augmentation cost well under 1 % of a step, and the
    arithmetic does not depend on the pixels.
    """
    batch = int(config["DataLoader"]["Train"]["sampler"]["batch_size"])
    shape = [batch, *config["Global"]["image_shape"]]
    model = build_model(config)
    optimizer = build_optimizer(config, trainable_parameters(model), iters_per_epoch=1000)
    loss_fn = build_loss(config)
    rng = np.random.default_rng(0)
    images = paddle.to_tensor(rng.standard_normal(shape).astype(np.float32))
    labels = paddle.to_tensor(rng.integers(0, config["Arch"]["class_num"], batch).astype(np.int64))
    model.train()

    def step():
        loss = loss_fn(model(images), labels)
        loss.backward()
        optimizer.step()
        optimizer.clear_grad()

    for _ in range(warmup):
        step()
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(iterations):
            step()
        rates.append(iterations * batch / (time.perf_counter() - start))
    return {"model": config["Arch"]["name"], "input": config["Global"]["image_shape"][-1], "batch": batch,
            "images_per_second": round(statistics.median(rates), 1), "repeats": repeats,
            "iterations": iterations, "threads": os.environ.get("OMP_NUM_THREADS", "all")}


def main(argv=None):
    from .config import load_config

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-c", "--config", required=True)
    parser.add_argument("-o", "--override", action="append", default=[], metavar="Key.sub=value")
    parser.add_argument("--iterations", type=int, default=12)
    args = parser.parse_args(argv)
    print(json.dumps(training_throughput(load_config(args.config, args.override), iterations=args.iterations)))


if __name__ == "__main__":
    sys.exit(main())
