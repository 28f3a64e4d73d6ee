"""choose_threads: the free cores less the loader workers, unless the user chose."""
import os

import pytest
import torch

from corrflow.utils import launch


@pytest.fixture
def restore_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def _machine(monkeypatch, cores, load, env=None):
    for key in launch.THREAD_VARIABLES + ('LOCAL_WORLD_SIZE',):
        monkeypatch.delenv(key, raising=False)
    for key, value in (env or {}).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(os, 'sched_getaffinity', lambda pid: set(range(cores)), raising=False)
    monkeypatch.setattr(os, 'getloadavg', lambda: (load, load, load), raising=False)


@pytest.mark.parametrize('cores, load, workers, env, threads', [
    (2, 0.0, 1, {}, 2),            # the demo on an idle 2-core machine: its worker mostly waits
    (2, 0.1, 0, {}, 2),            # nothing else: every core
    (2, 1.9, 1, {}, 1),            # a second job beside it
    (8, 2.2, 2, {}, 6),            # 8 cores, 2 busy
    (8, 0.0, 1, {'LOCAL_WORLD_SIZE': '2'}, 4),  # 2 ranks share the machine
    (2, 9.0, 2, {}, 1),            # overloaded: never fewer than one
])
def test_choice(monkeypatch, restore_threads, cores, load, workers, env, threads):
    _machine(monkeypatch, cores, load, env)
    line = launch.choose_threads(workers)
    assert torch.get_num_threads() == threads
    assert line.startswith(f'torch threads {threads} ({cores} cores available')
    assert 'set OMP_NUM_THREADS to choose another number' in line


def test_the_user_choice_wins(monkeypatch, restore_threads):
    _machine(monkeypatch, 8, 0.0, {'OMP_NUM_THREADS': '3'})
    torch.set_num_threads(3)
    assert launch.choose_threads(2) == 'torch threads 3 (OMP_NUM_THREADS=3)'
    assert torch.get_num_threads() == 3
