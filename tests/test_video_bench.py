"""The video benchmark's clips and table (studies/video_bench.py): every face it puts in a clip is found."""
from studies.video_bench import clip, video_fps, video_table
from test_video_timeline import ROOT


def test_the_clips_faces_are_all_found_and_the_table_has_a_row_a_clip(tmp_path):
    rows = video_fps(ROOT / "inference", resolutions=("480p",), faces=(1, 3), cores=(1,), frames=6)
    assert [(r["resolution"], r["faces"], r["cores"]) for r in rows] == [("480p", 1, 1), ("480p", 3, 1)]
    for row in rows:
        assert row["found_per_frame"] == row["faces"] and row["fps"] > 0 and row["frames"] == 6
    assert len(video_table(rows)) == 2 + len(rows)
    assert clip(tmp_path / "c.avi", 640, 360, 6, frames=2).stat().st_size > 10_000
