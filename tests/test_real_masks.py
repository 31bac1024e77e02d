"""Drawn masks against real ones (studies/real_masks.py): a face keeps its upper half and takes a real masked face's
lower half, the two joined at the nose bridge."""
import json
import subprocess
import sys

import numpy as np
import pytest

from masker.geometry import NOSE_BRIDGE
from studies.real_masks import BLEND_ROWS, with_real_half
from test_video_timeline import ROOT


def test_the_real_half_is_joined_at_the_bridge_and_moved_onto_it():
    face = np.full((48, 48), 200, np.uint8)
    donor = np.zeros((48, 48), np.uint8)
    donor[30:, :] = 50                                      # the donor's "mask" starts 4 rows below its bridge
    points, donor_points = np.zeros((6, 2)), np.zeros((6, 2))
    points[NOSE_BRIDGE], donor_points[NOSE_BRIDGE] = (24, 20), (24, 26)
    out = with_real_half(face, points, donor, donor_points).astype(int)
    assert (out[:20 - BLEND_ROWS // 2] == 200).all()        # above the bridge: the face
    assert (out[20 + BLEND_ROWS // 2:24] == 0).all()        # then the donor's skin, moved up 6 rows
    assert (out[24:] == 50).all()                           # and its mask, 4 rows below the bridge as in the donor


def test_eval_faces_real_masks_on_the_shared_photos(tmp_path):
    shared = ROOT.parent / "shared" / "realmask"
    data = ROOT / "dataset"
    if not (shared / "boxes.csv").is_file() or not (data / "masked" / "val_list.txt").is_file():
        pytest.skip("needs ../shared/realmask and make data's dataset/masked and dataset/unmasked")
    out = tmp_path / "report"
    subprocess.run([sys.executable, "tools/eval_faces.py", "--realmask", str(shared), "--real-masks",
                    "--masked-data", str(data / "masked"), "--unmasked-data", str(data / "unmasked"),
                    "--out", str(out)], cwd=ROOT, check=True, capture_output=True)
    report = json.loads(out.with_name("report_real_masks.json").read_text())
    assert report["donors"] > 100 and report["faces"] > 1000
    for kind in ("drawn", "real"):
        assert 0.4 < report["masked model alone"][kind] < 0.9
    assert report["routed"]["called_unmasked"]["real"] > report["routed"]["called_unmasked"]["drawn"]


def test_seed_maskable_faces_are_those_the_seeds_masker_writes(tmp_path):
    import cv2

    from deploy.predictor import Predictor
    from studies.peer_face_mask import seed_maskable_report

    fer2013 = ROOT.parent / "shared" / "fer2013"
    if not (fer2013 / "test").is_dir():
        pytest.skip("needs ../shared/fer2013")
    lines = []
    for label, name in enumerate(("angry", "fear", "happy", "surprise")):
        (tmp_path / "eval" / name).mkdir(parents=True)
        for path in sorted((fer2013 / "test" / name).glob("*.jpg"))[:4]:
            cv2.imwrite(str(tmp_path / "eval" / name / path.name), cv2.imread(str(path)))
            lines.append(f"eval/{name}/{path.name} {label}")
    (tmp_path / "eval_list.txt").write_text("\n".join(lines) + "\n")
    (tmp_path / "label_list.txt").write_text("0 angry\n1 fear\n2 happy\n3 surprise\n")
    try:
        report = seed_maskable_report(Predictor(ROOT / "inference"), tmp_path, fer2013)
    except RuntimeError as error:          # as tests/test_masker_bench.py: the peer comes from PyPI
        pytest.skip(f"face-mask could not be fetched from PyPI: {error}")
    assert report["faces"] == 16 and 0 < report["seed_maskable"] < 16     # it misses some faces: 71 % of all
    for name in ("masked model alone", "routed"):
        assert 0 <= report[name]["all"] <= 1 and 0 <= report[name]["seed_maskable"] <= 1


def test_the_real_mask_greys_of_the_masker_are_those_of_the_tuning_photos():
    from masker.online import REAL_MASK_GREYS, REAL_MASK_PERCENTILES
    from studies.real_masks import real_mask_greys, real_masked_faces

    shared = ROOT.parent / "shared" / "realmask"
    if not (shared / "boxes.csv").is_file():
        pytest.skip("needs ../shared/realmask")
    donors = real_masked_faces(shared, progress=False)
    assert real_mask_greys(donors, REAL_MASK_PERCENTILES) == list(REAL_MASK_GREYS)
