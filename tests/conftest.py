"""Fixtures shared by the whole suite."""
import os
import signal
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SHARED_DIR", ROOT.parent / "shared"))
FER2013_DIR = SHARED / "fer2013"
PY310 = ROOT / ".venv310" / "bin" / "python"

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
import basics  # noqa: E402,F401  (MKL_DEBUG_CPU_TYPE on AMD, before anything imports paddle)


# Under CI=true (.ci/run on the project's machines, which have ../shared, .venv310 and Chromium), a test that would
# skip for want of something this machine should have fails instead: a green run hides no missing part.
IN_CI = os.environ.get("CI") == "true"


def skip_unless_ci(reason: str):
    """pytest.skip(reason), or pytest.fail(reason) under CI=true."""
    if IN_CI:
        pytest.fail(f"under CI=true this must not be missing: {reason}")
    pytest.skip(reason)


def hear_ctrl_c():
    """preexec_fn for a child that a test interrupts: a child of a shell's background job starts with SIGINT
    ignored, and Python then never raises KeyboardInterrupt; give it the default, as a terminal's Ctrl-C finds it."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.fixture(scope="session")
def fer2013_dir() -> Path:
    """The FER2013 image folders beside the checkout; tests that need them skip on a fresh machine."""
    if not (FER2013_DIR / "train").is_dir():
        skip_unless_ci(f"FER2013 not found at {FER2013_DIR} (the shared data folder is absent)")
    return FER2013_DIR


@pytest.fixture(scope="session")
def py310() -> Path:
    """The Python 3.10 environment with FastDeploy and Paddle Lite, built by `make setup`."""
    if not PY310.exists():
        skip_unless_ci(f"{PY310} is absent: `make setup` builds it where a Python 3.10 interpreter exists")
    return PY310


@pytest.fixture(scope="session")
def inference_dir(tmp_path_factory) -> Path:
    """A real exported model (randomly initialised PPLCNet_x0_25, 48 px, 4 classes) from configs/test/tiny.yaml:
    inference.pdmodel + inference.pdiparams + inference.yml, as tools/export_model.py writes them."""
    from engine.config import load_config
    from engine.export import export

    root = tmp_path_factory.mktemp("inference")
    labels = root / "label_list.txt"
    labels.write_text("0 angry\n1 fear\n2 happy\n3 surprise\n", encoding="utf-8")
    config = load_config(ROOT / "configs" / "test" / "tiny.yaml", [
        f"Global.save_inference_dir={root / 'model'}", f"Infer.PostProcess.class_id_map_file={labels}"])
    return export(config)
