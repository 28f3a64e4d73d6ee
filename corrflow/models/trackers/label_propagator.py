"""Label propagation through videos with any frame encoder."""
from __future__ import annotations

import itertools
import logging
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.logging import print_log
from mmengine.model import BaseModel
from torch import Tensor

from corrflow.models.layers.propagation import (gaussian_heatmaps, grid_to_image_coords,
                                                labels_to_onehot, padded_size, soft_argmax_topk)
from corrflow.models.layers.colour import rgb_to_lab
from corrflow.models.trackers.protocols import PropagationProtocol, run_protocol
from corrflow.registry import MODELS, TASK_UTILS
from corrflow.errors import ConfigError
from corrflow.utils.precision import (Precision, autocast_off, full_precision,
                                      resolve_precision)

__all__ = ['LabelPropagator']


@MODELS.register_module()
class LabelPropagator(BaseModel):
    """Propagate first-frame labels (masks or keypoints) through whole videos.

    Every frame is embedded once by ``backbone`` (+ ``neck``); the
    ``propagation`` protocol decides which earlier frames serve as context and
    how labels are copied. Frames may be resized (``input_size``) and are
    padded on the bottom/right to a multiple of ``size_divisor``; outputs are
    read out at every pixel of the original frame with the exact
    feature-to-pixel alignment, so they have the original size and no shift.

    Each data sample describes one video and holds one of:

    - ``first_mask``: (H, W) integer ids of frame 0 (0 = background, 255 =
      unlabelled);
    - ``start_masks``: ``{t: (H, W) ids}``, the masks of objects whose first
      annotated frame is t (YouTube-VOS). Each object is tracked from its
      first frame on: nothing is predicted for it before, its mask is pasted
      in there (over the predictions of earlier objects) and joins the
      context from which later frames copy. Frames before the first mask are
      all background. Ids need not be contiguous and are kept as they are;
    - ``first_keypoints``: (J, 2) pixel x, y of frame 0.

    :meth:`predict` returns per video ``pred_masks`` ((T, H, W) uint8 of the
    given ids; a frame with a start mask shows it pasted in) or
    ``pred_keypoints`` ((T, J, 2), frame 0 = the given points), plus
    ``video`` and ``propagation`` (:meth:`describe`).

    Args:
        backbone (dict | nn.Module): frame encoder; must expose ``stride``.
        neck (dict | nn.Module | None): projection applied after the backbone.
        propagation (dict): a protocol from ``TASK_UTILS``
            (``CorrFlowPropagation`` or ``TopKMemoryPropagation``).
        input_size (int | Sequence[int] | None): ``None`` keeps the native
            size, an int resizes the short side to it (keeping the aspect
            ratio), ``(W, H)`` resizes to that size.
        size_divisor (int): processed frames are padded to multiples of it
            (a ViT's patch size, a CNN's stride).
        size_fit (str): how a processed size becomes a multiple of
            ``size_divisor``: ``'pad'`` (replicate the bottom and right
            borders; outputs are cropped back) or ``'resize'`` (resize to the
            largest multiples not above it, at least one divisor). Either way
            the masks come back at the original size.
        mean (Sequence[float] | None): per-channel mean subtracted before the
            backbone, in the units of ``colour_space`` (RGB in [0, 1], or Lab)
            (None: no normalisation, as CorrFlow).
        std (Sequence[float] | None): per-channel std (with ``mean``).
        colour_space (str): ``'rgb'`` feeds RGB in [0, 1]; ``'lab'`` converts
            frames to CIE Lab first (OpenCV's float conversion: L in [0, 100],
            a and b about [-127, 127]), for encoders trained on Lab input
            (e.g. Spa-then-Temp's, with mean (50, 0, 0) and std (50, 127, 127)).
        keypoint_sigma (float): std (pixels, original resolution) of the
            Gaussian seeds of keypoints.
        keypoint_topk (int): cells used by the soft-argmax read-out.
        amp (str | bool | None): mixed precision of the backbone and the
            affinity products: ``None`` (fp32), ``'auto'``, ``'bf16'`` or
            ``'fp16'`` (see :func:`corrflow.utils.precision.resolve_precision`);
            label maps, the softmax, the read-out and the metrics stay fp32.
        data_preprocessor (dict | nn.Module | None): moves videos to the device.
        init_cfg (dict | list[dict] | None): mmengine initialisation config.
    """

    def __init__(self, backbone: dict | nn.Module, neck: dict | nn.Module | None = None,
                 propagation: dict | None = None, input_size: int | Sequence[int] | None = None,
                 size_divisor: int = 8, mean: Sequence[float] | None = None,
                 std: Sequence[float] | None = None, keypoint_sigma: float = 4.0,
                 keypoint_topk: int = 5, amp: str | bool | None = None,
                 colour_space: str = 'rgb', size_fit: str = 'pad',
                 data_preprocessor: dict | nn.Module | None = None,
                 init_cfg: dict | list[dict] | None = None) -> None:
        if data_preprocessor is None:
            data_preprocessor = dict(type='VideoDataPreprocessor')
        if isinstance(data_preprocessor, dict):
            data_preprocessor = MODELS.build(data_preprocessor)
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.backbone = backbone if isinstance(backbone, nn.Module) else MODELS.build(backbone)
        self.neck = neck if neck is None or isinstance(neck, nn.Module) else MODELS.build(neck)
        self.protocol = TASK_UTILS.build(propagation or dict(type='CorrFlowPropagation'))
        if not isinstance(self.protocol, PropagationProtocol):
            raise ConfigError(f'propagation: {type(self.protocol).__name__} is not a '
                              'PropagationProtocol (e.g. CorrFlowPropagation or '
                              'TopKMemoryPropagation)')
        if not hasattr(self.backbone, 'stride'):
            raise ConfigError(f'{type(self.backbone).__name__} must expose its output stride as '
                             '`stride`')
        if isinstance(input_size, Sequence) and len(input_size) != 2:
            raise ConfigError(f'input_size must be None, a short side or (W, H), got {input_size}')
        self.input_size = input_size
        self.size_divisor = size_divisor
        if size_fit not in ('pad', 'resize'):
            raise ConfigError(f'size_fit must be "pad" or "resize", got {size_fit!r}')
        self.size_fit = size_fit
        if (mean is None) != (std is None):
            raise ConfigError('give both mean and std, or neither')
        if colour_space not in ('rgb', 'lab'):
            raise ConfigError(f'colour_space must be "rgb" or "lab", got {colour_space!r}')
        self.colour_space = colour_space
        self.register_buffer('mean', None if mean is None else torch.tensor(mean).view(1, 3, 1, 1),
                             persistent=False)
        self.register_buffer('std', None if std is None else torch.tensor(std).view(1, 3, 1, 1),
                             persistent=False)
        if keypoint_sigma <= 0 or keypoint_topk < 1:
            raise ConfigError(f'need keypoint_sigma > 0 and keypoint_topk >= 1, got '
                              f'{keypoint_sigma} and {keypoint_topk}')
        self.keypoint_sigma = keypoint_sigma
        self.keypoint_topk = keypoint_topk
        self.amp = amp
        resolve_precision(amp)  # an impossible request fails here, before any video is read
        self._precision: Precision | None = None

    @property
    def stride(self) -> int:
        return int(self.backbone.stride)

    @property
    def device(self) -> torch.device:
        for tensor in itertools.chain(self.parameters(), self.buffers()):
            return tensor.device
        return torch.device('cpu')

    @property
    def precision(self) -> Precision:
        """The precision of :attr:`amp` on the model's device (warns once when it falls back)."""
        device_type = self.device.type
        if self._precision is None or self._precision.device_type != device_type:
            self._precision = resolve_precision(self.amp, self.device)
            if self._precision.warning:
                print_log(self._precision.warning, logger='current', level=logging.WARNING)
        return self._precision

    # ------------------------------------------------------------------ features
    def embed(self, frames: Tensor) -> Tensor:
        """(N, 3, H, W) RGB in [0, 1] -> (N, C, H/s, W/s), channels-last.

        Under an enclosing autocast the features come out in its dtype.
        """
        if self.colour_space == 'lab':
            frames = rgb_to_lab(frames)
        if self.mean is not None:
            frames = (frames - self.mean) / self.std
        feats = self.backbone(frames.contiguous(memory_format=torch.channels_last))
        return self.neck(feats) if self.neck is not None else feats

    def processing_size(self, size: tuple[int, int]) -> tuple[int, int]:
        """(H, W) at which a frame of ``size`` is embedded (before padding)."""
        H, W = size
        if isinstance(self.input_size, int):
            scale = self.input_size / min(H, W)
            H, W = max(1, round(H * scale)), max(1, round(W * scale))
        elif self.input_size is not None:
            H, W = int(self.input_size[1]), int(self.input_size[0])
        if self.size_fit == 'resize':
            d = self.size_divisor
            H, W = max(d, H // d * d), max(d, W // d * d)
        return H, W

    def _prepare(self, frame: Tensor, proc: tuple[int, int], padded: tuple[int, int]) -> Tensor:
        """(3, H, W) uint8 -> (1, 3, Hq, Wq) float in [0, 1], resized and padded.

        ``frame`` may be a strided view (e.g. of (H, W, 3) data); the result is
        contiguous, so every frame is embedded with the same kernels.
        """
        x = frame.to(self.device).unsqueeze(0).float().contiguous().div_(255.0)
        if x.shape[-2:] != proc:
            x = F.interpolate(x, size=proc, mode='bilinear', align_corners=False,
                              antialias=proc[0] < x.shape[-2])
        if padded != proc:
            x = F.pad(x, (0, padded[1] - proc[1], 0, padded[0] - proc[0]), mode='replicate')
        return x

    def frame_features(self, frame: Tensor, proc: tuple[int, int],
                       padded: tuple[int, int]) -> Tensor:
        """One frame's features as the protocol compares them, as propagation computes them.

        Args:
            frame (Tensor): (3, H, W) uint8 RGB (a strided view is fine).
            proc (tuple[int, int]): :meth:`processing_size` of (H, W).
            padded (tuple[int, int]): ``proc`` padded to ``size_divisor``.

        Returns:
            Tensor: (1, C, h, w) in full precision, the grid of ``padded`` at
            :attr:`stride`, after the protocol's ``prepare_features``.
        """
        precision = self.precision
        with autocast_off(precision.device_type):  # frames are resized in fp32
            x = self._prepare(frame, proc, padded)
        with precision.autocast():
            feat = self.embed(x)  # (1, C, h, w)
        # context features are kept in fp32; the attention casts them for its products
        feat = feat.to(full_precision(feat.dtype))
        s = self.stride
        grid = (padded[0] // s, padded[1] // s)
        if feat.shape[-2:] != grid:
            raise ValueError(f'{type(self.backbone).__name__} gave a {tuple(feat.shape[-2:])}'
                             f' grid for a {padded} frame; expected {grid} at stride {s}')
        return self.protocol.prepare_features(feat)

    # ------------------------------------------------------------------ mmengine API
    def forward(self, inputs, data_samples=None, mode: str = 'predict'):
        """``'predict'``: propagate (see class doc); ``'tensor'``: embed (N, 3, H, W)."""
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self.embed(inputs)
        raise ValueError(f'{type(self).__name__} supports modes "predict" and "tensor", '
                         f'got {mode!r}')

    @torch.no_grad()
    def predict(self, inputs: Sequence[Tensor], data_samples: Sequence[dict]) -> list[dict]:
        return [self.propagate_video(video, sample) for video, sample in zip(inputs, data_samples)]

    @torch.no_grad()
    def propagate_video(self, video: Tensor, sample: dict,
                        progress: Callable[[int, int], None] | None = None) -> dict:
        """Propagate the labels of one video, as a dataset sample gives them.

        Args:
            video (Tensor): (T, 3, H, W) uint8 RGB frames.
            sample (dict): ``first_mask``, ``start_masks`` or ``first_keypoints``
                (see class doc), and ``video`` (its name).
            progress (Callable[[int, int], None], optional): called as
                ``progress(t, T)`` once frame t (1..T-1) has its labels.

        Returns:
            dict: ``video``, ``pred_masks`` or ``pred_keypoints`` (numpy) and
            ``propagation`` (:meth:`describe`).
        """
        name = sample.get('video', '')
        if 'first_mask' in sample or 'start_masks' in sample:
            if 'first_mask' in sample and 'start_masks' in sample:
                raise ValueError(f'video {name or "?"}: give "first_mask" or "start_masks", '
                                 'not both')
            starts = ({0: sample['first_mask']} if 'first_mask' in sample
                      else dict(sample['start_masks']))
            out = dict(video=name, pred_masks=self.propagate_masks(video, starts, name,
                                                                    progress))
        elif 'first_keypoints' in sample:
            out = dict(video=name, pred_keypoints=self.propagate_keypoints(
                video, sample['first_keypoints'], name, progress))
        else:
            raise ValueError(f'video {name}: the data sample needs "first_mask", '
                             '"start_masks" or "first_keypoints"')
        out['propagation'] = self.describe()
        return out

    def _frames(self, video: Tensor, name: str):
        """Geometry of a video's frames and the function that embeds frame t."""
        if video.dim() != 4 or video.shape[1] != 3:
            raise ValueError(f'video {name or "?"}: expected frames (T, 3, H, W), '
                             f'got {tuple(video.shape)}')
        T, _, H, W = video.shape
        proc, padded, grid = self._geometry((H, W))

        def features(t: int) -> Tensor:
            return self.frame_features(video[t], proc, padded)

        return features, T, (H, W), proc, padded, grid

    @torch.no_grad()
    def propagate_masks(self, video: Tensor, start_masks: Mapping[int, Any], name: str = '',
                        progress: Callable[[int, int], None] | None = None) -> np.ndarray:
        """Propagate object masks through a video.

        Args:
            video (Tensor): (T, 3, H, W) uint8 RGB frames.
            start_masks (Mapping[int, array]): frame -> (H, W) ids of the objects
                first labelled there (0 background, 255 ignored); the smallest
                frame starts the propagation.
            name (str): the video's name, for messages.
            progress (Callable[[int, int], None], optional): see :meth:`propagate_video`.

        Returns:
            np.ndarray: (T, H, W) uint8 masks of the original ids (frames before
            the first start are 0).
        """
        features, T, size, proc, padded, grid = self._frames(video, name)
        if not start_masks:
            raise ValueError(f'video {name or "?"}: "start_masks" is empty')
        return self._propagate_masks(features, start_masks, name, T, size, proc, padded, grid,
                                     self.precision, progress)

    @torch.no_grad()
    def propagate_keypoints(self, video: Tensor, points: Any, name: str = '',
                            progress: Callable[[int, int], None] | None = None) -> np.ndarray:
        """Propagate keypoints from the first frame through a video.

        Args:
            video (Tensor): (T, 3, H, W) uint8 RGB frames.
            points (array): (J, 2) pixel (x, y) of the keypoints in frame 0 (NaN:
                not visible).
            name (str): the video's name, for messages.
            progress (Callable[[int, int], None], optional): see :meth:`propagate_video`.

        Returns:
            np.ndarray: (T, J, 2) float32 (x, y) per frame (frame 0: the input).
        """
        features, T, (H, W), proc, padded, grid = self._frames(video, name)
        points = torch.as_tensor(points, dtype=torch.float32)
        heat = gaussian_heatmaps(points.to(self.device), (H, W), self.keypoint_sigma)
        protocol = self.protocol.keypoint_protocol()
        seed = protocol.keypoint_seed(heat, proc, padded, self.stride, grid)
        preds = np.empty((T, points.shape[0], 2), dtype=np.float32)
        preds[0] = points.numpy()
        for t, prob in self._run_protocol(features, T, {0: seed}, self.precision, protocol):
            preds[t] = self.decode_keypoints(prob, proc, (H, W)).cpu().numpy()
            if progress is not None:
                progress(t, T)
        return preds

    def _start_masks(self, given: Mapping[int, Any], name: str,
                     size: tuple[int, int]) -> dict[int, Tensor]:
        """``{t: (H, W) long ids}`` of the objects first labelled at frame t."""
        masks, seen = {}, {}
        for t in sorted(given):
            mask = torch.as_tensor(given[t]).to(self.device).long()
            if tuple(mask.shape) != size:
                raise ValueError(f'video {name or "?"}: the mask of frame {t} is '
                                 f'{tuple(mask.shape)}, frames are {size}')
            for i in mask.unique().tolist():
                if i in (0, 255):
                    continue
                if i in seen:
                    raise ValueError(f'video {name or "?"}: object id {i} is in the start '
                                     f'masks of frames {seen[i]} and {t}; give each object\'s '
                                     'mask at its first frame only')
                seen[i] = t
            masks[int(t)] = mask
        return masks

    def _propagate_masks(self, features, given: Mapping[int, Any], name: str, T: int,
                         size: tuple[int, int], proc: tuple[int, int], padded: tuple[int, int],
                         grid: tuple[int, int], precision: Precision,
                         progress) -> np.ndarray:
        """(T, H, W) uint8 masks of the original ids; see :meth:`propagate_masks`.

        Label channel c holds id ``ids[c]`` (0, the background, is channel 0),
        so ids need not be contiguous. An object's channel is masked out of the
        read-out before its first frame; at its first frame its mask is pasted
        over the prediction, in the output and in what later frames copy from.
        """
        starts = self._start_masks(given, name, size)
        first = min(starts)
        ids = sorted({0} | {i for m in starts.values() for i in m.unique().tolist() if i != 255})
        lookup = torch.tensor(ids, dtype=torch.uint8, device=self.device)  # channel -> id
        channel = torch.full((256,), -1, dtype=torch.long, device=self.device)
        channel[lookup.long()] = torch.arange(len(ids), device=self.device)
        active = torch.zeros(len(ids), dtype=torch.bool, device=self.device)
        active[0] = True
        seeds, pastes = {}, {}
        for t, mask in starts.items():
            chan = torch.where(mask == 255, -1, channel[mask.clamp(0, 255)])
            onehot = labels_to_onehot(chan, len(ids))  # (1, L, H, W); -1 gives zeros
            if t != first:
                onehot[:, 0] = 0  # a later seed only carries its new objects
                pastes[t] = mask
            seeds[t] = self._seed(onehot, proc, padded, grid)
        preds = np.zeros((T, *size), dtype=np.uint8)
        first_mask = starts[first]
        preds[first] = torch.where(first_mask == 255, 0, first_mask).to(torch.uint8).cpu().numpy()
        active[channel[first_mask[(first_mask != 0) & (first_mask != 255)]].unique()] = True
        for t, prob in self._run_protocol(features, T, seeds, precision):
            scores = self.protocol.read_out(prob, self.stride, proc, size)
            scores[:, ~active] = float('-inf')  # objects that have not started yet
            pred = lookup[scores.argmax(1)[0]]
            if t in pastes:
                new = pastes[t]
                objects = (new != 0) & (new != 255)
                pred = torch.where(objects, new.to(torch.uint8), pred)
                active[channel[new[objects]].unique()] = True
            preds[t] = pred.cpu().numpy()
            if progress is not None:
                progress(t, T)
        return preds

    def _run_protocol(self, features, num_frames: int, seeds: dict[int, Tensor],
                      precision: Precision, protocol: PropagationProtocol | None = None):
        """Yield ``(t, fp32 label maps)`` for the frames after the first seeded one.

        Frames are embedded as the protocol consumes them; embedding, the protocol's
        steps and its memory updates run under ``precision``'s autocast, the consumer's
        read-out outside of it.
        """
        starts = sorted(seeds)
        if not starts or starts[0] < 0 or starts[-1] >= num_frames:
            raise ValueError(f'seed frames {starts} must lie in 0..{num_frames - 1}')
        frames = (features(t) for t in range(starts[0], num_frames))
        steps = run_protocol(protocol or self.protocol, frames, seeds)
        while True:
            with precision.autocast():
                step = next(steps, None)
            if step is None:
                return
            yield step[0], step[1].to(full_precision(step[1].dtype))

    def decode_keypoints(self, maps: Tensor, proc: tuple[int, int],
                         size: tuple[int, int]) -> Tensor:
        """(1, J, h, w) heatmaps on the feature grid -> (J, 2) pixel (x, y) of the original frame.

        Soft-argmax over the ``keypoint_topk`` highest cells of each map.
        """
        xy = soft_argmax_topk(maps[0], self.keypoint_topk)  # (J, 2) grid coordinates
        return grid_to_image_coords(xy, self.stride, proc, size)

    def seed_maps(self, maps: Tensor, size: tuple[int, int]) -> Tensor:
        """Original-size (1, L, H, W) label maps -> the seed on the feature grid (1, L, h, w)."""
        return self._seed(maps, *self._geometry(size))

    def keypoint_seed_maps(self, heatmaps: Tensor, size: tuple[int, int]) -> Tensor:
        """Original-size (1, J, H, W) keypoint heatmaps -> their seed on the feature grid."""
        proc, padded, grid = self._geometry(size)
        return self.protocol.keypoint_protocol().keypoint_seed(heatmaps, proc, padded,
                                                               self.stride, grid)

    def _geometry(self, size: tuple[int, int]):
        """(processing size, padded size, grid) of frames of ``size``."""
        proc = self.processing_size(size)
        padded = padded_size(proc, self.size_divisor)
        return proc, padded, (padded[0] // self.stride, padded[1] // self.stride)

    def _seed(self, maps: Tensor, proc, padded, grid) -> Tensor:
        """Original-size maps (1, L, H, W) -> seed on the feature grid (1, L, h, w), by the
        protocol's rule (:meth:`PropagationProtocol.seed_from_image`)."""
        return self.protocol.seed_from_image(maps, proc, padded, self.stride, grid)

    def describe(self) -> dict:
        """Every propagation setting, to be reported beside every number.

        The protocol's settings (context, labels, radius, temperature, top-k,
        feature normalisation, seed, read-out), then the encoder and its
        stride, the input normalisation, the processing size, the keypoint
        seed σ and read-out top-k, and the precision.
        """
        info = dict(self.protocol.describe())
        if getattr(self.backbone, 'normalise', False):  # unit-length features from the encoder
            info['feature_norm'] = 'L2'
        encoder = type(self.backbone).__name__
        if self.neck is not None:
            encoder += f' + {type(self.neck).__name__}'
        info.update(
            encoder=encoder, stride=self.stride,
            colour_space=self.colour_space,
            input_norm=(None if self.mean is None else
                        dict(mean=self.mean.flatten().tolist(), std=self.std.flatten().tolist())),
            input_size=self.input_size, size_divisor=self.size_divisor, size_fit=self.size_fit,
            keypoint_sigma=self.keypoint_sigma, keypoint_topk=self.keypoint_topk,
            precision=self.precision.describe())
        return info
