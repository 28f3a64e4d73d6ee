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


@pytest.fixture
def quantised_batch(monkeypatch):
    """Factory of batches as the training dataloader gives them: random clips through
    ``QuantiseColour(centroids)`` and ``PackClipInputs``, gathered by ``sample_list_collate``.

    The colour classes come from the direct rule (``nearest_centroid``), pixel for pixel
    what the lookup table gives, so that a new centroid set costs no 16 MiB table.
    """
    import numpy as np

    from corrflow.datasets.collate import sample_list_collate
    from corrflow.datasets.transforms import clip_transforms

    monkeypatch.setattr(clip_transforms, 'quantise_frames', lambda frames, centroids: np.stack(
        [clip_transforms.nearest_centroid(f, centroids) for f in frames]))

    def make(centroids=None, B: int = 2, T: int = 3, H: int = 32, W: int = 32,
             seed: int = 0) -> dict:
        rng = np.random.default_rng(seed)
        pipeline = [clip_transforms.QuantiseColour(centroids), clip_transforms.PackClipInputs()]
        items = []
        for _ in range(B):
            results = dict(frames=[rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
                                   for _ in range(T)])
            for transform in pipeline:
                results = transform(results)
            items.append(results)
        return sample_list_collate(items)

    return make


# Modules whose tests run for seconds each in-process (trainings, real-data evaluations,
# benchmarks, a wheel build); tests that start a tool as a subprocess (the `tool` fixture)
# are slow too. `pytest -m "not slow"` leaves them out; CI runs everything.
SLOW_MODULES = ('tests/benchmarks/', 'tests/model_zoo/', 'tests/test_install.py',
                'tests/tools/test_resume_exact.py', 'tests/tools/test_samples.py',
                'tests/tools/test_ytvos_tool.py', 'tests/tools/test_eval_davis_cli.py')


def pytest_collection_modifyitems(config, items):
    for item in items:
        path = Path(str(item.fspath)).relative_to(REPO_ROOT).as_posix()
        if 'tool' in getattr(item, 'fixturenames', ()):
            item.add_marker(pytest.mark.tool)
            item.add_marker(pytest.mark.slow)
        elif path.startswith(SLOW_MODULES):
            item.add_marker(pytest.mark.slow)
