"""Drawing label maps and heat maps over frames.

All functions take and return (H, W, 3) uint8 RGB images and never modify
their inputs.
"""
from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

from corrflow.evaluation.png_io import voc_palette

__all__ = ['colorize_mask', 'overlay_masks', 'overlay_heatmap', 'heatmap_to_rgb',
           'hstack_images', 'add_caption']


def _check_frame(frame: np.ndarray) -> np.ndarray:
    frame = np.asarray(frame)
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        raise ValueError(f'expected an (H, W, 3) uint8 RGB frame, got {frame.shape} {frame.dtype}')
    return frame


def _check_palette(mask: np.ndarray, palette: np.ndarray | None) -> np.ndarray:
    palette = voc_palette() if palette is None else np.asarray(palette, dtype=np.uint8)
    if palette.ndim != 2 or palette.shape[1] != 3:
        raise ValueError(f'expected a (K, 3) palette, got {palette.shape}')
    if mask.size and (mask.min() < 0 or mask.max() >= len(palette)):
        raise ValueError(f'mask ids {int(mask.min())}..{int(mask.max())} do not fit a palette '
                         f'of {len(palette)} colours')
    return palette


def colorize_mask(mask: np.ndarray, palette: np.ndarray | None = None) -> np.ndarray:
    """Colour an id map with a palette.

    Args:
        mask (np.ndarray): (H, W) integer ids.
        palette (np.ndarray, optional): (K, 3) uint8 RGB; the DAVIS / VOC
            palette by default.

    Returns:
        np.ndarray: (H, W, 3) uint8 RGB.
    """
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f'expected an (H, W) id map, got {mask.shape}')
    palette = _check_palette(mask, palette)
    return palette[mask.astype(np.int64)]


def _object_boundaries(mask: np.ndarray) -> np.ndarray:
    """(H, W) bool: object pixels (id > 0) with a 4-neighbour of another id."""
    edge = np.zeros(mask.shape, dtype=bool)
    diff_y = mask[1:] != mask[:-1]  # (H-1, W)
    diff_x = mask[:, 1:] != mask[:, :-1]  # (H, W-1)
    edge[1:] |= diff_y
    edge[:-1] |= diff_y
    edge[:, 1:] |= diff_x
    edge[:, :-1] |= diff_x
    return edge & (mask > 0)


def _outer_ring(mask: np.ndarray) -> np.ndarray:
    """(H, W) bool: background pixels (id 0) with a 4-neighbour inside an object."""
    obj = mask > 0
    ring = np.zeros(mask.shape, dtype=bool)
    ring[1:] |= obj[:-1]
    ring[:-1] |= obj[1:]
    ring[:, 1:] |= obj[:, :-1]
    ring[:, :-1] |= obj[:, 1:]
    return ring & ~obj


def overlay_masks(frame: np.ndarray, mask: np.ndarray, palette: np.ndarray | None = None,
                  alpha: float = 0.5, contour: bool = True) -> np.ndarray:
    """Blend the objects of an id map over a frame.

    Id 0 is background and leaves the frame unchanged; id k > 0 is blended
    with ``palette[k]`` at opacity ``alpha``. With ``contour``, each object's
    boundary is drawn as a two-tone line that reads on any object or
    background colour: its boundary pixels in white and the background pixels
    just outside them in black.

    Args:
        frame (np.ndarray): (H, W, 3) uint8 RGB.
        mask (np.ndarray): (H, W) integer ids.
        palette (np.ndarray, optional): (K, 3) uint8 RGB; the DAVIS / VOC
            palette by default.
        alpha (float): opacity of the colour inside objects, in [0, 1].
        contour (bool): draw object boundaries (white, with a black outer line).

    Returns:
        np.ndarray: (H, W, 3) uint8 RGB.
    """
    frame = _check_frame(frame)
    mask = np.asarray(mask)
    if mask.shape != frame.shape[:2]:
        raise ValueError(f'mask {mask.shape} and frame {frame.shape[:2]} differ in size')
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f'alpha must be in [0, 1], got {alpha}')
    colours = colorize_mask(mask, palette).astype(np.float32)
    out = frame.astype(np.float32)
    inside = mask > 0
    out[inside] = (1.0 - alpha) * out[inside] + alpha * colours[inside]
    if contour:
        out[_outer_ring(mask)] = 0.0
        out[_object_boundaries(mask)] = 255.0
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def heatmap_to_rgb(heatmap: np.ndarray, colormap: int = cv2.COLORMAP_JET,
                   vmax: float | None = None) -> np.ndarray:
    """Colour a non-negative (H, W) map, 0 -> the colormap's low end, ``vmax`` -> its top.

    Args:
        heatmap (np.ndarray): (H, W) float.
        colormap (int): an OpenCV colormap id.
        vmax (float, optional): value shown at the top of the colormap; the
            map's maximum by default.

    Returns:
        np.ndarray: (H, W, 3) uint8 RGB.
    """
    heat = np.nan_to_num(np.asarray(heatmap, dtype=np.float32))
    if heat.ndim != 2:
        raise ValueError(f'expected an (H, W) heat map, got {heat.shape}')
    top = float(heat.max()) if vmax is None else float(vmax)
    scaled = np.clip(heat / top, 0.0, 1.0) if top > 0 else np.zeros_like(heat)
    bgr = cv2.applyColorMap(np.rint(scaled * 255).astype(np.uint8), colormap)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def overlay_heatmap(frame: np.ndarray, heatmap: np.ndarray, alpha: float = 0.5,
                    colormap: int = cv2.COLORMAP_JET, vmax: float | None = None) -> np.ndarray:
    """Blend a coloured heat map over a frame; opacity grows with the value.

    A pixel with value v gets opacity ``alpha * v / vmax``, so zero keeps the
    frame and the peak is blended at ``alpha``.

    Args:
        frame (np.ndarray): (H, W, 3) uint8 RGB.
        heatmap (np.ndarray): (H, W) non-negative values.
        alpha (float): opacity at the peak, in [0, 1].
        colormap (int): an OpenCV colormap id.
        vmax (float, optional): value of full opacity (the map's maximum by default).

    Returns:
        np.ndarray: (H, W, 3) uint8 RGB.
    """
    frame = _check_frame(frame)
    heat = np.nan_to_num(np.asarray(heatmap, dtype=np.float32))
    if heat.shape != frame.shape[:2]:
        raise ValueError(f'heat map {heat.shape} and frame {frame.shape[:2]} differ in size')
    top = float(heat.max()) if vmax is None else float(vmax)
    weight = alpha * (np.clip(heat / top, 0.0, 1.0) if top > 0 else np.zeros_like(heat))
    colours = heatmap_to_rgb(heat, colormap, top).astype(np.float32)
    out = frame.astype(np.float32) * (1.0 - weight[..., None]) + colours * weight[..., None]
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def hstack_images(images: Sequence[np.ndarray], gap: int = 4, fill: int = 255) -> np.ndarray:
    """Place images side by side, top-aligned, separated by ``gap`` columns of ``fill``.

    Args:
        images (Sequence[np.ndarray]): (H_i, W_i, 3) uint8 images.
        gap (int): pixels between images.
        fill (int): grey level of the gap and of the padding below shorter images.

    Returns:
        np.ndarray: (max H_i, sum W_i + gap * (n - 1), 3) uint8.
    """
    images = [_check_frame(img) for img in images]
    if not images:
        raise ValueError('no images to stack')
    height = max(img.shape[0] for img in images)
    width = sum(img.shape[1] for img in images) + gap * (len(images) - 1)
    out = np.full((height, width, 3), fill, dtype=np.uint8)
    x = 0
    for img in images:
        out[:img.shape[0], x:x + img.shape[1]] = img
        x += img.shape[1] + gap
    return out


def add_caption(image: np.ndarray, text: str, scale: float = 0.5) -> np.ndarray:
    """Write ``text`` in the top-left corner on a dark box (a copy of the image).

    Args:
        image (np.ndarray): (H, W, 3) uint8 RGB.
        text (str): one line of ASCII text.
        scale (float): OpenCV font scale.

    Returns:
        np.ndarray: (H, W, 3) uint8 RGB.
    """
    out = _check_frame(image).copy()
    font = cv2.FONT_HERSHEY_SIMPLEX
    thickness = max(1, round(scale * 2))
    (w, h), base = cv2.getTextSize(text, font, scale, thickness)
    cv2.rectangle(out, (0, 0), (w + 6, h + base + 6), (0, 0, 0), -1)
    cv2.putText(out, text, (3, h + 3), font, scale, (255, 255, 255), thickness, cv2.LINE_AA)
    return out
