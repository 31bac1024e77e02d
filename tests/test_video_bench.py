"""The video benchmark's clips and table (studies/video_bench.py): every face it puts in a clip is found."""
from studies.video_bench import clip, video_fps, video_table
from test_video_timeline import ROOT


def test_the_clips_faces_are_all_found_and_the_table_has_a_row_a_clip(tmp_path):
    rows = video_fps(ROOT / "inference", resolutions=("480p",), faces=(1, 3), cores=(1,), frames=6, repeats=1)
    assert [(r["resolution"], r["faces"], r["cores"]) for r in rows] == [("480p", 1, 1), ("480p", 3, 1)]
    for row in rows:
        assert row["found_per_frame"] == row["faces"] and row["fps"] > 0 and row["frames"] == 6
    assert len(video_table(rows)) == 2 + len(rows)
    assert clip(tmp_path / "c.avi", 640, 360, 6, frames=2).stat().st_size > 10_000


def test_the_photo_profile_names_every_pass_and_the_whole_path(tmp_path):
    import cv2
    import skimage.data

    from deploy.predictor import Predictor
    from masker.photo import mask_photo
    from studies.photo_profile import photo_profile, profile_table

    photo = tmp_path / "astronaut.jpg"
    cv2.imwrite(str(photo), cv2.resize(mask_photo(cv2.cvtColor(skimage.data.astronaut(), cv2.COLOR_RGB2BGR)),
                                       (800, 800)))
    profile = photo_profile(Predictor(ROOT / "inference", cpu_threads=1), [photo], repeats=1)
    stages = profile["ms_per_photo"]
    assert profile["finder_threads"] == 1
    assert {"decode", "finder, wall", "finder: short-range whole", "finder: short-range padded",
            "finder: full-range scaled", "of which graphs",
            "whole path (finder, face status, expression)"} <= set(stages)
    assert all(ms > 0 for ms in stages.values()) and profile["median_size"] == [800, 800]
    assert len(profile_table(profile)) == 4 + len(stages)


def test_the_photo_sizes_table_scales_each_photo_and_times_the_shrunk_copy(tmp_path):
    import cv2
    import skimage.data

    from deploy.predictor import Predictor
    from studies.photo_profile import photo_profile, sizes_table
    from tools.benchmark import parse_args

    photo = tmp_path / "astronaut.jpg"
    cv2.imwrite(str(photo), cv2.cvtColor(skimage.data.astronaut(), cv2.COLOR_RGB2BGR))
    predictor = Predictor(ROOT / "inference", cpu_threads=1)
    profiles = {size: photo_profile(predictor, [photo], repeats=1, size=size) for size in ((640, 480), (2000, 1500))}
    assert [p["median_size"] for p in profiles.values()] == [[640, 480], [2000, 1500]]
    assert "finder: shrunk copy" in profiles[(2000, 1500)]["ms_per_photo"]
    assert "finder: shrunk copy" not in profiles[(640, 480)]["ms_per_photo"]
    table = sizes_table(profiles)
    assert len(table) == 4 and table[3].startswith("| 2000 x 1500 |")
    assert parse_args(["photos", "--sizes", "640x480", "4032x3024"]).sizes == [(640, 480), (4032, 3024)]
