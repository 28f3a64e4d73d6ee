
import pytest

from helpers import run_tool


@pytest.fixture
def tool():
    return run_tool
