"""Random state that a checkpoint carries, so that a resumed run repeats itself exactly.

Two sources of randomness decide a training iteration:

- the main process's generators (torch, CUDA, numpy, python), which draw the
  information bottleneck and the scheduled-sampling choices. Their states are
  stored in every checkpoint (:func:`capture_random_state`) and restored just
  before the first resumed iteration (:func:`restore_random_state`);
- the data pipeline's random crops and flips. They run in data workers whose
  generators advance with every sample, so they cannot be stored. Instead every
  sample is drawn under generators seeded from the run's seed, the rank and the
  sample's position in the rank's stream (:class:`PositionSeededDataset`): sample
  ``n`` gets the same crop whether it is loaded by worker 0 or 1, with 0 or 8
  workers, in an uninterrupted run or after a resume.

States are stored as tensors and plain numbers only, so checkpoints stay loadable
with ``torch.load(weights_only=True)``.
"""
from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

__all__ = ['capture_random_state', 'restore_random_state', 'sample_seed',
           'PositionSeededDataset', 'random_state_preserved']


def capture_random_state() -> dict[str, Any]:
    """The states of the torch, CUDA, numpy and python generators of this process."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    version, internal, gauss_next = random.getstate()
    state = dict(
        torch=torch.get_rng_state(),
        numpy=dict(kind=str(kind), keys=torch.from_numpy(np.asarray(keys, dtype=np.int64)),
                   pos=int(pos), has_gauss=int(has_gauss), cached_gaussian=float(cached)),
        python=dict(version=int(version), internal=torch.tensor(internal, dtype=torch.int64),
                    gauss_next=gauss_next),
        cuda=None,
    )
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def restore_random_state(state: dict[str, Any]) -> None:
    """Set the generators of this process to a state from :func:`capture_random_state`.

    Raises:
        ValueError: the state is not one :func:`capture_random_state` made.
    """
    try:
        torch.set_rng_state(state['torch'])
        np_state = state['numpy']
        np.random.set_state((np_state['kind'], np_state['keys'].numpy().astype(np.uint32),
                             np_state['pos'], np_state['has_gauss'],
                             np_state['cached_gaussian']))
        py_state = state['python']
        random.setstate((py_state['version'], tuple(py_state['internal'].tolist()),
                         py_state['gauss_next']))
    except (KeyError, TypeError, ValueError, RuntimeError) as err:
        raise ValueError(f'not a random state saved by corrflow ({err!r})') from None
    cuda = state.get('cuda')
    if cuda is not None and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda)


class random_state_preserved:
    """Context manager: whatever runs inside leaves this process's generators untouched."""

    def __enter__(self):
        self._state = capture_random_state()
        return self

    def __exit__(self, *exc) -> None:
        restore_random_state(self._state)


def sample_seed(seed: int, rank: int, position: int) -> int:
    """A 32-bit seed for sample ``position`` of ``rank``'s stream of a run seeded ``seed``."""
    return int(np.random.SeedSequence([seed % 2**32, rank, position]).generate_state(1)[0])


class PositionSeededDataset(Dataset):
    """A dataset whose ``(index, position)`` items load under position-seeded generators.

    ``dataset[(index, position)]`` returns ``inner[index]``, computed with the
    torch, numpy and python generators seeded by :func:`sample_seed`; the
    generators of the calling process are restored afterwards (so loading in
    the main process, with ``num_workers=0``, leaves the model's random draws
    alone). Other attributes (``metainfo``, ...) are those of ``inner``.

    Args:
        inner (Dataset): the training dataset.
        seed (int): the run's seed.
        rank (int): this process's rank.
    """

    def __init__(self, inner: Dataset, seed: int, rank: int = 0) -> None:
        self.inner = inner
        self.seed = int(seed)
        self.rank = int(rank)

    def __len__(self) -> int:
        return len(self.inner)

    def __getattr__(self, name: str):
        if name == 'inner':  # not set yet (e.g. while unpickling)
            raise AttributeError(name)
        return getattr(self.inner, name)

    def __getitem__(self, item: tuple[int, int]):
        index, position = item
        with random_state_preserved():
            seed = sample_seed(self.seed, self.rank, position)
            torch.manual_seed(seed)
            np.random.seed(seed)
            random.seed(seed)
            return self.inner[index]
