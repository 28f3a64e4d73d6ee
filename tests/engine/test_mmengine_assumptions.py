"""What corrflow assumes of mmengine beyond its public API, checked against the pinned version.

mmengine is pinned (requirements.txt: 0.10.7; setup.py: 0.10.x). Where no public API
exists, corrflow uses these internals; a new mmengine that changes one fails here first,
with the place that depends on it.
"""
import mmengine
from torch.utils.data import DataLoader


def test_mmengine_is_the_pinned_minor_version():
    assert mmengine.__version__.startswith('0.10.'), (
        f'mmengine {mmengine.__version__}: corrflow is written against 0.10.x; check the '
        'assumptions below before moving the pin')


def test_infinite_dataloader_iterator_cycles_a_dataloader():
    """corrflow/engine/resumable_loop.py wraps it to skip the batches a resumed run has seen."""
    from mmengine.runner.loops import _InfiniteDataloaderIterator
    loader = DataLoader(list(range(3)), batch_size=2)
    it = _InfiniteDataloaderIterator(loader)
    got = [next(it).tolist() for _ in range(4)]
    assert got == [[0, 1], [2], [0, 1], [2]]


def test_runner_keeps_its_randomness_config_and_logs_its_set_up_as_corrflow_expects():
    """resumable_loop.py reads Runner._randomness_cfg (diff_rank_seed), and
    corrflow/engine/runner.py recognises the set-up dumps of Runner._log_env by their
    first words."""
    import inspect

    from mmengine.runner import Runner
    source = inspect.getsource(Runner)
    assert 'self._randomness_cfg' in source
    log_env = inspect.getsource(Runner._log_env)
    assert '\\nSystem environment:' in log_env and "f'Config:\\n" in log_env
    assert 'Hooks will be executed in the following' in inspect.getsource(Runner.__init__)
    assert 'def build_logger' in source


def test_config_to_dict_is_a_plain_copy():
    """corrflow/utils/config_check.py walks configs through Config.to_dict (public)."""
    from mmengine.config import Config
    cfg = Config(dict(a=dict(type='X', b=[dict(c=1)])))
    tree = cfg.to_dict()
    assert tree == {'a': {'type': 'X', 'b': [{'c': 1}]}} and type(tree['a']) is dict
    tree['a']['type'] = 'Y'
    assert cfg.a.type == 'X'
