"""Transforms of training clips: loading, resizing, colour targets, packing."""
from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np
import torch
from mmcv.transforms import BaseTransform

from corrflow.datasets.video_io import read_image, read_video_frames
from corrflow.models.layers.colour import describe_centroids, load_centroids
from corrflow.registry import TRANSFORMS
from corrflow.errors import ConfigError

__all__ = ['LoadClipFrames', 'ResizeClip', 'RescaleClip', 'RandomCropClip',
           'RandomResizedCropClip', 'RandomFlipClip',
           'QuantiseColour', 'PackClipInputs', 'quantise_frames', 'nearest_centroid', 'colour_lut']


@TRANSFORMS.register_module()
class LoadClipFrames(BaseTransform):
    """Read the frames of a clip as RGB uint8 arrays into ``results['frames']``.

    Uses ``frame_paths`` (image files) when present, else decodes
    ``frame_indices`` of ``video_path``. Errors name the file.
    """

    def transform(self, results: dict) -> dict:
        if results.get('frame_paths') is not None:
            frames = [read_image(p) for p in results['frame_paths']]
        else:
            frames = read_video_frames(results['video_path'], results['frame_indices'])
        results['frames'] = frames
        results['ori_shape'] = frames[0].shape[:2]
        return results


@TRANSFORMS.register_module()
class ResizeClip(BaseTransform):
    """Resize every frame to a fixed (width, height), ignoring the aspect ratio.

    Args:
        size (Sequence[int]): (width, height); CorrFlow trains at 256 x 256.
        interpolation (str): ``'bilinear'``, ``'area'`` or ``'bicubic'``.
    """

    _INTERP = dict(bilinear=cv2.INTER_LINEAR, area=cv2.INTER_AREA, bicubic=cv2.INTER_CUBIC)

    def __init__(self, size: Sequence[int] = (256, 256), interpolation: str = 'bilinear') -> None:
        if len(size) != 2 or min(size) < 1:
            raise ConfigError(f'size must be (width, height), got {size}')
        if interpolation not in self._INTERP:
            raise ConfigError(f'interpolation must be one of {sorted(self._INTERP)}, '
                             f'got {interpolation!r}')
        self.size = (int(size[0]), int(size[1]))
        self.interpolation = self._INTERP[interpolation]

    def transform(self, results: dict) -> dict:
        results['frames'] = [
            f if (f.shape[1], f.shape[0]) == self.size
            else cv2.resize(f, self.size, interpolation=self.interpolation)
            for f in results['frames']]
        results['img_shape'] = (self.size[1], self.size[0])
        return results


@TRANSFORMS.register_module()
class RescaleClip(BaseTransform):
    """Resize every frame so that its short side is ``short_side``, keeping the aspect ratio.

    Args:
        short_side (int): target length of the shorter side.
        interpolation (str): ``'bilinear'``, ``'area'`` or ``'bicubic'``.
    """

    def __init__(self, short_side: int = 256, interpolation: str = 'bilinear') -> None:
        if short_side < 1:
            raise ConfigError(f'short_side must be positive, got {short_side}')
        if interpolation not in ResizeClip._INTERP:
            raise ConfigError(f'interpolation must be one of {sorted(ResizeClip._INTERP)}, '
                             f'got {interpolation!r}')
        self.short_side = short_side
        self.interpolation = ResizeClip._INTERP[interpolation]

    def transform(self, results: dict) -> dict:
        h, w = results['frames'][0].shape[:2]
        scale = self.short_side / min(h, w)
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        results['frames'] = [f if (f.shape[1], f.shape[0]) == size
                             else cv2.resize(f, size, interpolation=self.interpolation)
                             for f in results['frames']]
        results['img_shape'] = (size[1], size[0])
        return results


@TRANSFORMS.register_module()
class RandomCropClip(BaseTransform):
    """Crop the same random (width, height) window out of every frame of a clip.

    Frames smaller than the window are an error (rescale them first).

    Args:
        size (Sequence[int]): (width, height) of the crop.
    """

    def __init__(self, size: Sequence[int] = (128, 128)) -> None:
        if len(size) != 2 or min(size) < 1:
            raise ConfigError(f'size must be (width, height), got {size}')
        self.size = (int(size[0]), int(size[1]))

    def transform(self, results: dict) -> dict:
        h, w = results['frames'][0].shape[:2]
        cw, ch = self.size
        if w < cw or h < ch:
            raise ValueError(f'frames of {results.get("video", "a video")} are {w}x{h}, smaller '
                             f'than the {cw}x{ch} crop; rescale them first')
        x = int(np.random.randint(0, w - cw + 1))
        y = int(np.random.randint(0, h - ch + 1))
        results['frames'] = [f[y:y + ch, x:x + cw] for f in results['frames']]
        results['crop_box'] = (x, y, x + cw, y + ch)
        results['img_shape'] = (ch, cw)
        return results


@TRANSFORMS.register_module()
class RandomResizedCropClip(BaseTransform):
    """One random crop of random area and aspect ratio for a whole clip, resized to ``size``.

    As torchvision's ``RandomResizedCrop``, with one draw shared by every frame:
    up to ``attempts`` draws of an area fraction in ``scale`` and a log-uniform
    aspect ratio (width / height) in ``ratio`` keep the first window that fits
    in the frame. If none fits, ``fallback`` decides: ``'clamp'`` (torchvision)
    takes the largest centred window of an aspect ratio clamped to ``ratio``,
    ``'square'`` (Spa-then-Temp's pipeline) the centred square of side
    min(H, W). Frames are then resized bilinearly.

    Args:
        size (Sequence[int]): (width, height) of the output.
        scale (Sequence[float]): range of the crop's area over the frame's.
        ratio (Sequence[float]): range of the crop's width over its height.
        attempts (int): draws before the fallback (10 in torchvision, 20 in
            Spa-then-Temp).
        fallback (str): ``'clamp'`` or ``'square'``.
        per_frame (bool): draw a window for every frame (CRW's frame
            augmentation) instead of one for the clip; ``crop_box`` is then
            the list of the frames' boxes.
    """

    def __init__(self, size: Sequence[int] = (256, 256), scale: Sequence[float] = (0.6, 1.0),
                 ratio: Sequence[float] = (1.5, 2.0), attempts: int = 10,
                 fallback: str = 'clamp', per_frame: bool = False) -> None:
        if len(size) != 2 or min(size) < 1:
            raise ConfigError(f'size must be (width, height), got {size}')
        if len(scale) != 2 or not 0 < scale[0] <= scale[1] <= 1:
            raise ConfigError(f'scale must be (low, high) with 0 < low <= high <= 1, got {scale}')
        if len(ratio) != 2 or not 0 < ratio[0] <= ratio[1]:
            raise ConfigError(f'ratio must be (low, high) with 0 < low <= high, got {ratio}')
        if attempts < 1 or fallback not in ('clamp', 'square'):
            raise ConfigError(f'need attempts >= 1 and fallback "clamp" or "square", got '
                              f'{attempts} and {fallback!r}')
        self.size = (int(size[0]), int(size[1]))
        self.scale = (float(scale[0]), float(scale[1]))
        self.ratio = (float(ratio[0]), float(ratio[1]))
        self.attempts = int(attempts)
        self.fallback = fallback
        self.per_frame = bool(per_frame)

    def window(self, height: int, width: int) -> tuple[int, int, int, int]:
        """(x, y, crop width, crop height) of one draw for a frame of that size."""
        area = height * width
        log_lo, log_hi = np.log(self.ratio[0]), np.log(self.ratio[1])
        for _ in range(self.attempts):
            target = area * np.random.uniform(*self.scale)
            aspect = float(np.exp(np.random.uniform(log_lo, log_hi)))
            cw = int(round(np.sqrt(target * aspect)))
            ch = int(round(np.sqrt(target / aspect)))
            if 0 < cw <= width and 0 < ch <= height:
                x = int(np.random.randint(0, width - cw + 1))
                y = int(np.random.randint(0, height - ch + 1))
                return x, y, cw, ch
        if self.fallback == 'square':
            side = min(width, height)
            return (width - side) // 2, (height - side) // 2, side, side
        aspect = width / height
        if aspect < self.ratio[0]:
            cw, ch = width, int(round(width / self.ratio[0]))
        elif aspect > self.ratio[1]:
            cw, ch = int(round(height * self.ratio[1])), height
        else:
            cw, ch = width, height
        return (width - cw) // 2, (height - ch) // 2, cw, ch

    def crop(self, frame: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
        """``frame`` cut to ``box`` (x, y, width, height), resized bilinearly to ``size``."""
        x, y, cw, ch = box
        return cv2.resize(np.ascontiguousarray(frame[y:y + ch, x:x + cw]), self.size,
                          interpolation=cv2.INTER_LINEAR)

    def transform(self, results: dict) -> dict:
        frames = results['frames']
        if self.per_frame:
            boxes = [self.window(*f.shape[:2]) for f in frames]
        else:
            boxes = [self.window(*frames[0].shape[:2])] * len(frames)
        results['frames'] = [self.crop(f, box) for f, box in zip(frames, boxes)]
        corners = [(x, y, x + cw, y + ch) for x, y, cw, ch in boxes]
        results['crop_box'] = corners if self.per_frame else corners[0]
        results['img_shape'] = (self.size[1], self.size[0])
        return results


@TRANSFORMS.register_module()
class RandomFlipClip(BaseTransform):
    """Mirror all frames of a clip left-right together, with probability ``prob``.

    One draw per clip, so every frame is flipped or none is; the draw is
    recorded in ``results['flip']``. Only ``results['frames']`` is flipped:
    place it before transforms that derive per-pixel targets from the frames.

    Args:
        prob (float): probability of flipping, in [0, 1].
    """

    def __init__(self, prob: float = 0.5) -> None:
        if not 0.0 <= prob <= 1.0:
            raise ConfigError(f'prob must be in [0, 1], got {prob}')
        self.prob = float(prob)

    def transform(self, results: dict) -> dict:
        flip = bool(np.random.rand() < self.prob)
        if flip:
            results['frames'] = [np.ascontiguousarray(f[:, ::-1]) for f in results['frames']]
        results['flip'] = flip
        return results


def nearest_centroid(rgb: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """Nearest (a, b) centroid of every pixel, with OpenCV's float Lab.

    The definition of the colour classes, computed directly.

    Args:
        rgb (np.ndarray): (..., 3) uint8 RGB.
        centroids (np.ndarray): (K, 2) float (a, b) centroids, K <= 256.

    Returns:
        np.ndarray: (...) uint8 class indices.
    """
    c = np.asarray(centroids, dtype=np.float32)  # (K, 2)
    c_sq = (c * c).sum(1)  # (K,)
    flat = rgb.reshape(-1, 1, 3).astype(np.float32) * (1.0 / 255.0)
    lab = cv2.cvtColor(flat, cv2.COLOR_RGB2Lab)  # (N, 1, 3)
    ab = lab[:, 0, 1:3]  # (N, 2)
    # per-centroid distances without a shared matrix product, so that a
    # pixel's class does not depend on how many pixels are processed with it
    best = np.zeros(len(ab), dtype=np.uint8)
    best_d = np.full(len(ab), np.inf, dtype=np.float32)
    for k in range(len(c)):
        d = c_sq[k] - 2.0 * (ab[:, 0] * c[k, 0] + ab[:, 1] * c[k, 1])
        closer = d < best_d
        best[closer] = k
        best_d[closer] = d[closer]
    return best.reshape(rgb.shape[:-1])


_LUT_CACHE: dict[bytes, np.ndarray] = {}


def colour_lut(centroids: np.ndarray) -> np.ndarray:
    """(2^24,) uint8 class of every 8-bit RGB colour, index ``(r << 16) | (g << 8) | b``.

    Built once per process and centroid set (about a second, 16 MiB) with
    :func:`nearest_centroid`; looking pixels up in it then costs two integer
    passes instead of a colour conversion and K distances per pixel.
    """
    c = np.ascontiguousarray(centroids, dtype=np.float32)
    key = c.tobytes()
    lut = _LUT_CACHE.get(key)
    if lut is None:
        lut = np.empty(1 << 24, dtype=np.uint8)
        gb = np.stack(np.meshgrid(np.arange(256, dtype=np.uint8), np.arange(256, dtype=np.uint8),
                                  indexing='ij'), -1).reshape(-1, 2)  # (65536, 2): (g, b)
        block = np.empty((16 * 65536, 3), dtype=np.uint8)
        for r0 in range(0, 256, 16):  # 16 red values (1M colours) at a time
            block[:, 0] = np.repeat(np.arange(r0, r0 + 16, dtype=np.uint8), 65536)
            block[:, 1:] = np.tile(gb, (16, 1))
            lut[r0 << 16:(r0 + 16) << 16] = nearest_centroid(block, c)
        _LUT_CACHE.clear()  # one centroid set per process in practice
        _LUT_CACHE[key] = lut
    return lut


def quantise_frames(frames: Sequence[np.ndarray], centroids: np.ndarray) -> np.ndarray:
    """Nearest (a, b) centroid of every pixel, with OpenCV's float Lab.

    Equal to :func:`nearest_centroid` pixel for pixel; looked up in
    :func:`colour_lut`.

    Args:
        frames (Sequence[np.ndarray]): T arrays (H, W, 3) uint8 RGB.
        centroids (np.ndarray): (K, 2) float (a, b) centroids, K <= 256.

    Returns:
        np.ndarray: (T, H, W) uint8 class indices.
    """
    lut = colour_lut(centroids)
    out = []
    for frame in frames:
        frame = np.asarray(frame)
        if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
            raise ValueError(f'colour quantisation needs (H, W, 3) uint8 RGB frames, got '
                             f'{frame.dtype} {frame.shape}')
        index = frame[..., 0].astype(np.int32) << 16
        index |= frame[..., 1].astype(np.int32) << 8
        index |= frame[..., 2]
        out.append(lut[index])
    return np.stack(out)


@TRANSFORMS.register_module()
class QuantiseColour(BaseTransform):
    """Colour-class targets: OpenCV float Lab, nearest (a, b) centroid.

    Computed from the frames as they are (before any network-input
    bottleneck), into ``results['colour_labels']`` (T, H, W) uint8. The
    labels travel with their palette: ``results['colour_centroids']`` (K, 2)
    float32 and ``results['colour_centroids_source']`` (the file, or where the
    numbers came from), which :class:`PackClipInputs` puts in the data sample.
    The model's number of colour classes and the colours of the reconstruction
    images are taken from them, so K is set here and nowhere else.

    Args:
        centroids (str | Sequence | None): ``None`` for the 16 Kinetics
            centroids of CorrFlow, a list of (a, b) pairs, or a ``.npy``/``.json``
            file written by ``tools/analysis/compute_centroids.py`` (any K from
            2 to 256).
    """

    def __init__(self, centroids: str | Sequence | None = None) -> None:
        self.centroids = load_centroids(centroids).numpy()
        self.centroids_source = describe_centroids(centroids)
        if len(self.centroids) > 256:
            raise ConfigError(f'at most 256 centroids are supported, got {len(self.centroids)} '
                             f'({self.centroids_source})')

    def transform(self, results: dict) -> dict:
        results['colour_labels'] = quantise_frames(results['frames'], self.centroids)
        results['colour_centroids'] = self.centroids
        results['colour_centroids_source'] = self.centroids_source
        return results


@TRANSFORMS.register_module()
class PackClipInputs(BaseTransform):
    """Pack a clip into ``inputs`` (T, 3, H, W) uint8 and a plain-dict data sample.

    Label maps (``colour_labels``, ``gt_masks``) become (T, H, W) tensors; the
    palette of the colour labels (``colour_centroids`` (K, 2) numpy, which the
    data preprocessor leaves on the CPU, and ``colour_centroids_source``) is
    always packed with them. ``patch_grid`` (rows, cols) of CRW's patch clips
    (see ``PatchGrid``) is a meta key. TimeCycle's target-patch affine ``patch_theta``
    (see ``TimeCyclePatch``) becomes a (2, 3) float32 tensor.

    Args:
        meta_keys (Sequence[str]): keys of ``results`` copied into the data
            sample when present.
    """

    def __init__(self, meta_keys: Sequence[str] = ('video', 'frame_indices', 'ori_shape',
                                                   'img_shape', 'sample_idx',
                                                   'patch_grid')) -> None:
        self.meta_keys = tuple(meta_keys)

    def transform(self, results: dict) -> dict:
        frames = np.stack(results['frames'])  # (T, H, W, 3)
        inputs = torch.from_numpy(np.ascontiguousarray(frames.transpose(0, 3, 1, 2)))
        sample = {k: results[k] for k in self.meta_keys if k in results}
        for key in ('colour_labels', 'gt_masks'):  # per-frame label maps (T, H, W)
            if key in results:
                sample[key] = torch.from_numpy(np.ascontiguousarray(np.stack(results[key])))
        for key in ('colour_centroids', 'colour_centroids_source'):  # the labels' palette
            if key in results:
                sample[key] = results[key]
        if 'patch_theta' in results:  # (2, 3) affine of TimeCycle's target patch
            sample['patch_theta'] = torch.from_numpy(
                np.array(results['patch_theta'], dtype=np.float32))
        return dict(inputs=inputs, data_samples=sample)
