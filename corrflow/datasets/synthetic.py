"""Procedural training videos: textured shapes moving over a panning textured background.

Every video is a pure function of its seed, and every frame a pure function of
(seed, t): a clip renders only the frames it needs, with no files. A scene is

* a background texture seen through a camera that pans (without bound) and
  zooms slightly;
* 2-5 textured objects (ellipses, polygons, smooth blobs) that translate,
  rotate and scale smoothly, drawn back to front so nearer ones occlude
  farther ones; the instance mask holds what is visible (0 = background,
  1..N = objects; ids do not encode depth).

Textures are sums of plane waves passed through pointwise nonlinearities
(stripes, checkers, blobs), coloured in HSV with saturated, spatially varying
hues. A plane wave seen through an affine map is again a plane wave, and
``cos(a x + b y + c)`` splits into ``cos(a x + c) cos(b y) - sin(a x + c)
sin(b y)``, so every texture is evaluated exactly at the pixels of any
frame as a small matrix product, whatever the pan, zoom, rotation or scale.

Lengths and speeds are drawn for a 256-pixel frame and scaled with
``min(W, H) / 256``: motion is at most about 5 px per frame at 256 px
(objects: 3.5 translation + 1 rotation + 0.5 scaling; camera: 3 pan + 0.5
zoom), so clip frames 4 apart stay within the ±24 px attention window.

Shape shorthand:
    T: frames, H, W: frame size, F: texture fields, K: plane waves per field,
    M: outline vertices.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import cv2
import numpy as np

from corrflow.datasets.base_clip_dataset import BaseClipDataset
from corrflow.registry import DATASETS
from corrflow.errors import ConfigError

__all__ = ['SyntheticScene', 'SyntheticVideos', 'render_synthetic_video', 'synthetic_video_seed']

_REF_SIZE = 256.0  # lengths and speeds below are in pixels of a 256-pixel frame
_WAVES = 4  # K
_OUTLINE_VERTICES = 48  # M of ellipses and blobs
_MAX_OBJECT_SPEED = 3.5  # px / frame, translation of an object's centre
_MAX_ROTATION_RIM_SPEED = 0.8  # px / frame at the object's radius (x scale <= 1.25)
_MAX_SCALING_RIM_SPEED = 0.5  # px / frame at the object's radius
_MAX_PAN_SPEED = 2.7  # texture px / frame (x zoom <= 1.11 on screen)
_MAX_ZOOM_RATE = 0.0025  # relative zoom change per frame (0.5 px / frame at 181 px)


def synthetic_video_seed(seed: int, index: int) -> int:
    """Seed of video ``index`` of a dataset seeded with ``seed`` (independent streams)."""
    if seed < 0 or index < 0:
        raise ValueError(f'seed and index must be non-negative, got {seed} and {index}')
    return int(np.random.SeedSequence([seed, index]).generate_state(1, dtype=np.uint32)[0])


@dataclass(frozen=True)
class _Material:
    """A texture: F plane-wave fields and how they are coloured.

    Fields: 0 hue, 1 saturation, 2 value (low frequency), 3 fine detail,
    4 (and 5 for checkers) the pattern.
    """
    freqs: np.ndarray  # (F, K, 2) radians per texture pixel
    phases: np.ndarray  # (F, K)
    amps: np.ndarray  # (F, K), each field of unit standard deviation
    pattern: str  # 'flat', 'stripes', 'checker' or 'blobs'
    sharpness: float  # gain of the pattern's sigmoid
    hue: float  # degrees, colour A
    hue_range: float  # degrees per unit of the hue field
    hue_shift: float  # degrees, colour B - colour A
    sat: tuple[float, float]  # colours A and B
    val: tuple[float, float]
    detail: float  # amplitude of the fine detail in value


def _waves(rng: np.random.Generator, count: int, wavelengths: tuple[float, float],
           unit: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``count`` plane waves (padded to K) of random direction; unit-std sum."""
    angle = rng.uniform(0, np.pi, _WAVES)
    omega = 2 * np.pi / (unit * np.exp(rng.uniform(*np.log(wavelengths), _WAVES)))
    freqs = np.stack([omega * np.cos(angle), omega * np.sin(angle)], -1)  # (K, 2)
    phases = rng.uniform(0, 2 * np.pi, _WAVES)
    amps = rng.uniform(0.5, 1.0, _WAVES)
    amps[count:] = 0.0
    amps /= np.sqrt((amps ** 2).sum() / 2)  # std of a sum of random-phase cosines
    return freqs, phases, amps


def _draw_material(rng: np.random.Generator, unit: float, background: bool) -> _Material:
    patterns = ('stripes', 'checker', 'blobs') if background else (
        'flat', 'stripes', 'checker', 'blobs')
    pattern = patterns[rng.integers(len(patterns))]
    fields = [_waves(rng, _WAVES, (60.0, 250.0), unit) for _ in range(3)]  # hue, sat, val
    fields.append(_waves(rng, _WAVES, (4.0, 12.0), unit))  # detail
    if pattern == 'stripes':
        fields.append(_waves(rng, 1, (8.0, 40.0), unit))
    elif pattern == 'blobs':
        fields.append(_waves(rng, _WAVES, (20.0, 80.0), unit))
    elif pattern == 'checker':
        first = _waves(rng, 1, (10.0, 40.0), unit)
        second = _waves(rng, 1, (10.0, 40.0), unit)
        fu, fv = first[0][0]  # turn the second wave perpendicular to the first
        second[0][0] = np.linalg.norm(second[0][0]) * np.array([-fv, fu]) / np.hypot(fu, fv)
        fields += [first, second]
    freqs, phases, amps = (np.stack(x) for x in zip(*fields))
    return _Material(
        freqs=freqs, phases=phases, amps=amps, pattern=pattern,
        sharpness=float(rng.uniform(1.5, 8.0)),
        hue=float(rng.uniform(0, 360)),
        hue_range=float(rng.uniform(40, 110) if background else rng.uniform(10, 50)),
        hue_shift=float(rng.choice([-1, 1]) * rng.uniform(60, 180)),
        sat=(float(rng.uniform(0.55, 1.0)), float(rng.uniform(0.4, 1.0))),
        val=(float(rng.uniform(0.5, 1.0)), float(rng.uniform(0.3, 0.9))),
        detail=float(rng.uniform(0.03, 0.1)))


def _eval_fields(material: _Material, affine: np.ndarray, xs: np.ndarray,
                 ys: np.ndarray) -> np.ndarray:
    """The material's fields at screen pixels, through an affine texture map.

    Args:
        material: the texture.
        affine: (2, 3) map from screen (x, y, 1) to texture coordinates.
        xs: (W,) screen x of the columns; ys: (H,) screen y of the rows.

    Returns:
        (F, H, W) float32 fields.
    """
    omega = material.freqs @ affine[:, :2]  # (F, K, 2) screen radians per pixel
    phase = material.freqs @ affine[:, 2] + material.phases  # (F, K)
    ax = omega[..., 0, None] * xs + phase[..., None]  # (F, K, W)
    ay = omega[..., 1, None] * ys  # (F, K, H)
    amps = material.amps[..., None]  # (F, K, 1)
    cols = np.concatenate([amps * np.cos(ax), -amps * np.sin(ax)], 1)  # (F, 2K, W)
    rows = np.concatenate([np.cos(ay), np.sin(ay)], 1)  # (F, 2K, H)
    return np.matmul(rows.transpose(0, 2, 1).astype(np.float32),
                     cols.astype(np.float32))  # (F, H, W)


def _shade(material: _Material, fields: np.ndarray) -> np.ndarray:
    """Colour (H, W, 3) uint8 RGB from the (F, H, W) float32 fields."""
    if material.pattern == 'flat':
        p = np.zeros_like(fields[0])
    elif material.pattern == 'checker':
        p = 0.5 + 0.5 * np.tanh(0.5 * material.sharpness * fields[4] * fields[5])
    else:
        p = 0.5 + 0.5 * np.tanh(material.sharpness * fields[4])
    # 8-bit "full range" HSV: hue in 1/256 turns, so that it wraps by integer overflow
    scale = 256.0 / 360.0
    hue = (scale * material.hue + (scale * material.hue_range) * fields[0]
           + (scale * material.hue_shift) * p)
    hue = (hue.astype(np.int32) & 255).astype(np.uint8)
    sat_a, sat_b = material.sat
    val_a, val_b = material.val
    sat = 255.0 * sat_a + (255.0 * (sat_b - sat_a)) * p + (255.0 * 0.12) * fields[1]
    val = (255.0 * val_a + (255.0 * (val_b - val_a)) * p + (255.0 * 0.12) * fields[2]
           + (255.0 * material.detail) * fields[3])
    sat = cv2.convertScaleAbs(np.maximum(sat, 64.0))  # rounds and saturates at 255
    val = cv2.convertScaleAbs(np.maximum(val, 25.0))
    return cv2.cvtColor(cv2.merge([hue, sat, val]), cv2.COLOR_HSV2RGB_FULL)


def _oscillation(rng: np.random.Generator, terms: int, periods: tuple[float, float],
                 amplitudes: tuple[float, float]) -> np.ndarray:
    """(terms, 3) rows (amplitude, angular frequency, phase) of a sum of sines."""
    amp = rng.uniform(*amplitudes, terms)
    omega = 2 * np.pi / rng.uniform(*periods, terms)
    phase = rng.uniform(0, 2 * np.pi, terms)
    return np.stack([amp, omega, phase], -1)


def _limit_rate(osc: np.ndarray, max_rate: float, exact: bool = False) -> np.ndarray:
    """Scale the amplitudes so that the derivative never exceeds ``max_rate``.

    With ``exact`` the bound is reached (at the moments the sines align).
    """
    rate = float((np.abs(osc[:, 0]) * osc[:, 1]).sum())
    if rate > max_rate or (exact and rate > 0):
        osc = osc.copy()
        osc[:, 0] *= max_rate / rate
    return osc


def _at(osc: np.ndarray, t: float) -> float:
    return float((osc[:, 0] * np.sin(osc[:, 1] * t + osc[:, 2])).sum())


@dataclass(frozen=True)
class _Object:
    outline: np.ndarray  # (M, 2) vertices in object pixels, around the origin
    material: _Material
    centre: tuple[float, float]  # mean position
    path: tuple[np.ndarray, np.ndarray]  # x and y oscillations
    angle: float
    spin: np.ndarray  # rotation: drift (rad / frame) in row 0 col 0, oscillations after
    scale: np.ndarray  # oscillations of log-scale
    label: int


def _draw_outline(rng: np.random.Generator, radius: float) -> np.ndarray:
    kind = ('ellipse', 'polygon', 'blob')[rng.integers(3)]
    if kind == 'polygon':
        n = int(rng.integers(3, 8))
        a = 2 * np.pi * (np.arange(n) + rng.uniform(-0.3, 0.3, n)) / n
        r = radius * rng.uniform(0.7, 1.0, n)
    else:
        a = np.linspace(0, 2 * np.pi, _OUTLINE_VERTICES, endpoint=False)
        if kind == 'ellipse':
            aspect = rng.uniform(0.45, 1.0)
            r = radius / np.sqrt(np.cos(a) ** 2 + (np.sin(a) / aspect) ** 2)
        else:
            k = np.arange(2, 6)[:, None]
            bumps = rng.uniform(0, 0.12, (4, 1)) * np.cos(k * a + rng.uniform(0, 2 * np.pi, (4, 1)))
            r = radius * (1 + bumps.sum(0)) / 1.2
    return np.stack([r * np.cos(a), r * np.sin(a)], -1)  # (M, 2)


class SyntheticScene:
    """The scene of one synthetic video; :meth:`render` draws any frame t.

    Args:
        seed (int): the video's seed; equal seeds give identical videos.
        size (Sequence[int]): (width, height) of the frames.
        num_objects (int | None): objects in the scene; ``None`` draws 2 to 5.
    """

    def __init__(self, seed: int, size: Sequence[int] = (256, 256),
                 num_objects: int | None = None) -> None:
        self.width, self.height = int(size[0]), int(size[1])
        if self.width < 8 or self.height < 8:
            raise ConfigError(f'size must be at least 8 x 8, got {tuple(size)}')
        rng = np.random.default_rng(int(seed))
        unit = min(self.width, self.height) / _REF_SIZE
        self.num_objects = int(rng.integers(2, 6)) if num_objects is None else int(num_objects)
        if self.num_objects < 0 or self.num_objects > 255:
            raise ConfigError(f'num_objects must be in 0..255, got {num_objects}')
        self._xs = np.arange(self.width, dtype=np.float64)
        self._ys = np.arange(self.height, dtype=np.float64)

        # Camera: pan drift plus oscillations (texture pixels), slow zoom oscillation.
        self.background = _draw_material(rng, unit, background=True)
        pan_speed = rng.uniform(1.0, _MAX_PAN_SPEED) * unit / np.sqrt(2)  # per axis
        self._pan = []
        for _ in range(2):
            drift = rng.uniform(-0.7, 0.7) * pan_speed
            osc = _oscillation(rng, 2, (40, 160), (10 * unit, 60 * unit))
            self._pan.append((drift, _limit_rate(osc, pan_speed - abs(drift), exact=True)))
        self._zoom = _limit_rate(_oscillation(rng, 2, (60, 200), (0.0, 0.05)), _MAX_ZOOM_RATE)

        # Objects, back to front; the biggest ones are the farthest.
        radii = np.sort(rng.uniform(0.08, 0.22, self.num_objects) * min(self.width, self.height))
        labels = rng.permutation(self.num_objects) + 1
        self.objects: list[_Object] = []
        for depth in range(self.num_objects):
            radius = float(radii[-1 - depth])
            outline = _draw_outline(rng, radius)
            material = _draw_material(rng, unit, background=False)
            speed = rng.uniform(1.0, _MAX_OBJECT_SPEED) * unit / np.sqrt(2)  # per axis
            centre, path = [], []
            for extent in (self.width, self.height):
                osc = _limit_rate(_oscillation(rng, 2, (30, 150), (0.05 * extent, 0.2 * extent)),
                                  speed, exact=True)
                reach = np.abs(osc[:, 0]).sum()
                # the centre stays inside the frame (about 8 % from its edges)
                span = max(0.0, 0.42 * extent - reach)
                centre.append(extent / 2 + rng.uniform(-span, span))
                path.append(osc)
            spin_rate = _MAX_ROTATION_RIM_SPEED * unit / radius  # rad / frame
            spin = _oscillation(rng, 2, (40, 200), (0.1, 1.0))
            drift = rng.uniform(-0.5, 0.5) * spin_rate
            spin = np.vstack([[drift, 0.0, 0.0], _limit_rate(spin, spin_rate - abs(drift))])
            scale = _limit_rate(_oscillation(rng, 2, (40, 200), (0.0, 0.1)),
                                _MAX_SCALING_RIM_SPEED * unit / (1.25 * radius))
            self.objects.append(_Object(
                outline=outline, material=material, centre=tuple(centre),
                path=tuple(path), angle=float(rng.uniform(0, 2 * np.pi)), spin=spin,
                scale=scale, label=int(labels[depth])))

    def background_affine(self, t: float) -> np.ndarray:
        """(2, 3) map from screen (x, y, 1) to background texture coordinates at frame t."""
        zoom = float(np.exp(_at(self._zoom, t)))
        offset = [drift * t + _at(osc, t) for drift, osc in self._pan]
        cx, cy = (self.width - 1) / 2, (self.height - 1) / 2
        return np.array([[1 / zoom, 0.0, cx - cx / zoom + offset[0]],
                         [0.0, 1 / zoom, cy - cy / zoom + offset[1]]])

    def object_pose(self, index: int, t: float) -> tuple[np.ndarray, float, float]:
        """Centre (2,), angle (rad) and scale of object ``index`` (depth order) at frame t."""
        obj = self.objects[index]
        centre = np.array([c + _at(osc, t) for c, osc in zip(obj.centre, obj.path)])
        angle = obj.angle + obj.spin[0, 0] * t + _at(obj.spin[1:], t)
        scale = float(np.exp(_at(obj.scale, t)))
        return centre, angle, scale

    def object_outline(self, index: int, t: float) -> np.ndarray:
        """(M, 2) screen (x, y) outline of object ``index`` (depth order) at frame t."""
        centre, angle, scale = self.object_pose(index, t)
        c, s = np.cos(angle), np.sin(angle)
        rot = np.array([[c, -s], [s, c]])
        return centre + scale * self.objects[index].outline @ rot.T

    def _object_affine(self, index: int, t: float) -> np.ndarray:
        """(2, 3) map from screen to the object's own texture coordinates."""
        centre, angle, scale = self.object_pose(index, t)
        c, s = np.cos(angle) / scale, np.sin(angle) / scale
        inv = np.array([[c, s], [-s, c]])  # rotation by -angle, divided by the scale
        return np.concatenate([inv, -(inv @ centre)[:, None]], 1)

    def render(self, t: int) -> tuple[np.ndarray, np.ndarray]:
        """Frame t.

        Returns:
            tuple[np.ndarray, np.ndarray]: (H, W, 3) uint8 RGB frame and (H, W)
            uint8 visible-instance mask (0 background, 1..N objects).
        """
        frame = _shade(self.background, _eval_fields(
            self.background, self.background_affine(t), self._xs, self._ys))  # (H, W, 3)
        mask = np.zeros((self.height, self.width), np.uint8)
        outlines = [self.object_outline(i, t) for i in range(self.num_objects)]
        for obj, outline in zip(self.objects, outlines):  # back to front
            cv2.fillPoly(mask, [np.round(outline * 16).astype(np.int32)], obj.label,
                         lineType=cv2.LINE_8, shift=4)
        for i, (obj, outline) in enumerate(zip(self.objects, outlines)):
            x0, y0 = np.maximum(np.floor(outline.min(0)).astype(int) - 1, 0)
            x1, y1 = np.ceil(outline.max(0)).astype(int) + 2
            x1, y1 = min(x1, self.width), min(y1, self.height)
            if x1 <= x0 or y1 <= y0:
                continue
            visible = mask[y0:y1, x0:x1] == obj.label
            if not visible.any():
                continue
            colour = _shade(obj.material, _eval_fields(
                obj.material, self._object_affine(i, t), self._xs[x0:x1], self._ys[y0:y1]))
            np.copyto(frame[y0:y1, x0:x1], colour, where=visible[..., None])
        return frame, mask


def render_synthetic_video(seed: int, num_frames: int, size: Sequence[int] = (256, 256),
                           num_objects: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Render frames 0..num_frames-1 of the synthetic video of ``seed``.

    Args:
        seed (int): the video's seed.
        num_frames (int): T.
        size (Sequence[int]): (W, H).
        num_objects (int | None): objects; ``None`` draws 2 to 5 from the seed.

    Returns:
        tuple[np.ndarray, np.ndarray]: frames (T, H, W, 3) uint8 RGB and
        visible-instance masks (T, H, W) uint8 (0 background, 1..N objects).
    """
    scene = SyntheticScene(seed, size, num_objects)
    frames, masks = zip(*(scene.render(t) for t in range(num_frames)))
    return np.stack(frames), np.stack(masks)


@DATASETS.register_module()
class SyntheticVideos(BaseClipDataset):
    """Procedural videos with instance masks, rendered on the fly (no files).

    Video ``i`` is :class:`SyntheticScene` with seed
    ``synthetic_video_seed(seed, i)``; samples carry ``synthetic_seed``,
    ``synthetic_size`` and ``synthetic_num_objects`` for the
    ``LoadSyntheticClip`` transform, which renders just the clip's frames
    (about 1-3 ms per 256 x 256 frame). Frames are rendered at ``size``, so a
    following ``ResizeClip`` to the same size does nothing. Motion is at most
    about 5 px per frame at 256 px, so ``frame_stride=4`` keeps clip frames
    within CorrFlow's ±24 px window.

    Args:
        num_videos (int): number of videos.
        num_frames (int): frames per video.
        size (Sequence[int]): (width, height) of the frames.
        seed (int): dataset seed (non-negative).
        num_objects (int | None): objects per video; ``None`` draws 2 to 5.
        clip_length (int): frames per clip.
        frame_stride (int): distance between clip frames.
        **kwargs: other :class:`BaseClipDataset` arguments (``pipeline``, ...).
    """

    def __init__(self, num_videos: int = 1000, num_frames: int = 48,
                 size: Sequence[int] = (256, 256), seed: int = 0,
                 num_objects: int | None = None, clip_length: int = 3, frame_stride: int = 4,
                 **kwargs) -> None:
        if num_videos < 1 or num_frames < 1:
            raise ConfigError(f'num_videos and num_frames must be positive, got {num_videos} '
                             f'and {num_frames}')
        if seed < 0:
            raise ConfigError(f'seed must be non-negative, got {seed}')
        self.num_videos = int(num_videos)
        self.num_frames = int(num_frames)
        self.size = (int(size[0]), int(size[1]))
        self.seed = int(seed)
        self.num_objects = num_objects
        super().__init__(clip_length=clip_length, frame_stride=frame_stride, **kwargs)

    def load_videos(self) -> list[dict]:
        """One entry per video; ``video_path`` is None (nothing to read)."""
        return [dict(video=f'synthetic_{i:05d}', video_path=None, num_frames=self.num_frames)
                for i in range(self.num_videos)]

    def load_data_list(self) -> list[dict]:
        """Clips of the base class, with the rendering parameters instead of a path."""
        clips = super().load_data_list()
        for clip in clips:
            del clip['video_path']
            index = int(clip['video'].rsplit('_', 1)[1])
            clip['synthetic_seed'] = synthetic_video_seed(self.seed, index)
            clip['synthetic_size'] = self.size
            clip['synthetic_num_objects'] = self.num_objects
        return clips
