"""CRW's nodes: every frame of a clip cut into a grid of jittered patches."""
from __future__ import annotations

from typing import Sequence

from mmcv.transforms import BaseTransform

from corrflow.datasets.transforms.clip_transforms import RandomResizedCropClip
from corrflow.errors import ConfigError
from corrflow.registry import TRANSFORMS

__all__ = ['PatchGrid']


@TRANSFORMS.register_module()
class PatchGrid(BaseTransform):
    """Cut each frame into overlapping ``size`` x ``size`` windows, jitter each one.

    Windows start every ``stride`` pixels from the top-left corner, row by row,
    while they fit (7x7 windows of 64 every 32 on CRW's 256x256 frames). Each
    window then gets its own random resized crop back to ``size`` (area share
    in ``scale``, aspect ratio in ``ratio``, torchvision's draw, bilinear), so
    no two patches of a frame are aligned. ``frames`` becomes the T x N
    patches, frame by frame and row-major within a frame; ``patch_grid`` is
    (rows, cols). Every frame of the clip must have the same size.

    Args:
        size (int): side of the windows and of the patches (64).
        stride (int): distance between window starts (32, half the side).
        scale (Sequence[float]): area range of the jitter crop (0.7, 0.9).
        ratio (Sequence[float]): aspect-ratio range of the jitter crop
            (3/4, 4/3, torchvision's default).
    """

    def __init__(self, size: int = 64, stride: int = 32,
                 scale: Sequence[float] = (0.7, 0.9),
                 ratio: Sequence[float] = (3 / 4, 4 / 3)) -> None:
        if size < 1 or stride < 1:
            raise ConfigError(f'PatchGrid needs size >= 1 and stride >= 1, got {size}, {stride}')
        self.size = int(size)
        self.stride = int(stride)
        self.jitter = RandomResizedCropClip(size=(self.size, self.size), scale=scale,
                                            ratio=ratio)

    def grid(self, height: int, width: int) -> tuple[int, int]:
        """(rows, cols) of windows on a frame of that size."""
        if height < self.size or width < self.size:
            raise ValueError(f'PatchGrid: a {width}x{height} frame is smaller than one '
                             f'{self.size}x{self.size} patch; resize or crop the clip first')
        return ((height - self.size) // self.stride + 1, (width - self.size) // self.stride + 1)

    def transform(self, results: dict) -> dict:
        frames = results['frames']
        shapes = {f.shape[:2] for f in frames}
        if len(shapes) != 1:
            raise ValueError(f'PatchGrid needs frames of one size, got {sorted(shapes)}')
        rows, cols = self.grid(*frames[0].shape[:2])
        patches = []
        for frame in frames:
            for r in range(rows):
                for c in range(cols):
                    y, x = r * self.stride, c * self.stride
                    window = frame[y:y + self.size, x:x + self.size]
                    patches.append(self.jitter.crop(window, self.jitter.window(self.size,
                                                                               self.size)))
        results['frames'] = patches
        results['patch_grid'] = (rows, cols)
        results['img_shape'] = (self.size, self.size)
        return results
