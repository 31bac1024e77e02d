"""Fixtures shared by the whole suite."""
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SHARED_DIR", ROOT.parent / "shared"))
FER2013_DIR = SHARED / "fer2013"
PY310 = ROOT / ".venv310" / "bin" / "python"

os.environ.setdefault("MKL_DEBUG_CPU_TYPE", "5")
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@pytest.fixture(scope="session")
def fer2013_dir() -> Path:
    """The FER2013 image folders beside the checkout; tests that need them skip on a fresh machine."""
    if not (FER2013_DIR / "train").is_dir():
        pytest.skip(f"FER2013 not found at {FER2013_DIR} (the shared data folder is absent)")
    return FER2013_DIR


@pytest.fixture(scope="session")
def py310() -> Path:
    """The Python 3.10 environment with FastDeploy and Paddle Lite, built by `make setup`."""
    if not PY310.exists():
        pytest.skip(f"{PY310} is absent: `make setup` builds it where a Python 3.10 interpreter exists")
    return PY310
