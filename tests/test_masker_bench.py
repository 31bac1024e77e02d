"""The issue's targets on all 18,478 Training images of the four classes (opt-in: `pytest -m slow`)."""
import pytest

from masker.benchmark import run_benchmark


@pytest.mark.slow
def test_full_training_split_coverage_and_speed_with_two_workers(fer2013_dir):
    (row,) = run_benchmark(fer2013_dir, workers=(2,), progress=False)
    assert row["images"] == 18478
    assert row["coverage"] >= 0.995
    # Needs the 2 cores to itself: on a CPU shared with other jobs this fails for reasons outside the masker.
    assert row["images_per_second"] >= 200


def test_benchmark_reports_per_worker_rows(fer2013_dir):
    rows = run_benchmark(fer2013_dir, workers=(1,), limit=5, progress=False)
    assert rows[0]["images"] == 20 and rows[0]["coverage"] == 1.0 and rows[0]["images_per_second"] > 0
