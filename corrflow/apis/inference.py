"""Propagate labels through one's own video, from Python.

Example::

    from corrflow.apis import init_model, propagate

    model = init_model(checkpoint='checkpoints/corrflow_r18_davis16.pth')
    result = propagate(model, 'my_video.mp4', 'first_frame_mask.png')
    result['masks']  # (T, H, W) uint8 label ids, frame 0 = the given mask
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from PIL import Image

from corrflow.datasets.video_io import (IMAGE_EXTENSIONS, VIDEO_EXTENSIONS, DataError,
                                        count_video_frames, natural_sort_key, probe_video,
                                        read_image, read_video_frames)
from corrflow.utils.checkpoint import load_model_weights
from corrflow.errors import ConfigError
from corrflow.utils.config_check import check_cfg_options, check_config_components

__all__ = ['init_model', 'load_test_config', 'propagate', 'read_video', 'read_first_labels',
           'DEFAULT_CONFIG', 'MAX_MASK_COLOURS', 'config_roots', 'find_config']

#: The propagation config used when none is given (protocol A, CorrFlow encoder).
DEFAULT_CONFIG = 'configs/test/corrflow_davis.py'
#: A colour PNG with more distinct colours than this is not a label mask.
MAX_MASK_COLOURS = 64


def config_roots() -> list[Path]:
    """Where relative config paths such as ``configs/test/corrflow_davis.py`` are looked up
    after the working directory: the configs installed with the package
    (``corrflow/.mim/configs``, copied in by ``pip install .``), then, for an editable
    install, the source checkout the package belongs to."""
    package = Path(__file__).resolve().parents[1]
    roots = [package / '.mim']
    checkout = package.parent
    if (checkout / 'setup.py').is_file() and (checkout / 'configs').is_dir():
        roots.append(checkout)
    return [root for root in roots if (root / 'configs').is_dir()]


def find_config(config: str | Path) -> Path:
    """The config file ``config`` names: as given, or relative to :func:`config_roots`.

    Raises:
        FileNotFoundError: no such file in any of them (one line naming where it looked).
    """
    path = Path(config)
    if path.is_file():
        return path
    if not path.is_absolute():
        for root in config_roots():
            if (root / path).is_file():
                return root / path
    where = ', '.join(str(r) for r in config_roots()) or 'no installed configs'
    raise FileNotFoundError(f'config {config} does not exist (looked in the working '
                            f'directory and in {where})')


def load_test_config(config: str | Path | None = None,
                     cfg_options: dict | None = None) -> Config:
    """Read a config file, with checked overrides merged in.

    A relative path that does not exist from the working directory is looked
    up from the repository root, so ``configs/test/...`` works from anywhere.

    Args:
        config: the file; default :data:`DEFAULT_CONFIG`.
        cfg_options: ``{dotted key: value}`` overrides; a key that is neither
            in the config nor an argument of the component it sets is refused.

    Raises:
        FileNotFoundError: the config file does not exist.
        ConfigError: an override names a key that does not exist, or the config
            names a component or argument that does not exist.
    """
    path = find_config(config or DEFAULT_CONFIG)
    cfg = Config.fromfile(str(path))
    check_cfg_options(cfg, cfg_options)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    check_config_components(cfg, str(path))
    return cfg


def init_model(config: str | Path | Config | None = None, checkpoint: str | Path | None = None,
               device: str | torch.device = 'cpu', cfg_options: dict | None = None,
               amp: str | bool | None = None):
    """Build a label propagator from a test config and load its weights.

    Args:
        config: a test config (file or :class:`Config`); default
            ``configs/test/corrflow_davis.py`` (the paper's propagation).
        checkpoint: corrflow checkpoint (training checkpoint or model-zoo
            weights); ``None`` keeps the initial weights.
        device: where the model runs.
        cfg_options: overrides merged into the config (e.g.
            ``{'model.input_size': 480}``); keys must exist (see
            :func:`load_test_config`).
        amp: mixed precision (``'auto'``, ``'bf16'``, ``'fp16'``, ``'fp32'``);
            ``None`` keeps the config's ``model.amp`` (see
            :func:`corrflow.utils.precision.resolve_precision`).

    Returns:
        LabelPropagator: in eval mode, with ``cfg`` attached.

    Raises:
        FileNotFoundError: the config file does not exist.
        ConfigError: the config's model is not a ``LabelPropagator``, or an
            override names a key that does not exist.
        CheckpointError: the checkpoint is missing, unsafe or of another
            architecture (no partial loading).
    """
    from corrflow.registry import MODELS

    if isinstance(config, Config):
        check_cfg_options(config, cfg_options)
        if cfg_options:
            config.merge_from_dict(cfg_options)
        check_config_components(config)
    else:
        config = load_test_config(config, cfg_options)
    init_default_scope(config.get('default_scope', 'corrflow'))
    model_cfg = config.model
    if model_cfg.get('type') != 'LabelPropagator':
        raise ConfigError(f'config model is a {model_cfg.get("type")}; use a test config whose '
                          'model is a LabelPropagator (configs/test/*.py)')
    if amp is not None:
        model_cfg.amp = amp
    model = MODELS.build(model_cfg)
    if checkpoint is not None and str(checkpoint).lower() != 'none':
        load_model_weights(model, checkpoint)
    model.cfg = config
    return model.to(device).eval()


def read_video(source: str | Path | np.ndarray | Sequence[np.ndarray],
               max_frames: int | None = None) -> tuple[np.ndarray, float]:
    """Frames of a video file, a folder of frames, or arrays.

    Args:
        source: a video file, a folder of frames, an array (T, H, W, 3) or a
            list of frames.
        max_frames (int, optional): keep only the first ``max_frames`` frames;
            of a file or folder, only those are decoded (all by default).

    Returns:
        tuple[np.ndarray, float]: (T, H, W, 3) uint8 RGB frames and the frame
        rate (from the container; 0.0 when unknown).
    """
    if max_frames is not None and max_frames < 1:
        raise ValueError(f'max_frames must be at least 1, got {max_frames}')
    if isinstance(source, np.ndarray):
        return _check_frames(source[:max_frames]), 0.0
    if isinstance(source, (list, tuple)):
        return read_video(np.stack(source[:max_frames]))
    path = Path(source)
    if not path.exists():
        raise DataError(f'video {path} does not exist')
    if path.is_dir():
        files = sorted((p for p in path.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS),
                       key=lambda p: natural_sort_key(p.name))[:max_frames]
        if not files:
            raise DataError(f'folder {path} holds no frames ({", ".join(IMAGE_EXTENSIONS)})')
        frames = [read_image(p) for p in files]
        if any(f.shape != frames[0].shape for f in frames):
            odd = next(p for p, f in zip(files, frames) if f.shape != frames[0].shape)
            raise DataError(f'frame {odd} has another size than {files[0]}')
        return np.stack(frames), 0.0
    if path.suffix.lower() not in VIDEO_EXTENSIONS:
        raise DataError(f'{path} is neither a video file ({", ".join(VIDEO_EXTENSIONS)}) nor a '
                        'folder of frames')
    info = probe_video(path)
    num = count_video_frames(path)
    if num < 1:
        raise DataError(f'video {path} has no decodable frame')
    if max_frames is not None:
        num = min(num, max_frames)
    return np.stack(read_video_frames(path, list(range(num)))), info.fps


def read_first_labels(source: str | Path | np.ndarray, size: tuple[int, int] | None = None,
                      threshold: int | None = None) -> dict:
    """First-frame labels from an indexed/colour PNG, a keypoint JSON, or an array.

    PNG masks: palette or grayscale images are read as label ids (a 0/255
    binary mask becomes 0/1; with ``threshold`` a grayscale mask becomes
    ``value >= threshold``); RGB(A) images are mapped to ids, black being
    background and the other colours numbered from 1 in order of first
    appearance (row-major). Keypoint JSON: a list of ``[x, y]`` (pixels) or
    ``{"keypoints": [[x, y], ...], "names": [...]}`` (one name per joint).

    Args:
        source: the file, an (H, W) id array, or a (J, 2) keypoint array.
        size: (H, W) of the frames, checked against a mask; keypoints must
            lie inside a frame of this size.
        threshold: binarise a grayscale mask at this value.

    Returns:
        dict: ``mask`` (H, W) uint8 and ``colours`` ({id: (r, g, b)} for colour
        PNGs), or ``keypoints`` (J, 2) float32 and ``names``.

    Raises:
        DataError: the file is missing, unreadable or malformed, the mask has
            another size than ``size`` or labels nothing, a keypoint lies
            outside the frame.
    """
    if isinstance(source, np.ndarray):
        if source.ndim == 2 and source.shape[1] == 2 and source.dtype.kind == 'f':
            return dict(keypoints=source.astype(np.float32), names=None)
        return dict(mask=_check_mask(_label_ids(source), size, 'the given array'),
                    colours=None)
    path = Path(source)
    if not path.is_file():
        raise DataError(f'first-frame labels {path} do not exist')
    if path.suffix.lower() == '.json':
        return _read_keypoints(path, size)
    try:
        with Image.open(path) as img:
            mode = img.mode
            if mode in ('P', 'L', '1', 'I', 'I;16'):
                ids = np.asarray(img)
            else:
                rgb = np.asarray(img.convert('RGB'))
    except (OSError, SyntaxError) as err:
        raise DataError(f'first-frame labels {path} could not be read as an image ({err})') \
            from None
    colours = None
    if mode in ('P', 'L', '1', 'I', 'I;16'):
        ids = ids.astype(np.int64)
        values = np.unique(ids)
        if threshold is not None:
            ids = (ids >= threshold).astype(np.int64)
        elif mode != 'P' and set(values.tolist()) <= {0, 255}:
            ids = (ids == 255).astype(np.int64)  # a binary 0/255 mask
        elif mode != 'P' and len(values) > MAX_MASK_COLOURS:
            raise DataError(f'mask {path} has {len(values)} grey levels; an anti-aliased or '
                            'photographic image is not a label map (binarise it with '
                            '--threshold 128, or give an indexed PNG)')
        if ids.max() > 254:
            hint = '' if mode == 'P' else (' (a grey mask other than 0/255 is read as label '
                                           'ids; binarise it with --threshold 128)')
            raise DataError(f'mask {path} has label ids up to {ids.max()}; ids must be < 255'
                            + hint)
        mask = ids.astype(np.uint8)
    else:
        flat = rgb.reshape(-1, 3)
        uniq, first, inverse = np.unique(flat, axis=0, return_index=True, return_inverse=True)
        if len(uniq) > MAX_MASK_COLOURS:
            raise DataError(f'colour mask {path} has {len(uniq)} colours (at most '
                            f'{MAX_MASK_COLOURS} are accepted); is it a photo or an '
                            'anti-aliased drawing? Use flat colours or an indexed PNG')
        order = [i for i in np.argsort(first) if uniq[i].any()]  # black is background
        lut = np.zeros(len(uniq), dtype=np.uint8)
        colours = {}
        for new_id, i in enumerate(order, start=1):
            lut[i] = new_id
            colours[new_id] = tuple(int(c) for c in uniq[i])
        mask = lut[inverse.reshape(-1)].reshape(rgb.shape[:2])
    return dict(mask=_check_mask(mask, size, str(path)), colours=colours)


def _check_frames(frames: np.ndarray) -> np.ndarray:
    """(T, H, W, 3) uint8 RGB frames given as an array, refused rather than cast."""
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise DataError(f'the given frames must be a (T, H, W, 3) RGB array, got shape '
                        f'{frames.shape}')
    if frames.dtype == np.uint8:
        return frames
    if frames.dtype.kind == 'f':
        low, high = float(np.nanmin(frames)), float(np.nanmax(frames))
        hint = ('they look like values in [0, 1]: pass (frames * 255).round().astype(np.uint8)'
                if high <= 1.0 else 'pass them as uint8 RGB in [0, 255]')
        raise DataError(f'the given frames are {frames.dtype} with values in [{low:g}, '
                        f'{high:g}]; frames must be uint8 RGB in [0, 255] ({hint})')
    if frames.dtype.kind in 'iu':
        low, high = int(frames.min()), int(frames.max())
        if low >= 0 and high <= 255:
            return frames.astype(np.uint8)  # exact: every value fits
        raise DataError(f'the given frames are {frames.dtype} with values in [{low}, {high}]; '
                        'frames must be uint8 RGB in [0, 255]')
    raise DataError(f'the given frames are {frames.dtype}; frames must be uint8 RGB in [0, 255]')


def _label_ids(mask: np.ndarray) -> np.ndarray:
    """Integer (or boolean) label ids given as an array, as uint8; refused rather than cast."""
    if mask.dtype == bool:
        return mask.astype(np.uint8)
    if mask.dtype.kind not in 'iu':
        raise DataError(f'the given mask is {mask.dtype}; give integer label ids (0 = '
                        'background, 1..254 = objects, 255 = unlabelled) or a boolean mask')
    if mask.size and (int(mask.min()) < 0 or int(mask.max()) > 255):
        bad = int(mask.min()) if int(mask.min()) < 0 else int(mask.max())
        raise DataError(f'the given mask holds label id {bad}; ids must lie in 0..255 '
                        '(0 = background, 1..254 = objects, 255 = unlabelled)')
    return mask.astype(np.uint8)


def _check_mask(mask: np.ndarray, size: tuple[int, int] | None, name: str) -> np.ndarray:
    if mask.ndim != 2:
        raise DataError(f'{name}: a mask must be (H, W), got {mask.shape}')
    if size is not None and mask.shape != tuple(size):
        raise DataError(f'{name} is {mask.shape[1]}x{mask.shape[0]} but the video frames are '
                        f'{size[1]}x{size[0]}; the mask must have the frame size')
    if not (mask[mask != 255] > 0).any():
        raise DataError(f'{name} labels no object (all pixels are background)')
    return mask


def _read_keypoints(path: Path, size: tuple[int, int] | None = None) -> dict:
    try:
        data = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as err:
        raise DataError(f'keypoint file {path} is not valid JSON ({err})') from None
    names = None
    if isinstance(data, dict):
        names = data.get('names')
        data = data.get('keypoints')
    expected = ('must hold a list of [x, y] pixel positions (or {"keypoints": [[x, y], ...], '
                '"names": [...]})')
    try:
        points = np.asarray(data, dtype=np.float32) if data is not None else np.zeros((0,))
    except (ValueError, TypeError):
        raise DataError(f'keypoint file {path} {expected}') from None
    if points.ndim != 2 or points.shape[1] != 2 or len(points) == 0:
        raise DataError(f'keypoint file {path} {expected}')
    if not np.isfinite(points).all():
        joint = int(np.flatnonzero(~np.isfinite(points).all(1))[0])
        raise DataError(f'keypoint file {path}: joint {joint} has no finite position; give '
                        'every joint as [x, y] numbers')
    if names is not None:
        if not isinstance(names, list) or len(names) != len(points) or \
                not all(isinstance(n, str) for n in names):
            raise DataError(f'keypoint file {path}: "names" must be a list of {len(points)} '
                            'strings, one per keypoint')
    if size is not None:
        H, W = size
        # pixel centres are integers: the frame spans [-0.5, W - 0.5] x [-0.5, H - 0.5]
        outside = (points[:, 0] < -0.5) | (points[:, 0] > W - 0.5) | \
            (points[:, 1] < -0.5) | (points[:, 1] > H - 0.5)
        if outside.any():
            j = int(np.flatnonzero(outside)[0])
            raise DataError(f'keypoint file {path}: joint {j} at ({points[j, 0]:g}, '
                            f'{points[j, 1]:g}) lies outside the {W}x{H} frame; positions are '
                            'pixels (x right, y down) of the first frame')
    return dict(keypoints=points, names=names)


@torch.no_grad()
def propagate(model, video, first_labels, threshold: int | None = None,
              progress: Callable[[int, int], None] | None = None) -> dict:
    """Propagate first-frame labels through a video.

    Args:
        model (LabelPropagator): from :func:`init_model`.
        video: a video file, a folder of frames, or (T, H, W, 3) RGB uint8 frames.
        first_labels: a PNG mask / keypoint JSON path, or an array (see
            :func:`read_first_labels`).
        threshold: binarise a grayscale first-frame mask at this value.
        progress: called as ``progress(t, T)`` once frame t (1..T-1) has its
            labels, e.g. to drive a progress bar.

    Returns:
        dict: ``frames`` (T, H, W, 3), ``fps``, and ``masks`` (T, H, W) uint8
        with ``colours`` (id -> RGB of a colour mask, or None), or
        ``keypoints`` (T, J, 2) with ``names``; ``propagation`` holds the
        settings used.

    Raises:
        DataError: the video or the labels are missing, unreadable or do not
            fit each other.
    """
    frames, fps = read_video(video)
    if len(frames) < 2:
        name = f'video {video}' if isinstance(video, (str, Path)) else 'the video'
        raise DataError(f'{name} has a single frame; nothing to propagate')
    labels = read_first_labels(first_labels, frames.shape[1:3], threshold)
    # a (T, 3, H, W) view of the frames: no second copy of the video in memory
    inputs = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2)
    sample = dict(video=str(video) if isinstance(video, (str, Path)) else 'frames')
    if 'mask' in labels:
        sample['first_mask'] = torch.from_numpy(labels['mask'])
    else:
        sample['first_keypoints'] = torch.from_numpy(labels['keypoints'])
    out = model.propagate_video(inputs, sample, progress=progress)
    result = dict(frames=frames, fps=fps, propagation=out['propagation'])
    if 'pred_masks' in out:
        result.update(masks=out['pred_masks'], colours=labels.get('colours'))
    else:
        result.update(keypoints=out['pred_keypoints'], names=labels.get('names'))
    return result

