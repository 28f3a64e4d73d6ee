"""Indexed PNGs of label ids, the format of DAVIS, YouTube-VOS and VIP annotations and
results: the VOC palette, writing an id map, reading a GT frame with its checks.

Reading any 8-bit PNG's ids lives in :mod:`corrflow.datasets.video_io`
(:func:`read_png_ids`), where the datasets use it too.
"""
from __future__ import annotations

import os
import os.path as osp

import numpy as np
from PIL import Image

from corrflow.datasets.video_io import DataError, PngSizeError, read_png_ids

__all__ = ['voc_palette', 'write_indexed_png', 'read_gt_frame', 'read_png_ids', 'PngSizeError']


def voc_palette(num_colors: int = 256) -> np.ndarray:
    """The PASCAL VOC colour map, which DAVIS uses for its indexed PNGs.

    Colour i spreads the bits of i over the channels: bit 3j+c of i sets bit
    7-j of channel c (R, G, B), so 1 is dark red, 2 dark green, 3 olive...

    Args:
        num_colors (int): number of palette entries.

    Returns:
        np.ndarray: (num_colors, 3) uint8 RGB.
    """
    ids = np.arange(num_colors)
    palette = np.zeros((num_colors, 3), dtype=np.int64)
    for level in range(8):
        for channel in range(3):
            bit = (ids >> (3 * level + channel)) & 1
            palette[:, channel] |= bit << (7 - level)
    return palette.astype(np.uint8)


def write_indexed_png(path: str, mask: np.ndarray, palette: np.ndarray | None = None) -> None:
    """Write an id map as an 8-bit palette PNG (DAVIS format).

    Args:
        path (str): output file; its folder is created if needed.
        mask (np.ndarray): (H, W) uint8 ids.
        palette (np.ndarray, optional): (K, 3) uint8 RGB colours; the VOC /
            DAVIS palette by default.
    """
    mask = np.asarray(mask)
    if mask.ndim != 2 or mask.dtype != np.uint8:
        raise ValueError(f'expected an (H, W) uint8 id map, got {mask.shape} {mask.dtype}')
    if palette is None:
        palette = voc_palette()
    image = Image.fromarray(mask)  # mode L
    image.putpalette(np.asarray(palette, dtype=np.uint8).reshape(-1).tolist())  # L -> P
    folder = osp.dirname(path)
    if folder:
        os.makedirs(folder, exist_ok=True)
    image.save(path)


def read_gt_frame(path: str, shape: tuple[int, ...] | None = None) -> np.ndarray:
    """One GT id map, checked to be 8-bit single channel (of ``shape`` if given)."""
    try:
        frame = read_png_ids(path, shape)
    except PngSizeError as err:
        raise DataError(f'{path}: the GT frame is {err.size[1]}x{err.size[0]} but the first GT '
                        f'frame of its sequence is {shape[1]}x{shape[0]}; every GT frame of a '
                        'sequence must have one size') from None
    if frame is None:
        raise DataError(f'{path}: GT must be an 8-bit indexed (palette or grayscale) PNG')
    return frame
