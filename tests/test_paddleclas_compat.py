"""Our exports and configs against a real PaddleClas checkout (brought in with the search tool's fetch and
unpacked to $PADDLECLAS_DIR, /tmp/pc by default: `git --git-dir <mirror> archive HEAD ppcls tools | tar x -C
/tmp/pc`). Skipped when no checkout is there: PaddleClas's code is never copied into this project."""
import copy
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from engine.config import load_config
from engine.export import inference_yml
from masker.synthetic import write_synthetic_fer2013

ROOT = Path(__file__).resolve().parents[1]
PADDLECLAS = Path(os.environ.get("PADDLECLAS_DIR", "/tmp/pc"))


@pytest.fixture(scope="module")
def dump_infer_config():
    """PaddleClas's own dump_infer_config: from a PaddleClas checkout where there is one (PADDLECLAS_DIR), else
    from the paddleclas wheel the project installs, which ships the same ppcls/utils/config.py."""
    if (PADDLECLAS / "ppcls" / "utils" / "config.py").is_file():
        sys.path.insert(0, str(PADDLECLAS))
        try:
            from ppcls.utils import logger
            from ppcls.utils.config import dump_infer_config
            logger.init_logger()
        finally:
            sys.path.remove(str(PADDLECLAS))
        return dump_infer_config
    from paddleclas.ppcls.utils import logger
    from paddleclas.ppcls.utils.config import dump_infer_config
    logger.init_logger()
    return dump_infer_config


@pytest.mark.parametrize("name", ["FaceCNN_cpu", "PPLCNet_x1_0", "ResNet18"])
def test_inference_yml_has_paddleclas_keys(dump_infer_config, tmp_path, name):
    labels = tmp_path / "label_list.txt"
    labels.write_text("0 angry\n1 fear\n2 happy\n3 surprise\n")
    config = load_config(ROOT / "configs" / "masked_fer" / f"{name}.yaml",
                         [f"Infer.PostProcess.class_id_map_file={labels}"])
    dump_infer_config(copy.deepcopy(config), str(tmp_path / "theirs.yml"))
    theirs = yaml.safe_load((tmp_path / "theirs.yml").read_text())
    ours = inference_yml(config)
    assert set(theirs) <= set(ours)
    assert ours["PostProcess"] == theirs["PostProcess"]
    assert [next(iter(op)) for op in ours["PreProcess"]["transform_ops"]] == \
        [next(iter(op)) for op in theirs["PreProcess"]["transform_ops"]]


@pytest.mark.parametrize("name", ["PPLCNet_x1_0", "ResNet18", "Xception65"])
def test_config_trains_unchanged_in_paddleclas(tmp_path, name):
    """The configs that use only paddleclas backbones train one epoch with PaddleClas's own tools/train.py; only
    the data paths (and, for the GPU recipe, the device) are given on its command line."""
    if not (PADDLECLAS / "tools" / "train.py").is_file():
        pytest.skip(f"no PaddleClas checkout at {PADDLECLAS} (set PADDLECLAS_DIR)")
    faces = tmp_path / "faces"
    write_synthetic_fer2013(faces, per_class=8, seed=1, test_per_class=4)
    classes = ["angry", "fear", "happy", "surprise"]
    (tmp_path / "label_list.txt").write_text("".join(f"{i} {c}\n" for i, c in enumerate(classes)))
    for split, folder in (("train", "train"), ("eval", "test")):
        rows = [f"{path.relative_to(faces)} {i}" for i, c in enumerate(classes)
                for path in sorted((faces / folder / c).glob("*.jpg"))]
        (tmp_path / f"{split}.txt").write_text("\n".join(rows) + "\n")
    out = tmp_path / "output"
    overrides = ["Global.epochs=1", "Global.device=cpu", f"Global.output_dir={out}",
                 f"Infer.PostProcess.class_id_map_file={tmp_path / 'label_list.txt'}"]
    for part, split in (("Train", "train"), ("Eval", "eval")):
        overrides += [f"DataLoader.{part}.dataset.image_root={faces}/",
                      f"DataLoader.{part}.dataset.cls_label_path={tmp_path / f'{split}.txt'}"]
    command = [sys.executable, "tools/train.py", "-c", str(ROOT / "configs" / "masked_fer" / f"{name}.yaml")]
    for override in overrides:
        command += ["-o", override]
    run = subprocess.run(command, cwd=PADDLECLAS, capture_output=True, text=True, timeout=900,
                         env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert (out / "best_model.pdparams").is_file(), run.stdout[-3000:]
    assert "[Eval][Epoch 1][Avg]" in (out / "train.log").read_text()
