"""Propagation protocols: the whole recipe of copying labels from frame to frame.

A protocol owns every step that differs between the recipes:

- :meth:`~PropagationProtocol.seed`: how label maps of a labelled frame are
  taken onto the feature grid;
- :meth:`~PropagationProtocol.prepare_features`: how features are compared
  (raw or unit-length);
- :meth:`~PropagationProtocol.start`: the :class:`LabelMemory` of a video, which
  earlier frames serve as context and which labels they carry (a policy over the
  features it is given: :func:`run_protocol` or the propagator feeds it frame by
  frame; it never asks for a frame);
- :meth:`~PropagationProtocol.mask_scores`: how propagated label maps are
  turned into the scores a mask is read out from;
- :meth:`~PropagationProtocol.describe`: every one of its settings.

Labels may start at any frame (objects that appear mid-video). A memory starts
from the complete label map of the first labelled frame (background included);
a later frame's seed (:meth:`LabelMemory.add`) holds only the channels of the
objects that start at that frame (its background channel is zero). Such a seed
is *pasted* into the frame's propagated labels (over the predictions of earlier
objects) and the pasted map is what later frames copy from.

Shape shorthand: C feature channels, L label channels, h, w feature grid.
"""
from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections import deque
from dataclasses import dataclass
from typing import Iterable, Iterator, Mapping

import torch.nn.functional as F
from torch import Tensor

from corrflow.models.layers.local_attention import (global_attention, per_frame_topk_attention,
                                                    restricted_attention)
from corrflow.models.layers.topk_memory import TILE, KeyMemory, topk_memory_attention
from corrflow.models.layers.propagation import (area_seed, bilinear_resize, minmax_normalise,
                                                nearest_resize, positive_minmax,
                                                resample_to_image, strided_seed,
                                                truncated_id_seed)
from corrflow.registry import TASK_UTILS
from corrflow.errors import ConfigError

__all__ = ['PropagationProtocol', 'LabelMemory', 'run_protocol', 'SoftMemoryProtocol',
           'CorrFlowPropagation',
           'TopKMemoryPropagation', 'TimeCyclePropagation', 'TopKRules', 'TOPK_PRESETS',
           'CORRFLOW_PRESETS',
           'l2_normalise', 'paste_labels']


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


class LabelMemory(ABC):
    """What a protocol keeps of one video: the frames whose labels later frames copy.

    A protocol is a policy over the features it is given: the propagator computes each
    frame's features, asks the memory for the frame's labels (:meth:`propagate`), reads
    them out, then hands the frame back (:meth:`add`). The memory never asks for frames.
    """

    @abstractmethod
    def propagate(self, feat: Tensor) -> Tensor:
        """(1, C, h, w) prepared features of the next frame -> its (1, L, h, w) labels."""

    @abstractmethod
    def add(self, feat: Tensor, labels: Tensor, seed: Tensor | None = None) -> None:
        """The frame just propagated joins the memory, as the protocol keeps frames.

        Args:
            feat (Tensor): its features, as given to :meth:`propagate`.
            labels (Tensor): the labels :meth:`propagate` returned for it.
            seed (Tensor | None): (1, L, h, w) maps of the objects that start at this
                frame (background channel zero), pasted over its labels.
        """


def run_protocol(protocol: PropagationProtocol, features: Iterable[Tensor],
                 seeds: Mapping[int, Tensor]) -> Iterator[tuple[int, Tensor]]:
    """Propagate through frames ``first, first + 1, ...``: yield ``(t, labels)`` for every
    frame after the first seeded one (the labels of a seeded frame before pasting).

    Args:
        protocol (PropagationProtocol): the policy.
        features (Iterable[Tensor]): prepared features of frames ``first, first + 1, ...``
            (``first`` = the smallest seeded frame), computed as they are consumed.
        seeds (Mapping[int, Tensor]): frame -> its seed maps on the grid.
    """
    starts = sorted(seeds)
    if not starts or starts[0] < 0:
        raise ValueError(f'seed frames {starts} must be >= 0')
    frames = iter(features)
    memory = protocol.start(next(frames), seeds[starts[0]])
    for t, feat in enumerate(frames, start=starts[0] + 1):
        labels = memory.propagate(feat)
        yield t, labels
        seed = seeds.get(t)
        memory.add(feat, labels, None if seed is None else seed.to(labels.dtype))


class PropagationProtocol(ABC):
    """Base class of the propagation protocols (see the module doc).

    Subclasses implement :meth:`start` (returning their :class:`LabelMemory`) and
    :meth:`describe`, and choose :meth:`seed`, :meth:`prepare_features` and
    :meth:`mask_scores`.
    """

    def seed(self, maps: Tensor, stride: int, grid: tuple[int, int]) -> Tensor:
        """Label maps at the processed (padded) size (1, L, Hq, Wq) -> the grid (1, L, h, w).

        Default: the pixel each cell is centred on.
        """
        return strided_seed(maps, stride, grid)

    def seed_from_image(self, maps: Tensor, proc: tuple[int, int], padded: tuple[int, int],
                        stride: int, grid: tuple[int, int]) -> Tensor:
        """Original-size label maps (1, L, H, W) -> the seed on the grid (1, L, h, w).

        Default: bilinear (anti-aliased when shrinking) to the processed size
        ``proc``, edge-padded to ``padded``, then :meth:`seed`.
        """
        if tuple(maps.shape[-2:]) != tuple(proc):
            maps = F.interpolate(maps, size=proc, mode='bilinear', align_corners=False,
                                 antialias=proc[0] < maps.shape[-2])
        if tuple(padded) != tuple(proc):
            maps = F.pad(maps, (0, padded[1] - proc[1], 0, padded[0] - proc[0]), mode='replicate')
        return self.seed(maps, stride, grid)

    def keypoint_protocol(self) -> PropagationProtocol:
        """The protocol that propagates keypoint heatmaps (default: this one).

        Keypoints are seeded (:meth:`keypoint_seed`) and read out (by the
        propagator) with the geometrically centred rules under every preset:
        the presets are the references' rules for masks.
        """
        return self

    def keypoint_seed(self, heatmaps: Tensor, proc: tuple[int, int], padded: tuple[int, int],
                      stride: int, grid: tuple[int, int]) -> Tensor:
        """Original-size keypoint heatmaps (1, J, H, W) -> the seed on the grid
        (resized, padded and seeded as :meth:`seed` does, whatever the preset)."""
        return PropagationProtocol.seed_from_image(self, heatmaps, proc, padded, stride, grid)

    def prepare_features(self, feat: Tensor) -> Tensor:
        """Features as the protocol compares them. Default: as the encoder gives them."""
        return feat

    def mask_scores(self, labels: Tensor) -> Tensor:
        """Propagated label maps -> the per-channel scores a mask is read out from
        (bilinear upsampling, then arg-max). Default: the maps themselves."""
        return labels

    def read_out(self, labels: Tensor, stride: int, proc: tuple[int, int],
                 size: tuple[int, int]) -> Tensor:
        """Propagated label maps (1, L, h, w) -> scores (1, L, H, W) at the original pixels,
        whose per-pixel arg-max is the mask.

        Default: :meth:`mask_scores`, read bilinearly at every pixel with cell
        ``i`` centred on processed pixel ``s * i``.
        """
        return resample_to_image(self.mask_scores(labels), stride, proc, size)

    @abstractmethod
    def start(self, feat: Tensor, seed: Tensor) -> LabelMemory:
        """The memory of a video, from its first labelled frame.

        Args:
            feat (Tensor): (1, C, h, w) features of that frame, prepared
                (:meth:`prepare_features`).
            seed (Tensor): (1, L, h, w) its label maps on the grid.
        """

    @abstractmethod
    def describe(self) -> dict:
        """Every setting of the protocol, recorded beside the numbers it produced."""


#: Named rule sets of protocol A: ``'corrflow'`` equals zlai0/CorrFlow@f6bd381
#: ``test.py`` (with ``models/colorizer.py``), ``'centred'`` is corrflow's own.
CORRFLOW_PRESETS: dict[str, dict] = {
    'corrflow': dict(
        reference='zlai0/CorrFlow@f6bd381: test.py, models/colorizer.py, '
                  'functional/feeder/dataset/DavisLoader.py',
        seed='label ids bilinearly downscaled by 1/s as a float image, truncated, one-hot',
        labels='hard: the previous arg-max at the resolution of grid x s, taken to the grid '
               'as the seed is',
        output='bilinear to grid x s, argmax (OpenCV nearest to the original size where the '
               'processed size differs)'),
    'centred': dict(
        reference='corrflow: geometrically centred seed and read-out (no reference code)',
        seed='cell-centre pixel', labels='hard: arg-max on the grid, one-hot',
        output='bilinear at every pixel (cell i centred on pixel s*i), argmax'),
}


@TASK_UTILS.register_module()
class CorrFlowPropagation(PropagationProtocol):
    """Protocol A, as in CorrFlow: copy from the previous frame only.

    The first labelled frame gives its labels; every later frame copies the
    hard prediction of the frame before it, with the masks of objects that
    start there pasted in. Raw dot products, softmax over the ``(2R+1)^2``
    window (out-of-image keys excluded), no temperature (the paper's setting,
    ``temperature=1``).

    ``preset`` chooses how labels reach the grid and come back:

    - ``'corrflow'`` (default), CorrFlow's test code: the label-id map is
      bilinearly downscaled by ``1/s`` as a float image and truncated
      (:func:`truncated_id_seed`); a prediction is upsampled bilinearly to
      ``grid x s`` pixels, its arg-max is the mask and, taken to the grid the
      same way, the next frame's reference labels. Ids are taken to be the
      label channels (contiguous ids, as DAVIS's).
    - ``'centred'``: seeds take the pixel each cell is centred on, the next
      reference is the arg-max on the grid, and masks are read bilinearly at
      every pixel with cell ``i`` centred on pixel ``s * i``.

    Args:
        radius (int | None): window radius R in feature cells (6 at stride 4); ``None``
            attends to the whole previous frame (the test of a model trained with global
            attention).
        temperature (float): affinities are divided by it before the softmax
            (1 in CorrFlow; a baseline of unit-length features needs a small one).
        preset (str): ``'corrflow'`` or ``'centred'`` (:data:`CORRFLOW_PRESETS`).
        stride (int): the encoder's stride, which the ``'corrflow'`` preset's
            up- and downsampling use (checked against the propagator's).
        tile_size (int): tile side of the windowed computation.
    """

    def __init__(self, radius: int | None = 6, temperature: float = 1.0,
                 preset: str = 'corrflow', stride: int = 4, tile_size: int = 8) -> None:
        if radius is not None and (not isinstance(radius, int) or radius < 0):
            raise ConfigError(f'radius must be an integer >= 0, or None for the whole frame, '
                              f'got {radius!r}')
        if temperature <= 0:
            raise ConfigError(f'temperature must be > 0, got {temperature}')
        if preset not in CORRFLOW_PRESETS:
            raise ConfigError(f'CorrFlowPropagation: preset must be one of '
                              f'{sorted(CORRFLOW_PRESETS)}, got {preset!r}')
        self.radius = radius
        self.temperature = temperature
        self.preset = preset
        self.stride = stride
        self.tile_size = tile_size

    def _check_stride(self, stride: int) -> None:
        if self.preset == 'corrflow' and stride != self.stride:
            raise ConfigError(f'CorrFlowPropagation(stride={self.stride}) is given features '
                              f'of stride {stride}; set model.propagation.stride={stride}')

    def seed_from_image(self, maps: Tensor, proc: tuple[int, int], padded: tuple[int, int],
                        stride: int, grid: tuple[int, int]) -> Tensor:
        if self.preset != 'corrflow':
            return super().seed_from_image(maps, proc, padded, stride, grid)
        self._check_stride(stride)
        ids = maps.argmax(1, keepdim=True).float()  # (1, 1, H, W); unlabelled pixels -> 0
        if tuple(ids.shape[-2:]) != tuple(proc):
            ids = nearest_resize(ids, proc, 'opencv')
        full = (grid[0] * stride, grid[1] * stride)
        ids = F.pad(ids, (0, full[1] - proc[1], 0, full[0] - proc[0]), mode='replicate')
        seed = truncated_id_seed(ids[0, 0].long(), stride, maps.shape[1])
        # a later object's seed carries only its new objects, with a zero background
        return seed * (maps.sum((-2, -1), keepdim=True) > 0).to(seed.dtype)

    def seed(self, maps: Tensor, stride: int, grid: tuple[int, int]) -> Tensor:
        return strided_seed(maps, stride, grid)

    def keypoint_protocol(self) -> PropagationProtocol:
        """CorrFlow's test code copies label ids, which keypoint heatmaps are not: they are
        propagated with the ``'centred'`` rules (the arg-max on the grid as the next
        reference)."""
        if self.preset != 'corrflow':
            return self
        return CorrFlowPropagation(radius=self.radius, temperature=self.temperature,
                                   preset='centred', stride=self.stride,
                                   tile_size=self.tile_size)

    def _upsampled(self, labels: Tensor) -> Tensor:
        h, w = labels.shape[-2:]
        return bilinear_resize(labels, (h * self.stride, w * self.stride))

    def read_out(self, labels: Tensor, stride: int, proc: tuple[int, int],
                 size: tuple[int, int]) -> Tensor:
        if self.preset != 'corrflow':
            return super().read_out(labels, stride, proc, size)
        self._check_stride(stride)
        up = self._upsampled(labels)[..., :proc[0], :proc[1]]  # the padding is no image
        return up if tuple(proc) == tuple(size) else nearest_resize(up, size, 'opencv')

    def start(self, feat: Tensor, seed: Tensor) -> LabelMemory:
        return _PreviousFrame(self, feat, seed)

    def describe(self) -> dict:
        return dict(protocol='A (CorrFlow)', preset=self.preset, context='previous frame',
                    radius='whole frame' if self.radius is None else self.radius,
                    temperature=self.temperature, topk=None,
                    feature_norm=None, **CORRFLOW_PRESETS[self.preset],
                    late_objects='mask pasted at its first frame, copied on from there')


class _PreviousFrame(LabelMemory):
    """Protocol A's memory: the previous frame and its hard labels."""

    def __init__(self, protocol: CorrFlowPropagation, feat: Tensor, seed: Tensor) -> None:
        self.p = protocol
        self.feat, self.labels = feat, seed

    def propagate(self, feat: Tensor) -> Tensor:
        p = self.p
        if p.radius is None:
            return global_attention(feat, self.feat, self.labels, p.temperature)
        return restricted_attention(feat, self.feat, self.labels, p.radius,
                                    temperature=p.temperature, tile_size=p.tile_size)

    def add(self, feat: Tensor, labels: Tensor, seed: Tensor | None = None) -> None:
        p, num_labels = self.p, self.labels.shape[1]
        if p.preset == 'corrflow':
            ids = p._upsampled(labels).argmax(1)[0]  # (h*s, w*s)
            hard = truncated_id_seed(ids, p.stride, num_labels).to(labels.dtype)
        else:
            hard = F.one_hot(labels.argmax(1), num_labels).permute(0, 3, 1, 2).to(labels.dtype)
        self.labels = hard if seed is None else paste_labels(hard, seed)
        self.feat = feat


@dataclass(frozen=True)
class TopKRules:
    """The rules that tell the top-k memory protocols of the literature apart.

    Attributes:
        reference (str): the code the rules are read from (repository @ commit: file).
        first_frame (str): ``'windowed'`` (the first frame's keys lie in the
            query's window, like every other frame's) or ``'whole'`` (all its
            positions are candidates).
        context_start (str): what fills the preceding-frame slots at the start:
            ``'nothing'``; ``'first_frame'`` (the first frame is also the first
            preceding frame, so it is a key twice until N frames have passed);
            ``'first_frame_copies'`` (the video is front-padded with N copies of
            the first frame and its labels).
        window (str): ``'square'`` (``|dy|, |dx| <= R``) or ``'circle'``
            (``dy^2 + dx^2 < R^2``).
        seed (str): how the first mask reaches the feature grid: ``'area'``
            (mean of the pixels around each cell centre ``s * i``, at the
            processed size); ``'bilinear'`` (the one-hot mask at the processed
            size, bilinearly resized to the grid: cell ``i`` reads pixel
            ``(i + 0.5) * H / h - 0.5``; taken to the processed size by nearest
            neighbour first if it differs); ``'nearest'`` (the original mask,
            resized to the grid by PIL's nearest neighbour, then one-hot).
        read_out (str): how a mask is read from the propagated label maps:
            ``'centred'`` (per-channel min-max on the grid, then bilinear at every
            original pixel with cell ``i`` centred on processed pixel ``s * i``);
            ``'crw'`` (bilinear to the processed size, then nearest neighbour
            (OpenCV's) to the original size; no min-max); ``'vfs'`` (bilinear
            straight to the original size, then per-channel min-max
            ``(x - min) / (max - min + 1e-12)`` for channels whose maximum is
            positive); ``'dino'`` (bilinear up by the stride, per-channel min-max
            for channels whose maximum is positive, then PIL's nearest neighbour
            to the original size). The arg-max of the result is the mask.
        ties (str): ``'k'`` (exactly k keys) or ``'all'`` (every key whose
            affinity equals the k-th largest is kept as well, as a threshold at
            the k-th value does).
    """

    reference: str
    first_frame: str
    context_start: str
    window: str
    seed: str
    read_out: str
    ties: str

    def describe(self) -> dict:
        """The rules in words, for the record of every number."""
        return dict(
            reference=self.reference,
            first_frame=dict(windowed='windowed like the other frames',
                             whole='all positions (no window)')[self.first_frame],
            context_start=dict(
                nothing='the first frame alone',
                first_frame='the first frame also counts as the first preceding frame',
                first_frame_copies='video front-padded with N copies of the first frame',
            )[self.context_start],
            window=dict(square='square, |dy|, |dx| <= R',
                        circle='disc, dy^2 + dx^2 < R^2')[self.window],
            seed=dict(area='cell-centred area average',
                      bilinear='bilinear resize of the one-hot mask to the grid',
                      nearest="PIL nearest resize of the original mask to the grid, one-hot",
                      )[self.seed],
            output=dict(
                centred='per-channel min-max on the grid, bilinear at every pixel '
                        '(cell i centred on pixel s*i), argmax',
                crw='bilinear to the processed size, argmax, nearest to the original size',
                vfs='bilinear to the original size, per-channel min-max (positive channels), '
                    'argmax',
                dino='bilinear up by the stride, per-channel min-max (positive channels), '
                     'argmax, PIL nearest to the original size')[self.read_out],
            ties=dict(k='exactly k', all='every key tied with the k-th kept')[self.ties])


#: Named rule sets of protocol B, each equal to its reference on identical
#: features (see docs/en/advanced_guides/protocols.md for the parity fixtures).
TOPK_PRESETS: dict[str, TopKRules] = {
    'crw': TopKRules(
        reference='ajabri/videowalk@047f3f4: code/test.py, code/utils/test_utils.py, '
                  'code/data/vos.py', first_frame='whole', context_start='first_frame_copies',
        window='circle', seed='bilinear', read_out='crw', ties='k'),
    'vfs': TopKRules(
        reference='xvjiarui/VFS@8e055cc: mmaction/models/trackers/vanilla_tracker.py, '
                  'mmaction/models/common/local_attention.py', first_frame='windowed',
        context_start='first_frame', window='circle', seed='nearest', read_out='vfs',
        ties='k'),
    'spa_then_temp': TopKRules(
        reference="qianduoduolr/Spa-then-Temp@4c94362: vcl/models/trackers/vanilla_tracker.py "
                  "(VFS's code with mode='square' in configs/test/res*_d*.py)",
        first_frame='windowed', context_start='first_frame', window='square', seed='nearest',
        read_out='vfs', ties='k'),
    'dino': TopKRules(
        reference='facebookresearch/dino@7c446df: eval_video_segmentation.py',
        first_frame='windowed', context_start='nothing', window='square', seed='nearest',
        read_out='dino', ties='all'),
    'centred': TopKRules(
        reference='corrflow: geometrically centred seed and read-out (no reference code)',
        first_frame='windowed', context_start='nothing', window='square', seed='area',
        read_out='centred', ties='k'),
}


class SoftMemoryProtocol(PropagationProtocol):
    """What the soft-label memory protocols share (top-k memory, TimeCycle's): the
    area-averaged seed on the feature grid, unit-length features, and per-channel min-max
    label maps."""

    def seed(self, maps: Tensor, stride: int, grid: tuple[int, int]) -> Tensor:
        return area_seed(maps, stride, grid)

    def prepare_features(self, feat: Tensor) -> Tensor:
        return l2_normalise(feat)

    def mask_scores(self, labels: Tensor) -> Tensor:
        return minmax_normalise(labels)


@TASK_UTILS.register_module()
class TopKMemoryPropagation(SoftMemoryProtocol):
    """Protocol B (CRW and its successors): the first frame plus N preceding frames.

    Features are L2-normalised; affinities are divided by ``temperature``,
    restricted to a window of radius R in the context frames, and only the
    ``topk`` largest over all context keys are soft-maxed. Context values are
    the soft label maps predicted earlier (the seed for the first frame).

    The codebases of the literature differ in six rules (which frames the
    window applies to, how the context starts, the window's shape, the seed,
    the read-out, ties at the k-th affinity); ``preset`` names one rule set,
    equal to its reference on identical features (see :data:`TOPK_PRESETS`):
    ``'crw'`` (CRW, the default), ``'vfs'``, ``'spa_then_temp'``, ``'dino'`` and
    ``'centred'`` (corrflow's geometrically centred seed and read-out).

    Every frame where objects start (the first labelled frame and each frame
    where a later object's mask is pasted in) stays in the context for the
    rest of the video, as the first frame does; the ``num_context`` preceding
    frames are counted among the other frames.

    Args:
        radius (int): neighbourhood radius in feature cells.
        num_context (int): preceding frames kept besides the seeded frames (20).
        topk (int): affinities kept per query (10).
        temperature (float): softmax temperature (0.07).
        preset (str): the rule set, a key of :data:`TOPK_PRESETS`.
        tile_size (tuple[int, int]): query tile (rows, columns) of the windowed products
            (:mod:`corrflow.models.layers.topk_memory`); the result does not depend on it.
        max_chunk_elements (int): bound on the affinities of a whole frame held at once.
    """

    def __init__(self, radius: int = 12, num_context: int = 20, topk: int = 10,
                 temperature: float = 0.07, preset: str = 'crw',
                 tile_size: tuple[int, int] = TILE, max_chunk_elements: int = 1 << 25) -> None:
        if num_context < 0 or topk < 1 or temperature <= 0:
            raise ConfigError(f'need num_context >= 0, topk >= 1 and temperature > 0, got '
                              f'{num_context}, {topk}, {temperature}')
        if preset not in TOPK_PRESETS:
            raise ConfigError(f'TopKMemoryPropagation: preset must be one of '
                              f'{sorted(TOPK_PRESETS)}, got {preset!r}')
        self.radius = radius
        self.num_context = num_context
        self.topk = topk
        self.temperature = temperature
        self.preset = preset
        self.rules = TOPK_PRESETS[preset]
        if isinstance(tile_size, int) or len(tile_size) != 2 or min(tile_size) < 1:
            raise ConfigError(f'TopKMemoryPropagation: tile_size must be (rows, columns), both '
                              f'positive, got {tile_size!r}')
        self.tile_size = tuple(tile_size)
        self.max_chunk_elements = max_chunk_elements

    def seed_from_image(self, maps: Tensor, proc: tuple[int, int], padded: tuple[int, int],
                        stride: int, grid: tuple[int, int]) -> Tensor:
        if self.rules.seed == 'nearest':
            return nearest_resize(maps, grid, 'pillow')
        if self.rules.seed == 'bilinear':
            if tuple(maps.shape[-2:]) != tuple(proc):
                maps = nearest_resize(maps, proc, 'opencv')
            return bilinear_resize(maps, grid)
        return super().seed_from_image(maps, proc, padded, stride, grid)

    def read_out(self, labels: Tensor, stride: int, proc: tuple[int, int],
                 size: tuple[int, int]) -> Tensor:
        rule = self.rules.read_out
        if rule == 'crw':
            return nearest_resize(bilinear_resize(labels, proc), size, 'opencv')
        if rule == 'vfs':
            return positive_minmax(bilinear_resize(labels, size), eps=1e-12)
        if rule == 'dino':
            up = F.interpolate(labels, scale_factor=stride, mode='bilinear', align_corners=False,
                               recompute_scale_factor=False)
            return nearest_resize(positive_minmax(up), size, 'pillow')
        return super().read_out(labels, stride, proc, size)

    def start(self, feat: Tensor, seed: Tensor) -> LabelMemory:
        return _TopKMemory(self, feat, seed)

    def describe(self) -> dict:
        return dict(protocol='B (top-k memory)', preset=self.preset,
                    context=f'first frame + {self.num_context} preceding',
                    labels='soft', radius=self.radius, temperature=self.temperature,
                    topk=self.topk, feature_norm='L2', **self.rules.describe(),
                    late_objects='mask pasted at its first frame, which stays in the context')


class _AnchoredMemory(LabelMemory):
    """The memory of the soft-label protocols: the frames where objects start (kept for the
    whole video, as the first frame is) and the N most recent frames, as (key, labels)."""

    def __init__(self, first: tuple, num_context: int) -> None:
        self.anchors = [first]
        self.recent: deque[tuple] = deque(maxlen=num_context)
        self.num_context = num_context

    def context(self) -> list[tuple]:
        return self.anchors + list(self.recent)

    def _entry(self, feat: Tensor, labels: Tensor) -> tuple:
        """What the memory keeps of a frame (default: its features and labels)."""
        return feat, labels

    def add(self, feat: Tensor, labels: Tensor, seed: Tensor | None = None) -> None:
        if seed is not None:
            self.anchors.append(self._entry(feat, paste_labels(labels, seed)))
        elif self.num_context > 0:
            self.recent.append(self._entry(feat, labels))


class _TopKMemory(_AnchoredMemory):
    """Protocol B's memory, each frame's keys laid out once (:class:`KeyMemory`)."""

    def __init__(self, protocol: TopKMemoryPropagation, feat: Tensor, seed: Tensor) -> None:
        self.p = protocol
        self.keys = KeyMemory(protocol.radius, protocol.tile_size)
        first = self._entry(feat, seed)
        super().__init__(first, protocol.num_context)
        if protocol.num_context and protocol.rules.context_start == 'first_frame':
            self.recent.append(first)
        elif protocol.num_context and protocol.rules.context_start == 'first_frame_copies':
            self.recent.extend([first] * protocol.num_context)

    def _entry(self, feat: Tensor, labels: Tensor) -> tuple:
        return self.keys.add(feat), labels

    def propagate(self, feat: Tensor) -> Tensor:
        p = self.p
        context = self.context()
        restricted = ([p.rules.first_frame != 'whole'] * len(self.anchors)
                      + [True] * len(self.recent))
        return topk_memory_attention(feat, [k for k, _ in context], [v for _, v in context],
                                     p.radius, p.topk, temperature=p.temperature,
                                     restricted=restricted, circle=p.rules.window == 'circle',
                                     keep_ties=p.rules.ties == 'all', tile_size=p.tile_size,
                                     max_chunk_elements=p.max_chunk_elements)


@TASK_UTILS.register_module()
class TimeCyclePropagation(SoftMemoryProtocol):
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

    The original resizes frames to a square of 320 (also 400 and 480;
    ``input_size`` of the propagator). ``preset`` chooses the seed and read-out:

    - ``'timecycle'`` (default), TimeCycle's test code: the first mask is
      taken to the processed size by PIL's nearest neighbour, one-hot encoded
      and bilinearly resized to the grid (cell ``i`` reads pixel
      ``(i + 0.5) * H / h - 0.5``); the min-max normalised maps are resized
      bilinearly to the processed size, arg-maxed there and taken to the
      original size by OpenCV's nearest neighbour;
    - ``'centred'``: seeds average the pixels around each cell centre and masks
      are read bilinearly at every original pixel (cell ``i`` centred on
      processed pixel ``s * i``).

    Args:
        num_context (int): preceding frames besides the first (7).
        topk (int): probabilities kept per query and context frame (5).
        scale (float): multiplies the dot products (sqrt(512)).
        pad_with_first (bool): front-pad with copies of the first frame (the
            original); False starts with the first frame alone.
        preset (str): ``'timecycle'`` or ``'centred'`` (see above).
        max_chunk_elements (int): bound on affinity elements held at once.
    """

    def __init__(self, num_context: int = 7, topk: int = 5, scale: float = math.sqrt(512),
                 pad_with_first: bool = True, preset: str = 'timecycle',
                 max_chunk_elements: int = 1 << 24) -> None:
        if preset not in ('timecycle', 'centred'):
            raise ConfigError(f"TimeCyclePropagation: preset must be 'timecycle' or 'centred', "
                              f'got {preset!r}')
        self.preset = preset
        if num_context < 0 or topk < 1 or scale <= 0 or max_chunk_elements < 1:
            raise ConfigError(f'need num_context >= 0, topk >= 1, scale > 0 and '
                              f'max_chunk_elements >= 1, got {num_context}, {topk}, {scale}, '
                              f'{max_chunk_elements}')
        self.num_context = num_context
        self.topk = topk
        self.scale = scale
        self.pad_with_first = pad_with_first
        self.max_chunk_elements = max_chunk_elements

    def seed_from_image(self, maps: Tensor, proc: tuple[int, int], padded: tuple[int, int],
                        stride: int, grid: tuple[int, int]) -> Tensor:
        if self.preset != 'timecycle':
            return super().seed_from_image(maps, proc, padded, stride, grid)
        if tuple(maps.shape[-2:]) != tuple(proc):
            maps = nearest_resize(maps, proc, 'pillow')
        return bilinear_resize(maps, grid)

    def read_out(self, labels: Tensor, stride: int, proc: tuple[int, int],
                 size: tuple[int, int]) -> Tensor:
        if self.preset != 'timecycle':
            return super().read_out(labels, stride, proc, size)
        return nearest_resize(bilinear_resize(self.mask_scores(labels), proc), size, 'opencv')

    def attend(self, query: Tensor, context: list[tuple[Tensor, Tensor]]) -> Tensor:
        """(1, C, h, w) query -> (1, L, h, w): the mean over context frames of top-k copies."""
        return per_frame_topk_attention(query, context, self.topk, self.scale,
                                        self.max_chunk_elements)

    def start(self, feat: Tensor, seed: Tensor) -> LabelMemory:
        return _PerFrameTopKMemory(self, feat, seed)

    def describe(self) -> dict:
        timecycle = self.preset == 'timecycle'
        return dict(protocol='TimeCycle', preset=self.preset,
                    reference=('xiaolonw/TimeCycle@16d33ac: test_davis.py, '
                               'models/videos/model_test.py, preprocess/convert_davis.py'
                               if timecycle else 'corrflow: geometrically centred seed and '
                               'read-out (no reference code)'),
                    context=f'first frame + {self.num_context} preceding'
                    + (' (front-padded with copies of the first frame)'
                       if self.pad_with_first else ''),
                    labels='soft, fed back min-max normalised', radius=None,
                    scale=self.scale, topk=self.topk,
                    topk_over='each context frame, then the mean over the frames',
                    feature_norm='L2',
                    seed=('PIL nearest to the processed size, one-hot, bilinear resize to the '
                          'grid' if timecycle else 'cell-centred area average'),
                    output=('per-channel min-max, bilinear to the processed size, argmax, '
                            'nearest to the original size' if timecycle else
                            'per-channel min-max, bilinear at every pixel (cell i centred on '
                            'pixel s*i), argmax'),
                    late_objects='mask pasted at its first frame, which stays in the context')


class _PerFrameTopKMemory(_AnchoredMemory):
    """TimeCycle's memory: min-max normalised labels; front-padded with copies of the first
    frame."""

    def __init__(self, protocol: TimeCyclePropagation, feat: Tensor, seed: Tensor) -> None:
        self.p = protocol
        super().__init__((feat, seed), protocol.num_context)
        if protocol.pad_with_first and protocol.num_context > 0:
            self.recent.extend([(feat, seed)] * protocol.num_context)
            # the first frame predicted from its copies joins as the most recent frame
            self.recent.append((feat, minmax_normalise(self.propagate(feat))))

    def propagate(self, feat: Tensor) -> Tensor:
        return self.p.attend(feat, self.context())

    def add(self, feat: Tensor, labels: Tensor, seed: Tensor | None = None) -> None:
        super().add(feat, minmax_normalise(labels), seed)
