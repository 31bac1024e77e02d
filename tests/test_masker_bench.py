"""Coverage on all 18,478 Training images of the four classes (opt-in: `pytest -m slow`). Speed is measured by
`make bench` (docs/benchmarks.md), not asserted: it depends on the machine and its load."""
import pytest

from masker.benchmark import run_benchmark


@pytest.mark.slow
def test_full_training_split_coverage_with_two_workers(fer2013_dir):
    (row,) = run_benchmark(fer2013_dir, workers=(2,), progress=False)
    assert row["images"] == 18478
    assert row["coverage"] >= 0.995


def test_benchmark_reports_per_worker_rows(fer2013_dir):
    rows = run_benchmark(fer2013_dir, workers=(1,), limit=5, progress=False)
    assert rows[0]["images"] == 20 and rows[0]["coverage"] == 1.0 and rows[0]["images_per_second"] > 0
