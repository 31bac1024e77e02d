"""Our exports and configs against a real PaddleClas checkout (brought in with the search tool's fetch and
unpacked to $PADDLECLAS_DIR, /tmp/pc by default: `git --git-dir <mirror> archive HEAD ppcls tools | tar x -C
/tmp/pc`). Skipped when no checkout is there: PaddleClas's code is never copied into this project."""
import copy
import os
import sys
from pathlib import Path

import pytest
import yaml

from engine.config import load_config
from engine.export import inference_yml

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
