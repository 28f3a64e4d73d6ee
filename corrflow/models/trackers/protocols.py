"""Propagation protocols: which frames serve as context and how labels are copied.

A protocol receives the embedding of frame ``t`` through a callable and the
seed label maps of frame 0 on the feature grid, and yields the propagated label
distributions of frames 1..T-1 on the feature grid.

Shape shorthand: C feature channels, L label channels, h, w feature grid.
"""
from __future__ import annotations

from collections import deque
from typing import Callable, Iterator

import torch.nn.functional as F
from torch import Tensor

from corrflow.models.layers.local_attention import restricted_attention, topk_restricted_attention
from corrflow.registry import TASK_UTILS
from corrflow.utils.launch import ConfigError

__all__ = ['CorrFlowPropagation', 'TopKMemoryPropagation']


@TASK_UTILS.register_module()
class CorrFlowPropagation:
    """Protocol A, as in CorrFlow: copy from the previous frame only.

    Frame 1 copies the ground-truth labels of frame 0; every later frame copies
    the hard (arg-max, re-one-hot) prediction of the frame before it. Raw dot
    products, softmax over the ``(2R+1)^2`` window, no temperature (the
    paper's setting, ``temperature=1``).

    Args:
        radius (int): window radius R in feature cells (6 at stride 4).
        temperature (float): affinities are divided by it before the softmax
            (1 in CorrFlow; a baseline of unit-length features needs a small one).
        tile_size (int): tile side of the windowed computation.
    """

    seed = 'strided'
    normalise_features = False
    minmax_output = False

    def __init__(self, radius: int = 6, temperature: float = 1.0, tile_size: int = 8) -> None:
        if temperature <= 0:
            raise ConfigError(f'temperature must be > 0, got {temperature}')
        self.radius = radius
        self.temperature = temperature
        self.tile_size = tile_size

    def __call__(self, features: Callable[[int], Tensor], num_frames: int,
                 seed: Tensor) -> Iterator[tuple[int, Tensor]]:
        """Yield ``(t, (1, L, h, w) label distribution)`` for t = 1..T-1."""
        ref_feat, ref_labels = features(0), seed
        num_labels = seed.shape[1]
        for t in range(1, num_frames):
            feat = features(t)
            prob = restricted_attention(feat, ref_feat, ref_labels, self.radius,
                                        temperature=self.temperature, tile_size=self.tile_size)
            yield t, prob
            hard = prob.argmax(1)  # (1, h, w)
            ref_labels = F.one_hot(hard, num_labels).permute(0, 3, 1, 2).to(prob.dtype)
            ref_feat = feat

    def describe(self) -> dict:
        return dict(protocol='A (CorrFlow)', context='previous frame', labels='hard',
                    radius=self.radius, temperature=self.temperature, topk=None,
                    feature_norm=None,
                    seed=self.seed, output='argmax')


@TASK_UTILS.register_module()
class TopKMemoryPropagation:
    """Protocol B, as in CRW / VFS / Spa-then-Temp: frame 0 plus N preceding frames.

    Features are L2-normalised; affinities are divided by ``temperature``,
    restricted to a ``(2R+1)^2`` window in every context frame, and only the
    ``topk`` largest over all context keys are soft-maxed. Context values are
    the soft label maps predicted earlier (the seed for frame 0). Outputs are
    min-max normalised per channel before read-out.

    Args:
        radius (int): neighbourhood radius in feature cells.
        num_context (int): preceding frames kept besides frame 0 (20).
        topk (int): affinities kept per query (10).
        temperature (float): softmax temperature (0.07).
        tile_size (int): tile side of the windowed computation.
        max_chunk_elements (int): bound on affinity elements held at once.
    """

    seed = 'area'
    normalise_features = True
    minmax_output = True

    def __init__(self, radius: int = 12, num_context: int = 20, topk: int = 10,
                 temperature: float = 0.07, tile_size: int = 8,
                 max_chunk_elements: int = 1 << 25) -> None:
        if num_context < 0 or topk < 1 or temperature <= 0:
            raise ConfigError(f'need num_context >= 0, topk >= 1 and temperature > 0, got '
                             f'{num_context}, {topk}, {temperature}')
        self.radius = radius
        self.num_context = num_context
        self.topk = topk
        self.temperature = temperature
        self.tile_size = tile_size
        self.max_chunk_elements = max_chunk_elements

    def __call__(self, features: Callable[[int], Tensor], num_frames: int,
                 seed: Tensor) -> Iterator[tuple[int, Tensor]]:
        """Yield ``(t, (1, L, h, w) soft label map)`` for t = 1..T-1."""
        first_feat = features(0)
        recent: deque[tuple[Tensor, Tensor]] = deque(maxlen=self.num_context)
        for t in range(1, num_frames):
            feat = features(t)
            keys = [first_feat] + [f for f, _ in recent]
            values = [seed] + [v for _, v in recent]
            prob = topk_restricted_attention(feat, keys, values, self.radius, self.topk,
                                             temperature=self.temperature,
                                             tile_size=self.tile_size,
                                             max_chunk_elements=self.max_chunk_elements)
            yield t, prob
            if self.num_context > 0:
                recent.append((feat, prob))

    def describe(self) -> dict:
        return dict(protocol='B (top-k memory)', context=f'frame 0 + {self.num_context} preceding',
                    labels='soft', radius=self.radius, temperature=self.temperature,
                    topk=self.topk, feature_norm='L2', seed=self.seed,
                    output='per-channel min-max, argmax')


def l2_normalise(x: Tensor) -> Tensor:
    """Unit-length feature vectors along the channel axis of (B, C, h, w)."""
    return F.normalize(x, dim=1)
