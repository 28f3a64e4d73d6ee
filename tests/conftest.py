import os
from pathlib import Path

import pytest
from mmengine.registry import init_default_scope

init_default_scope('corrflow')

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope='session')
def shared_data() -> Path:
    """Root of the shared real data (env CORRFLOW_SHARED_DATA, default ../shared/data)."""
    root = Path(os.environ.get('CORRFLOW_SHARED_DATA', REPO_ROOT.parent / 'shared' / 'data'))
    if not root.is_dir():
        pytest.skip(f'shared data not found at {root}')
    return root
