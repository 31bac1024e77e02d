"""Request counts, latency percentiles and where the time goes (per stage of a request), of one server process, in
Prometheus's text format."""
import threading
import time
from collections import Counter, deque

import numpy as np

QUANTILES = (0.5, 0.95, 0.99)
# Percentiles are taken over the most recent requests only, so memory stays bounded on a long-lived server.
WINDOW = 10000
# The stages of a request, in order (Metrics.observe_stage): reading the upload, decoding the image, waiting for a
# batch, preprocessing and the graphs (per batch, every model it runs), finding faces (?faces=1), and building and
# encoding the JSON answer.
STAGES = {"read": "reading the upload", "decode": "decoding the image", "queue": "waiting for a batch to start",
          "preprocess": "preprocessing a batch for a model", "graph": "running a model on a batch",
          "find": "finding the faces of a photo", "respond": "building and encoding the JSON answer"}


class Metrics:
    def __init__(self, paths):
        self.paths = set(paths)
        self.started = time.time()
        self._lock = threading.Lock()
        self._counts = Counter()  # (path, status) -> requests
        self._latency = {}  # path -> deque of seconds
        self._latency_sum = Counter()
        self._latency_count = Counter()
        self.batches = 0
        self.batched_images = 0
        self._stages = {stage: deque(maxlen=WINDOW) for stage in STAGES}
        self._stage_sum = Counter()
        self._stage_count = Counter()

    def _label(self, path: str) -> str:
        # Unknown paths share one label: scanning clients must not grow the label set without bound.
        return path if path in self.paths else "other"

    def observe(self, path: str, status: int, seconds: float) -> None:
        path = self._label(path)
        with self._lock:
            self._counts[(path, status)] += 1
            self._latency.setdefault(path, deque(maxlen=WINDOW)).append(seconds)
            self._latency_sum[path] += seconds
            self._latency_count[path] += 1

    def observe_batch(self, size: int) -> None:
        with self._lock:
            self.batches += 1
            self.batched_images += size

    def observe_stage(self, stage: str, seconds: float) -> None:
        """One stage's time for one request or batch (STAGES); called from any thread."""
        with self._lock:
            self._stages[stage].append(seconds)
            self._stage_sum[stage] += seconds
            self._stage_count[stage] += 1

    def percentiles(self, path: str) -> dict:
        with self._lock:
            window = list(self._latency.get(path, ()))
        return _percentiles(window)

    def stage_percentiles(self, stage: str) -> dict:
        with self._lock:
            window = list(self._stages[stage])
        return _percentiles(window)

    def render(self) -> str:
        with self._lock:
            counts = sorted(self._counts.items())
            paths = sorted(self._latency)
            sums, totals = dict(self._latency_sum), dict(self._latency_count)
            batches, images = self.batches, self.batched_images
        lines = [
            "# HELP fer_requests_total HTTP requests answered, by path and status code.",
            "# TYPE fer_requests_total counter",
        ]
        lines += [f'fer_requests_total{{path="{p}",status="{s}"}} {n}' for (p, s), n in counts]
        lines += [
            f"# HELP fer_request_latency_seconds Request latency; quantiles over the last {WINDOW} requests.",
            "# TYPE fer_request_latency_seconds summary",
        ]
        for path in paths:
            for q, value in self.percentiles(path).items():
                lines.append(f'fer_request_latency_seconds{{path="{path}",quantile="{q}"}} {value:.6f}')
            lines.append(f'fer_request_latency_seconds_sum{{path="{path}"}} {sums[path]:.6f}')
            lines.append(f'fer_request_latency_seconds_count{{path="{path}"}} {totals[path]}')
        with self._lock:
            stage_sums, stage_counts = dict(self._stage_sum), dict(self._stage_count)
        lines += [
            "# HELP fer_stage_seconds Time in each stage of a request ("
            + "; ".join(f"{stage}: {what}" for stage, what in STAGES.items())
            + f"); quantiles over the last {WINDOW} of each.",
            "# TYPE fer_stage_seconds summary",
        ]
        for stage in STAGES:
            if not stage_counts.get(stage):
                continue
            for q, value in self.stage_percentiles(stage).items():
                lines.append(f'fer_stage_seconds{{stage="{stage}",quantile="{q}"}} {value:.6f}')
            lines.append(f'fer_stage_seconds_sum{{stage="{stage}"}} {stage_sums[stage]:.6f}')
            lines.append(f'fer_stage_seconds_count{{stage="{stage}"}} {stage_counts[stage]}')
        lines += [
            "# HELP fer_batches_total Inference batches run (concurrent requests are grouped into one batch).",
            "# TYPE fer_batches_total counter",
            f"fer_batches_total {batches}",
            "# HELP fer_batch_images_total Images classified in those batches.",
            "# TYPE fer_batch_images_total counter",
            f"fer_batch_images_total {images}",
            "# HELP fer_uptime_seconds Seconds since this server process started.",
            "# TYPE fer_uptime_seconds gauge",
            f"fer_uptime_seconds {time.time() - self.started:.3f}",
        ]
        return "\n".join(lines) + "\n"


def _percentiles(window) -> dict:
    if not window:
        return {}
    values = np.percentile(np.asarray(window), [q * 100 for q in QUANTILES])
    return dict(zip(QUANTILES, values.tolist()))
