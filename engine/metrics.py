"""Metrics named in Metric.Train / Metric.Eval (PaddleClas's names)."""
from .registry import METRICS


@METRICS.register
class TopkAcc:
    """Top-k accuracy for each k in `topk` (k larger than the number of classes is left out)."""

    def __init__(self, topk=(1, 5)):
        self.topk = [topk] if isinstance(topk, int) else list(topk)


def metric_topk(config, mode="Eval"):
    """The k of Metric.<mode>'s TopkAcc, within the number of classes."""
    ks = [k for item in config.get("Metric", {}).get(mode) or [{"TopkAcc": {"topk": [1]}}]
          for name, params in item.items() for k in METRICS.build(name, params, f"Metric.{mode}.").topk]
    return [k for k in ks if k <= config["Arch"]["class_num"]]
