"""Propagation protocols: the whole recipe of copying labels from frame to frame.

A protocol owns every step that differs between the recipes:

- :meth:`~PropagationProtocol.seed`: how label maps of a labelled frame are
  taken onto the feature grid;
- :meth:`~PropagationProtocol.prepare_features`: how features are compared
  (raw or unit-length);
- :meth:`~PropagationProtocol.__call__`: which earlier frames serve as context
  and which labels they carry;
- :meth:`~PropagationProtocol.mask_scores`: how propagated label maps are
  turned into the scores a mask is read out from;
- :meth:`~PropagationProtocol.describe`: every one of its settings.

Labels may start at any frame (objects that appear mid-video). The protocol
receives ``seeds``: ``{t: (1, L, h, w) label maps on the feature grid}``. The
first entry is the complete label map of the first labelled frame (background
included); every later entry holds only the channels of the objects that start
at that frame (its background channel is zero). Such a seed is *pasted* into
the frame's propagated labels (over the predictions of earlier objects) and
the pasted map is what later frames copy from.

Shape shorthand: C feature channels, L label channels, h, w feature grid.
"""
from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections import deque
from typing import Callable, Iterator, Mapping

import torch
import torch.nn.functional as F
from torch import Tensor

from corrflow.models.layers.local_attention import restricted_attention, topk_restricted_attention
from corrflow.models.layers.propagation import area_seed, minmax_normalise, strided_seed
from corrflow.registry import TASK_UTILS
from corrflow.utils.launch import ConfigError
from corrflow.utils.precision import full_precision

__all__ = ['PropagationProtocol', 'CorrFlowPropagation', 'TopKMemoryPropagation',
           'TimeCyclePropagation', 'l2_normalise', 'paste_labels']


def l2_normalise(x: Tensor) -> Tensor:
    """Unit-length feature vectors along the channel axis of (B, C, h, w)."""
    return F.normalize(x, dim=1)


def paste_labels(labels: Tensor, seed: Tensor) -> Tensor:
    """Paste the label maps of newly started objects over propagated labels.

    Args:
        labels (Tensor): (1, L, h, w) propagated label maps of a frame.
        seed (Tensor): (1, L, h, w) maps of the objects that start at this
            frame (background channel zero); a cell they cover by a fraction
            ``m`` keeps ``1 - m`` of its propagated labels.

    Returns:
        Tensor: (1, L, h, w).
    """
    cover = seed.sum(1, keepdim=True).clamp(0, 1)
    return labels * (1 - cover) + seed


def _check_seeds(seeds: Mapping[int, Tensor], num_frames: int) -> list[int]:
    starts = sorted(seeds)
    if not starts or starts[0] < 0 or starts[-1] >= num_frames:
        raise ValueError(f'seed frames {starts} must lie in 0..{num_frames - 1}')
    return starts


class PropagationProtocol(ABC):
    """Base class of the propagation protocols (see the module doc).

    Subclasses implement :meth:`__call__` and :meth:`describe` and choose
    :meth:`seed`, :meth:`prepare_features` and :meth:`mask_scores`.
    """

    def seed(self, maps: Tensor, stride: int, grid: tuple[int, int]) -> Tensor:
        """Label maps at the processed (padded) size (1, L, Hq, Wq) -> the grid (1, L, h, w).

        Default: the pixel each cell is centred on.
        """
        return strided_seed(maps, stride, grid)

    def prepare_features(self, feat: Tensor) -> Tensor:
        """Features as the protocol compares them. Default: as the encoder gives them."""
        return feat

    def mask_scores(self, labels: Tensor) -> Tensor:
        """Propagated label maps -> the per-channel scores a mask is read out from
        (bilinear upsampling, then arg-max). Default: the maps themselves."""
        return labels

    @abstractmethod
    def __call__(self, features: Callable[[int], Tensor], num_frames: int,
                 seeds: Mapping[int, Tensor]) -> Iterator[tuple[int, Tensor]]:
        """Yield ``(t, (1, L, h, w) propagated labels)`` for every frame after the first seed.

        ``features(t)`` gives the prepared features of frame ``t``. The yielded
        labels of a frame that has a seed are those before pasting.
        """

    @abstractmethod
    def describe(self) -> dict:
        """Every setting of the protocol, recorded beside the numbers it produced."""


@TASK_UTILS.register_module()
class CorrFlowPropagation(PropagationProtocol):
    """Protocol A, as in CorrFlow: copy from the previous frame only.

    The first labelled frame gives its ground-truth labels; every later frame
    copies the hard (arg-max, re-one-hot) prediction of the frame before it,
    with the masks of objects that start there pasted in. Raw dot products,
    softmax over the ``(2R+1)^2`` window, no temperature (the paper's setting,
    ``temperature=1``). Seeds take the pixel each cell is centred on.

    Args:
        radius (int): window radius R in feature cells (6 at stride 4).
        temperature (float): affinities are divided by it before the softmax
            (1 in CorrFlow; a baseline of unit-length features needs a small one).
        tile_size (int): tile side of the windowed computation.
    """

    def __init__(self, radius: int = 6, temperature: float = 1.0, tile_size: int = 8) -> None:
        if temperature <= 0:
            raise ConfigError(f'temperature must be > 0, got {temperature}')
        self.radius = radius
        self.temperature = temperature
        self.tile_size = tile_size

    def __call__(self, features: Callable[[int], Tensor], num_frames: int,
                 seeds: Mapping[int, Tensor]) -> Iterator[tuple[int, Tensor]]:
        starts = _check_seeds(seeds, num_frames)
        ref_feat, ref_labels = features(starts[0]), seeds[starts[0]]
        num_labels = ref_labels.shape[1]
        for t in range(starts[0] + 1, num_frames):
            feat = features(t)
            prob = restricted_attention(feat, ref_feat, ref_labels, self.radius,
                                        temperature=self.temperature, tile_size=self.tile_size)
            yield t, prob
            hard = prob.argmax(1)  # (1, h, w)
            ref_labels = F.one_hot(hard, num_labels).permute(0, 3, 1, 2).to(prob.dtype)
            if t in seeds:
                ref_labels = paste_labels(ref_labels, seeds[t].to(prob.dtype))
            ref_feat = feat

    def describe(self) -> dict:
        return dict(protocol='A (CorrFlow)', context='previous frame', labels='hard',
                    radius=self.radius, temperature=self.temperature, topk=None,
                    feature_norm=None, seed='cell-centre pixel', output='argmax',
                    late_objects='mask pasted at its first frame, copied on from there')


@TASK_UTILS.register_module()
class TopKMemoryPropagation(PropagationProtocol):
    """Protocol B, as in CRW / VFS / Spa-then-Temp: the first frame plus N preceding frames.

    Features are L2-normalised; affinities are divided by ``temperature``,
    restricted to a ``(2R+1)^2`` window in every context frame, and only the
    ``topk`` largest over all context keys are soft-maxed. Context values are
    the soft label maps predicted earlier (the seed for the first frame).
    Seeds average the pixels around each cell centre; outputs are min-max
    normalised per channel before read-out.

    Every frame where objects start (the first labelled frame and each frame
    where a later object's mask is pasted in) stays in the context for the
    rest of the video, as the first frame does; the ``num_context`` preceding
    frames are counted among the other frames.

    Args:
        radius (int): neighbourhood radius in feature cells.
        num_context (int): preceding frames kept besides the seeded frames (20).
        topk (int): affinities kept per query (10).
        temperature (float): softmax temperature (0.07).
        tile_size (int): tile side of the windowed computation.
        max_chunk_elements (int): bound on affinity elements held at once.
    """

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

    def seed(self, maps: Tensor, stride: int, grid: tuple[int, int]) -> Tensor:
        return area_seed(maps, stride, grid)

    def prepare_features(self, feat: Tensor) -> Tensor:
        return l2_normalise(feat)

    def mask_scores(self, labels: Tensor) -> Tensor:
        return minmax_normalise(labels)

    def __call__(self, features: Callable[[int], Tensor], num_frames: int,
                 seeds: Mapping[int, Tensor]) -> Iterator[tuple[int, Tensor]]:
        starts = _check_seeds(seeds, num_frames)
        anchors: list[tuple[Tensor, Tensor]] = [(features(starts[0]), seeds[starts[0]])]
        recent: deque[tuple[Tensor, Tensor]] = deque(maxlen=self.num_context)
        for t in range(starts[0] + 1, num_frames):
            feat = features(t)
            context = anchors + list(recent)
            prob = topk_restricted_attention(feat, [f for f, _ in context],
                                             [v for _, v in context], self.radius, self.topk,
                                             temperature=self.temperature,
                                             tile_size=self.tile_size,
                                             max_chunk_elements=self.max_chunk_elements)
            yield t, prob
            if t in seeds:
                anchors.append((feat, paste_labels(prob, seeds[t].to(prob.dtype))))
            elif self.num_context > 0:
                recent.append((feat, prob))

    def describe(self) -> dict:
        return dict(protocol='B (top-k memory)',
                    context=f'first frame + {self.num_context} preceding',
                    labels='soft', radius=self.radius, temperature=self.temperature,
                    topk=self.topk, feature_norm='L2', seed='cell-centred area average',
                    output='per-channel min-max, argmax',
                    late_objects='mask pasted at its first frame, which stays in the context')


@TASK_UTILS.register_module()
class TimeCyclePropagation(PropagationProtocol):
    """TimeCycle's own protocol: the first frame and N preceding frames, top-k per frame.

    For every query cell and every context frame separately, the softmax over
    all positions of that frame (no spatial window) of the unit-length dot
    products times ``scale`` is taken, and its ``topk`` largest probabilities
    (not renormalised) weight the frame's labels; the results are averaged
    over the context frames. Labels are soft and fed back min-max normalised
    per channel, and masks are read out from the same normalised maps.

    The video is front-padded with copies of the first frame, as the
    original: at the start the N preceding frames are N copies of it with
    the seed, and the first frame is first predicted from them; that
    prediction joins the context as the most recent frame before frame 1.
    Every frame where objects start stays in the context, as the first does.

    Seeds average the pixels around each cell centre. The original resizes
    frames to a square of 320 (also 400 and 480; ``input_size`` of the
    propagator) and reads out at that square; here masks are read out at
    every pixel of the original frame.

    Args:
        num_context (int): preceding frames besides the first (7).
        topk (int): probabilities kept per query and context frame (5).
        scale (float): multiplies the dot products (sqrt(512)).
        pad_with_first (bool): front-pad with copies of the first frame (the
            original); False starts with the first frame alone.
        max_chunk_elements (int): bound on affinity elements held at once.
    """

    def __init__(self, num_context: int = 7, topk: int = 5, scale: float = math.sqrt(512),
                 pad_with_first: bool = True, max_chunk_elements: int = 1 << 24) -> None:
        if num_context < 0 or topk < 1 or scale <= 0 or max_chunk_elements < 1:
            raise ConfigError(f'need num_context >= 0, topk >= 1, scale > 0 and '
                              f'max_chunk_elements >= 1, got {num_context}, {topk}, {scale}, '
                              f'{max_chunk_elements}')
        self.num_context = num_context
        self.topk = topk
        self.scale = scale
        self.pad_with_first = pad_with_first
        self.max_chunk_elements = max_chunk_elements

    def seed(self, maps: Tensor, stride: int, grid: tuple[int, int]) -> Tensor:
        return area_seed(maps, stride, grid)

    def prepare_features(self, feat: Tensor) -> Tensor:
        return l2_normalise(feat)

    def mask_scores(self, labels: Tensor) -> Tensor:
        return minmax_normalise(labels)

    def attend(self, query: Tensor, context: list[tuple[Tensor, Tensor]]) -> Tensor:
        """(1, C, h, w) query -> (1, L, h, w): the mean over context frames of top-k copies."""
        _, C, h, w = query.shape
        q = query.reshape(C, h * w).t()  # (Q, C)
        num_labels = context[0][1].shape[1]
        dtype = full_precision(context[0][1].dtype)  # label maps and softmax in full precision
        out = torch.zeros(h * w, num_labels, dtype=dtype, device=query.device)
        for feat, labels in context:
            keys = feat.reshape(C, -1)  # (C, P)
            values = labels.reshape(num_labels, -1).t().to(dtype)  # (P, L)
            k = min(self.topk, keys.shape[1])
            rows = max(1, self.max_chunk_elements // keys.shape[1])
            for i in range(0, h * w, rows):
                prob = (q[i:i + rows] @ keys).to(dtype).mul_(self.scale).softmax(dim=1)
                top, idx = prob.topk(k, dim=1)  # (rows, k)
                out[i:i + rows] += (top.unsqueeze(-1) * values[idx]).sum(1)
        return (out / len(context)).t().reshape(1, num_labels, h, w)

    def __call__(self, features: Callable[[int], Tensor], num_frames: int,
                 seeds: Mapping[int, Tensor]) -> Iterator[tuple[int, Tensor]]:
        starts = _check_seeds(seeds, num_frames)
        first = (features(starts[0]), seeds[starts[0]])
        anchors = [first]
        recent: deque[tuple[Tensor, Tensor]] = deque(maxlen=self.num_context)
        if self.pad_with_first and self.num_context > 0:
            recent.extend([first] * self.num_context)
            recent.append((first[0], minmax_normalise(self.attend(first[0], anchors
                                                                  + list(recent)))))
        for t in range(starts[0] + 1, num_frames):
            feat = features(t)
            prob = self.attend(feat, anchors + list(recent))
            yield t, prob
            labels = minmax_normalise(prob)
            if t in seeds:
                anchors.append((feat, paste_labels(labels, seeds[t].to(labels.dtype))))
            elif self.num_context > 0:
                recent.append((feat, labels))

    def describe(self) -> dict:
        return dict(protocol='TimeCycle', context=f'first frame + {self.num_context} preceding'
                    + (' (front-padded with copies of the first frame)'
                       if self.pad_with_first else ''),
                    labels='soft, fed back min-max normalised', radius=None,
                    scale=self.scale, topk=self.topk,
                    topk_over='each context frame, then the mean over the frames',
                    feature_norm='L2', seed='cell-centred area average',
                    output='per-channel min-max, argmax',
                    late_objects='mask pasted at its first frame, which stays in the context')
