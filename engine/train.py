"""Training loop: seeded, data parallel under paddle.distributed.launch, checkpointed, resumable."""
import json
import random
import signal
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import paddle
import paddle.distributed as dist
from paddle.base.unique_name import UniqueNameGenerator

from basics import unwritable

from .config import ConfigError, dump_config
from .data import build_loader, label_list, set_epoch
from .ema import ModelEMA
from .evaluate import make_report, predict_loader, write_report
from .logger import hold_records, log, setup_logging
from .losses import build_loss, labelled_rows
from .metrics import metric_topk
from .model import as_deployed, build_model, trainable_parameters, trained_output
from .weights import load_checkpoint, load_weights, log_new_head, remove_checkpoint, save_checkpoint
from .optim import build_optimizer


# The signals that stop a run after saving `latest`: Ctrl-C's, and the one `kill` and job schedulers send.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Stopped(KeyboardInterrupt):
    """A run stopped by one of STOP_SIGNALS, its `latest` saved; `signal` is the signal's number."""

    def __init__(self, number):
        super().__init__(number)
        self.signal = number


def seed_everything(seed):
    paddle.seed(seed)
    np.random.seed(seed % 2**32)
    random.seed(seed)


def set_device(device):
    if device not in ("cpu", "gpu"):
        raise ConfigError(f"Global.device {device!r}: use cpu or gpu")
    if device == "gpu" and not paddle.is_compiled_with_cuda():
        raise ConfigError("Global.device is gpu but this Paddle has no CUDA: use -o Global.device=cpu")
    paddle.set_device(device)


def _format_eta(seconds):
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class Window:
    """Averages of loss and accuracy, and throughput, since the last progress line."""

    def __init__(self):
        self.start, self.iters, self.images, self.loss, self.accs, self.labelled = time.time(), 0, 0, 0.0, {}, 0

    def add(self, loss, accs, images, labelled):
        """`accs` are over the batch's `labelled` images (teacher_only_classes' faces have no label to match)."""
        self.iters += 1
        self.images += images
        self.labelled += labelled
        self.loss += loss * images
        for k, v in accs.items():
            self.accs[k] = self.accs.get(k, 0.0) + v * labelled

    def summary(self):
        """(mean loss, {k: mean top-k accuracy}, images/s, seconds per iteration)."""
        elapsed = max(time.time() - self.start, 1e-9)
        return (self.loss / self.images, {k: v / self.labelled for k, v in self.accs.items()},
                self.images / elapsed, elapsed / self.iters)


class Run:
    """State of one training run; `fit()` is the loop."""

    def __init__(self, config):
        self.config, self.glob = config, config["Global"]
        self.epochs = int(self.glob["epochs"])
        self.seed = int(self.glob.get("seed", 0))
        self.rank, self.world = dist.get_rank(), dist.get_world_size()
        self.out_dir = Path(self.glob.get("output_dir", "./output")) / config["Arch"]["name"]
        # Everything that can refuse the run is checked before anything is written to out_dir; what is logged
        # meanwhile is held for train.log.
        held = hold_records()
        problem = unwritable(self.out_dir, folder=True)
        if problem:
            raise ConfigError(f"Global.output_dir: {problem}")
        set_device(self.glob.get("device", "cpu"))
        if self.world > 1:
            dist.init_parallel_env()
        self.class_names = label_list(config)
        self.train_loader = build_loader(config, "Train")
        self.iters_per_epoch = len(self.train_loader)
        if self.iters_per_epoch == 0:
            raise ConfigError("DataLoader.Train yields no batch: the list is smaller than batch_size with drop_last")
        self.eval_loader = None
        if self.glob.get("eval_during_train", True) and self.rank == 0:
            self.eval_loader = build_loader(config, "Eval", shard=False)
        seed_everything(self.seed)
        self.model = build_model(config)
        if self.glob.get("pretrained_model") and not self.glob.get("checkpoints"):
            new_head = load_weights(self.model, self.glob["pretrained_model"], finetune=True)
        self.optimizer = build_optimizer(config, trainable_parameters(self.model), self.iters_per_epoch)
        # Optimizer accumulators are named lazily at the first step from a global counter; a private name
        # scope keeps them "<param>_velocity_0" so a checkpoint loads in any process, even after another model.
        self.names = UniqueNameGenerator()
        self.loss = build_loss(config, "Train")
        self.topk = metric_topk(config, "Train")
        # PaddleClas likewise drops TopkAcc from Metric.Train when batch_transform_ops mix the targets.
        soft_targets = bool(self.train_loader.collate_fn.batch_ops and self.topk)
        if soft_targets:
            self.topk = []
        self.net = paddle.DataParallel(self.model) if self.world > 1 else self.model
        self.ema = ModelEMA(self.model, config["EMA"]["decay"]) if "EMA" in config else None

        self.state = {"arch": config["Arch"]["name"], "epoch": 0, "iter_in_epoch": 0, "step": 0,
                      "best_metric": -1.0, "best_epoch": 0}
        if self.ema:
            self.state.update(best_metric_ema=-1.0, best_epoch_ema=0)
        if self.glob.get("checkpoints"):
            saved = load_checkpoint(self.model, self.optimizer, self.glob["checkpoints"], self.ema)
            if saved.get("arch") != self.state["arch"]:
                raise ConfigError(f"{self.glob['checkpoints']} is a {saved.get('arch')} checkpoint, Arch.name is "
                                  f"{self.state['arch']}")
            self.state.update(saved)

        setup_logging(self.out_dir / "train.log", held)
        if self.rank == 0:
            dump_config(config, self.out_dir / "config.yaml")
        if self.glob.get("checkpoints"):
            log.info("resumed from %s: epoch %d done, %d batches into the next", self.glob["checkpoints"],
                     self.state["epoch"], self.state["iter_in_epoch"])
        elif self.glob.get("pretrained_model"):
            log.info("fine-tuning from %s", self.glob["pretrained_model"])
            log_new_head(new_head)
        if soft_targets:
            log.warning("no training accuracy: batch_transform_ops give soft targets (Metric.Train's TopkAcc "
                        "is left out, as PaddleClas does)")
        self.writer = None
        if self.glob.get("use_visualdl") and self.rank == 0:
            from visualdl import LogWriter
            self.writer = LogWriter(logdir=str(self.out_dir / "vdl"))

    def record(self, **fields):
        """One JSON line of metrics.jsonl, which the training curves read (engine/curves.py)."""
        if self.rank == 0:
            with open(self.out_dir / "metrics.jsonl", "a", encoding="utf-8") as handle:
                handle.write(json.dumps(fields) + "\n")

    def scalar(self, tag, value):
        if self.writer:
            self.writer.add_scalar(tag, float(value), self.state["step"])

    def lr(self):
        return self.optimizer.get_lr()

    def save(self, name, ema=True):
        if self.rank == 0:
            save_checkpoint(self.model, self.optimizer, self.state, self.out_dir / name, self.ema if ema else None)

    def train_epoch(self, epoch):
        """One epoch; self.state tracks progress so an interruption can be checkpointed exactly."""
        set_epoch(self.train_loader, epoch)
        self.train_loader.batch_sampler.skip = self.state["iter_in_epoch"]
        self.net.train()
        print_every = int(self.glob.get("print_batch_step", 10))
        total_iters = self.epochs * self.iters_per_epoch
        window = Window()
        skipped = 0
        for images, labels, _, bad in self.train_loader:
            if self.stop_requested:
                raise Stopped(self.stop_requested)
            skipped += int(bad)
            if len(labels) == 0:
                self.state["iter_in_epoch"] += 1
                continue
            # Dropout draws depend only on the step, so a run resumed mid-epoch continues exactly.
            paddle.seed(self.seed * 1_000_003 + self.state["step"])
            outputs = self.net(images)
            loss = self.loss(outputs, labels)
            logits = trained_output(self.model, outputs)
            loss.backward()
            with paddle.utils.unique_name.guard(self.names):
                self.optimizer.step()
            self.optimizer.clear_grad()
            if self.ema:
                self.ema.update()
            lr = self.lr()
            if isinstance(self.optimizer._learning_rate, paddle.optimizer.lr.LRScheduler):
                self.optimizer._learning_rate.step()
            self.state["iter_in_epoch"] += 1
            self.state["step"] += 1
            rows = labelled_rows(logits, labels)
            window.add(float(loss), {k: float(paddle.metric.accuracy(rows[0], rows[1].unsqueeze(1), k=k))
                                     for k in self.topk if rows is not None},
                       len(labels) * self.world, 0 if rows is None else len(rows[1]) * self.world)
            if self.state["iter_in_epoch"] % print_every == 0 or self.state["iter_in_epoch"] == self.iters_per_epoch:
                done = (epoch - 1) * self.iters_per_epoch + self.state["iter_in_epoch"]
                loss_avg, accs, ips, seconds_per_iter = window.summary()
                acc_text = "".join(f"top{k}: {v:.4f}, " for k, v in accs.items())
                log.info("[Train][Epoch %d/%d][Iter %d/%d] loss: %.5f, %slr: %.6f, ips: %.1f images/s, eta: %s",
                         epoch, self.epochs, self.state["iter_in_epoch"], self.iters_per_epoch, loss_avg,
                         acc_text, lr, ips, _format_eta((total_iters - done) * seconds_per_iter))
                self.record(kind="train", epoch=epoch, iter=self.state["iter_in_epoch"],
                            epoch_float=round(done / self.iters_per_epoch, 4), loss=loss_avg, lr=lr,
                            ips=round(ips, 1), **{f"top{k}": v for k, v in accs.items()})
                self.scalar("train/loss", loss_avg)
                self.scalar("train/lr", lr)
                for k, v in accs.items():
                    self.scalar(f"train/top{k}", v)
                window = Window()
        if skipped:
            log.warning("epoch %d: %d unreadable images skipped (see DataLoader.Train list)", epoch, skipped)

    def end_epoch(self, epoch):
        self.state.update(epoch=epoch, iter_in_epoch=0)
        if self.eval_loader is not None and epoch % int(self.glob.get("eval_interval", 1)) == 0:
            self.evaluate(epoch)
            if self.ema:
                with self.ema.applied():
                    self.evaluate(epoch, averaged=True)
        save_interval = int(self.glob.get("save_interval", 1))
        keep = int(self.glob.get("keep_checkpoints", 2))
        if keep > 0 and epoch % save_interval == 0:
            self.save(f"epoch_{epoch}")
            old = epoch - keep * save_interval
            if old > 0 and self.rank == 0:
                remove_checkpoint(self.out_dir / f"epoch_{old}")
        self.save("latest")
        self.wait_for_rank0(f"epoch_end/{epoch}")

    def wait_for_rank0(self, key):
        """The other ranks wait here until rank 0 has set `key`: on the launcher's key-value store, not in the next
        step's gloo all-reduce, whose 30 s timeout killed a CPU run whose rank 0 took longer to evaluate (EMA and
        view averaging: two passes over 2,273 faces of ten views each)."""
        if self.world == 1:
            return
        store = paddle.base.core.create_or_get_global_tcp_store()
        if self.rank == 0:
            store.set(key, b"1")
        else:
            store.get(key)

    def evaluate(self, epoch, averaged=False):
        """Evaluate the model as it is now; the best so far is kept as best_model, or best_model_ema (the EMA
        weights as plain weights, for eval and export) with its report files in ema/."""
        tag = "_ema" if averaged else ""
        indices, labels, probs, skipped = predict_loader(as_deployed(self.model, self.config), self.eval_loader)
        report = make_report(labels, probs, self.class_names, metric_topk(self.config))
        report["skipped_unreadable"] = skipped
        improved = report["accuracy"] > self.state["best_metric" + tag]
        if improved:
            self.state.update({"best_metric" + tag: report["accuracy"], "best_epoch" + tag: epoch})
        log.info("[Eval%s][Epoch %d] top1: %.4f, macro F1: %.4f; best top1 %.4f at epoch %d",
                 " EMA" if averaged else "", epoch, report["accuracy"], report["macro_f1"],
                 self.state["best_metric" + tag], self.state["best_epoch" + tag])
        self.record(kind="eval" + tag, epoch=epoch, top1=report["accuracy"], macro_f1=report["macro_f1"])
        self.scalar(f"eval{tag}/top1", report["accuracy"])
        if improved and self.rank == 0:
            self.save("best_model" + tag, ema=not averaged)
            # The report files describe the best model, as tools/eval.py would write them.
            write_report(report, indices, labels, probs, self.eval_loader.dataset.files, self.class_names,
                         self.out_dir / "ema" if averaged else self.out_dir)

    def request_stop(self, number, frame):
        if self.stop_requested:
            raise KeyboardInterrupt
        self.stop_requested = number

    def fit(self):
        log.info("training %s for %d epochs, %d iterations per epoch on %d process(es); output %s",
                 self.state["arch"], self.epochs, self.iters_per_epoch, self.world, self.out_dir)
        self.stop_requested = None
        previous = {number: signal.getsignal(number) for number in STOP_SIGNALS}
        if threading.current_thread() is threading.main_thread():
            # Ctrl-C, or SIGTERM from `kill` or a job scheduler, stops between two steps, so that the saved weights
            # and step count agree and a resumed run continues exactly; a second signal stops at once.
            for number in STOP_SIGNALS:
                signal.signal(number, self.request_stop)
        try:
            for epoch in range(self.state["epoch"] + 1, self.epochs + 1):
                self.train_epoch(epoch)
                self.end_epoch(epoch)
        except KeyboardInterrupt:
            self.save("latest")
            log.warning("interrupted: saved %s; resume with -o Global.checkpoints=%s", self.out_dir / "latest",
                        self.out_dir / "latest")
            raise
        finally:
            if threading.current_thread() is threading.main_thread():
                for number, handler in previous.items():
                    signal.signal(number, handler)
            if self.writer:
                self.writer.close()
        log.info("done: best top1 %.4f at epoch %d; checkpoints in %s", self.state["best_metric"],
                 self.state["best_epoch"], self.out_dir)
        if self.ema and self.eval_loader is not None:
            log.info("EMA weights: best top1 %.4f at epoch %d (best_model_ema)", self.state["best_metric_ema"],
                     self.state["best_epoch_ema"])
        return self.out_dir


def train(config):
    """Train as the config says; returns the output directory (output_dir/<Arch>)."""
    # Paddle warns on every BatchNorm in train mode that it tracks global statistics, which is what we want.
    warnings.filterwarnings("ignore", message="When training, we now always track global mean and variance")
    return Run(config).fit()
