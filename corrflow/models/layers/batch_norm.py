"""Batch-norm running statistics: keep them from passes that differ from test input,
and re-estimate them from passes that match it.

Training with an input bottleneck (colour dropout, jitter) normalises every
batch by its own statistics, so the weights never depend on the running
statistics; only the test does. Two remedies are provided here:

- :func:`frozen_bn_statistics`: run a forward pass in training mode without
  updating any running statistic (the pass is normalised exactly as before);
- :func:`estimate_bn_statistics`: replace the running statistics by their
  estimate over a set of batches, with :func:`torch.optim.swa_utils.update_bn`'s
  mechanism (``momentum=None``: the equally weighted mean of the per-batch
  means and of the per-batch unbiased variances, as PreciseBN), averaged over
  the ranks of a distributed run.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterable, Iterator

import torch
import torch.nn as nn
from torch.optim.swa_utils import update_bn

__all__ = ['batch_norm_layers', 'frozen_bn_statistics', 'estimate_bn_statistics']


def batch_norm_layers(module: nn.Module) -> list[nn.modules.batchnorm._BatchNorm]:
    """The batch-norm layers of ``module`` that keep running statistics."""
    return [m for m in module.modules()
            if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats
            and m.running_mean is not None]


@contextmanager
def frozen_bn_statistics(module: nn.Module, frozen: bool = True) -> Iterator[None]:
    """Within the block, batch-norm layers of ``module`` update no running statistic.

    In training mode they still normalise by the batch's own statistics, so
    outputs and gradients are unchanged; ``num_batches_tracked`` is not
    advanced either. ``frozen=False`` makes the block a no-op.
    """
    layers = batch_norm_layers(module) if frozen else []
    for layer in layers:
        layer.track_running_stats = False
    try:
        yield
    finally:
        for layer in layers:
            layer.track_running_stats = True


class _PassRunner(nn.Module):
    """Adapts ``forward_fn(batch)`` to the ``model(input)`` call of ``update_bn``."""

    def __init__(self, module: nn.Module, forward_fn: Callable[[object], object]) -> None:
        super().__init__()
        self.module = module
        self.forward_fn = forward_fn

    def forward(self, batch: object) -> object:
        return self.forward_fn(batch)


class _Boxed:
    """One batch, boxed so that ``update_bn`` neither unpacks nor moves it."""

    __slots__ = ('batch',)

    def __init__(self, batch: object) -> None:
        self.batch = batch


@torch.no_grad()
def estimate_bn_statistics(module: nn.Module, batches: Iterable[object],
                           forward_fn: Callable[[object], object]) -> int:
    """Replace the running statistics of ``module``'s batch-norm layers by their estimate.

    Every batch-norm layer's running mean and variance are reset and
    recomputed over the passes ``forward_fn(batch)`` makes for each element of
    ``batches``, with ``torch.optim.swa_utils.update_bn`` (cumulative average:
    each layer's statistics become the mean, over the passes it saw, of the
    pass's mean and unbiased variance). In a distributed run the result is
    then averaged over the ranks (each rank should see different batches).
    The momenta and the training flag of every module are restored.

    Args:
        module (nn.Module): holds the batch-norm layers (and is put in
            training mode during the passes, as ``update_bn`` does).
        batches (Iterable): the inputs; each is handed to ``forward_fn`` as it is.
        forward_fn (Callable): runs the passes of one batch through ``module``'s
            layers (it may call them several times, e.g. once per frame).

    Returns:
        int: the number of batches used on this rank.

    Raises:
        ValueError: ``batches`` was empty, or a layer saw no pass.
    """
    layers = batch_norm_layers(module)
    if not layers:
        return 0
    count = 0

    def boxed() -> Iterator[_Boxed]:
        nonlocal count
        for batch in batches:
            count += 1
            yield _Boxed(batch)

    modes = {m: m.training for m in module.modules()}  # update_bn resets them all alike
    try:
        update_bn(boxed(), _PassRunner(module, lambda box: forward_fn(box.batch)))
    finally:
        for m, training in modes.items():
            m.training = training
    if count == 0:
        raise ValueError('no batch to estimate the batch-norm statistics from')
    unseen = [name for name, m in module.named_modules() if m in layers
              and int(m.num_batches_tracked) == 0]
    if unseen:
        raise ValueError(f'batch-norm layers {unseen} saw no pass while the statistics were '
                         'estimated; the pass function does not reach them')
    _average_over_ranks(layers)
    return count


def _average_over_ranks(layers: list[nn.modules.batchnorm._BatchNorm]) -> None:
    from mmengine.dist import all_reduce, get_world_size
    if get_world_size() < 2:
        return
    for layer in layers:
        all_reduce(layer.running_mean, op='mean')
        all_reduce(layer.running_var, op='mean')
