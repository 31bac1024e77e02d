"""The masked-vs-unmasked study on real FER2013 faces: our exported model and fer's peer, same faces."""
import json

import pytest

from masker import DEFAULT_CLASSES
from masker.dataset import RunConfig, build_dataset
from tools import study as study_tool


@pytest.fixture(scope="module")
def paired_datasets(fer2013_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("study")
    for name, no_mask in (("masked", False), ("unmasked", True)):
        config = RunConfig(fer2013=str(fer2013_dir), classes=DEFAULT_CLASSES, limit=25, no_mask=no_mask)
        build_dataset(config, root / name, workers=1, progress=False)
    return root / "masked", root / "unmasked"


def test_study_table_and_numbers(paired_datasets, inference_dir, tmp_path):
    masked, unmasked = paired_datasets
    out = tmp_path / "study.md"
    assert study_tool.main(["--masked-data", str(masked), "--unmasked-data", str(unmasked),
                            "--model", f"tiny={inference_dir}", "--unseen-style", "tiny=cloth",
                            "--out", str(out)]) == 0
    study = json.loads(out.with_suffix(".json").read_text())
    rows = {(r["model"], r["eval faces"]): r for r in study["rows"]}
    assert set(rows) == {(m, c) for m in ("tiny", study_tool.PEER_NAME) for c in ("masked", "unmasked")}
    assert all(r["images"] == 100 for r in rows.values())  # 25 PublicTest faces per class
    # The peer is a real FER2013 model: far above chance (0.25) on unmasked faces, and a mask costs it.
    peer_unmasked = rows[(study_tool.PEER_NAME, "unmasked")]["accuracy"]
    peer_masked = rows[(study_tool.PEER_NAME, "masked")]["accuracy"]
    assert peer_unmasked > 0.55
    assert peer_masked < peer_unmasked
    styles = study["by_style"][study_tool.PEER_NAME]
    assert sum(s["images"] for s in styles.values()) == 100 and set(styles) <= {"surgical", "n95", "kn95", "cloth"}
    table = out.read_text()
    assert "| tiny | masked |" in table and "recall surprise" in table and "by mask style" in table
    tiny_styles = next(line for line in table.splitlines() if line.startswith("| tiny |") and "masked" not in line)
    assert tiny_styles.count("(unseen in training)") == 1


def test_study_refuses_datasets_of_other_faces(paired_datasets, fer2013_dir, tmp_path):
    masked, _ = paired_datasets
    other = tmp_path / "other"
    build_dataset(RunConfig(fer2013=str(fer2013_dir), classes=DEFAULT_CLASSES, limit=5, no_mask=True), other,
                  progress=False)
    from studies.table import run_study

    with pytest.raises(ValueError, match="same eval faces"):
        run_study({}, masked, other)
