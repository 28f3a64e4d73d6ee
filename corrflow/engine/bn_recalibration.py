"""Batch-norm statistics of a trained model, re-estimated on the input the test sees.

Training algorithms with an input bottleneck (CorrFlow's colour dropout,
Spa-then-Temp's dropped chroma channel) collect their running statistics on
altered frames, while the test feeds whole, unaltered frames. The algorithms
state two things for the estimate:

- ``bn_statistics_module()``: the module holding the batch-norm layers whose
  statistics the test uses (the encoder; a frozen teacher is left alone);
- ``clean_encoder_passes(inputs)``: the encoder passes of a training batch
  ``(B, T, 3, H, W)`` as training arranges them, but on the frames as the
  test sees them (no bottleneck, no dropped channel, no test-unseen patch).

:func:`recalibrate_bn` runs these passes over :func:`calibration_batches` and
replaces the statistics with
:func:`~corrflow.models.layers.batch_norm.estimate_bn_statistics`.
"""
from __future__ import annotations

import itertools
from typing import Any, Callable, Iterator

import numpy as np
import torch
from mmengine.dist import get_dist_info
from mmengine.model import is_model_wrapper
from torch.utils.data import Dataset

from corrflow.engine.random_state import PositionSeededDataset, random_state_preserved
from corrflow.models.layers.batch_norm import estimate_bn_statistics
from corrflow.errors import ConfigError

__all__ = ['calibration_batches', 'recalibrate_bn', 'check_calibratable']


def _unwrap(model: torch.nn.Module) -> torch.nn.Module:
    return model.module if is_model_wrapper(model) else model


def check_calibratable(model: torch.nn.Module) -> torch.nn.Module:
    """The bare model, or one clear error if it does not state its clean encoder passes."""
    model = _unwrap(model)
    missing = [name for name in ('bn_statistics_module', 'clean_encoder_passes')
               if not callable(getattr(model, name, None))]
    if missing:
        raise ConfigError(f'{type(model).__name__} cannot have its batch-norm statistics '
                          f're-estimated: it has no {" or ".join(missing)} (the encoder passes '
                          'a test-time input takes through it)')
    return model


def calibration_batches(dataset: Dataset, collate_fn: Callable[[list], Any], batch_size: int,
                        num_batches: int, seed: int = 0) -> Iterator[Any]:
    """``num_batches`` batches of training samples, the same for a given seed.

    Samples are taken without replacement in an order drawn from ``seed``
    (a new order after every pass over the data), strided over the ranks of a
    distributed run, and each is loaded under generators seeded by its
    position (random crops are reproducible); the caller's generators are
    left untouched.

    Raises:
        ConfigError: the dataset is empty, or ``batch_size``/``num_batches`` < 1.
    """
    if batch_size < 1 or num_batches < 1:
        raise ConfigError(f'batch-norm re-estimation needs batch_size >= 1 and num_batches >= 1, '
                          f'got {batch_size} and {num_batches}')
    if len(dataset) == 0:
        raise ConfigError(f'the training dataset ({type(dataset).__name__}) has no samples to '
                          're-estimate batch-norm statistics from; check its data_root')
    rank, world_size = get_dist_info()
    order = np.random.default_rng(seed)
    seeded = PositionSeededDataset(dataset, seed, rank)

    def indices() -> Iterator[int]:
        while True:
            yield from order.permutation(len(dataset))[rank::world_size].tolist()

    stream = enumerate(indices())
    for _ in range(num_batches):
        with random_state_preserved():
            samples = [seeded[(index, position)]
                       for position, index in itertools.islice(stream, batch_size)]
        yield collate_fn(samples)


def recalibrate_bn(model: torch.nn.Module, batches: Iterator[Any]) -> int:
    """Replace the encoder's batch-norm statistics by their estimate over ``batches``.

    Each batch goes through the model's data preprocessor and
    ``clean_encoder_passes``; see
    :func:`~corrflow.models.layers.batch_norm.estimate_bn_statistics` for the
    estimate. The model's training flags are left as they were.

    Returns:
        int: the number of batches used (on this rank).
    """
    model = check_calibratable(model)

    def passes(data: Any) -> None:
        data = model.data_preprocessor(data, True)
        model.clean_encoder_passes(data['inputs'])

    return estimate_bn_statistics(model.bn_statistics_module(), batches, passes)
