import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from helpers import run_tool  # noqa: E402


@pytest.fixture
def tool():
    return run_tool
