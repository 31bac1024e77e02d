"""The engine's logger: console on rank 0, plus a file in the run's output directory."""
import logging
import sys

import paddle.distributed as dist

log = logging.getLogger("engine")


class HeldRecords(logging.Handler):
    """What is logged before a run may write its train.log (it writes nothing until every check has passed);
    setup_logging(log_file, held) writes these records to the file first."""

    def __init__(self):
        super().__init__()
        self.records = []

    def emit(self, record):
        self.records.append(record)


def hold_records():
    held = HeldRecords()
    log.addHandler(held)
    return held


def setup_logging(log_file=None, held=None):
    log.setLevel(logging.INFO)
    log.propagate = False
    for handler in list(log.handlers):
        log.removeHandler(handler)
        handler.close()
    if dist.get_rank() != 0:
        log.addHandler(logging.NullHandler())
        return log
    formatter = logging.Formatter("[%(asctime)s] %(levelname)s %(message)s", "%Y-%m-%d %H:%M:%S")
    handlers = [logging.StreamHandler(sys.stdout)]
    if log_file:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_file, encoding="utf-8"))
    for handler in handlers:
        handler.setFormatter(formatter)
        log.addHandler(handler)
    if log_file and held is not None:
        for record in held.records:
            handlers[-1].handle(record)
    return log
