"""Training clips from any folder of video files and/or frame folders."""
from __future__ import annotations

import math
import os
import os.path as osp

import numpy as np
from mmengine.logging import MMLogger

from corrflow.datasets.base_clip_dataset import BaseClipDataset
from corrflow.datasets.clip_patterns import TimeCyclePattern
from corrflow.datasets.video_io import (FRAMES_MARKER, IMAGE_EXTENSIONS, VIDEO_EXTENSIONS,
                                        DataError, count_video_frames, natural_sort_key,
                                        probe_video, recorded_frame_rate)
from corrflow.registry import DATASETS
from corrflow.errors import ConfigError

__all__ = ['VideoFolder', 'TimeCycleVideoFolder', 'DEFAULT_FRAMES_FPS']

#: Frame rate of frame folders that record none (and of videos that state none)
#: when ``frames_fps`` is not given.
DEFAULT_FRAMES_FPS = 30.0


@DATASETS.register_module()
class VideoFolder(BaseClipDataset):
    """Clips from a user's folder of videos (one's own data, no list needed).

    The folder ``<data_root>/<data_prefix['img']>`` is scanned recursively for
    video files (:data:`~corrflow.datasets.video_io.VIDEO_EXTENSIONS`) and
    frame folders (a directory directly holding at least one image file of
    :data:`~corrflow.datasets.video_io.IMAGE_EXTENSIONS`; its frames are its
    images sorted naturally by name, so ``2.jpg`` precedes ``10.jpg``). Hidden
    files and folders are ignored. With ``ann_file``, only the listed entries
    (one path per line, relative to the folder: a video file, or a folder that
    is scanned the same way) are used, in list order.

    Video files are probed with OpenCV (PyAV when OpenCV cannot decode them);
    undecodable ones are skipped with a warning that counts and names them
    (``num_undecodable_videos``). Clips are sampled at about ``target_fps``:
    the stride of a video is ``max(1, round(fps / target_fps))``, where ``fps``
    is, in this order: the rate a video's container states, or the rate a
    frame folder records (the ``.done`` file of ``tools/data/extract_frames.py``,
    see :func:`~corrflow.datasets.video_io.recorded_frame_rate`); else
    ``frames_fps``; else 30 (:data:`DEFAULT_FRAMES_FPS`), which is then logged
    once with the folders it applies to. A recorded rate is the truth: a
    ``frames_fps`` that differs from one by more than 1 % is refused.

    ``data_root=None`` (and no absolute ``data_prefix``) gives an empty dataset,
    so that a config can carry an optional user folder that ``tools/train.py
    --data-root`` fills in.

    Args:
        data_root (str | None): root folder; ``None`` for an empty dataset.
        data_prefix (dict | None): ``dict(img=sub-folder)`` relative to
            ``data_root``; default ``dict(img='')`` (the root itself).
        ann_file (str): optional list of entries to use instead of scanning.
        target_fps (float | None): sampling rate of the clip frames; ``None``
            uses ``frame_stride`` for every video.
        frames_fps (float | None): frame rate of the frame folders that record
            none and of the videos whose container states none; None: 30.
        exact_frame_count (bool): count the frames of each video by decoding it
            (about 1 ms per 480p frame when the dataset is built) instead of
            trusting the container's count, which can exceed the decodable
            frames by a few and make the last clip of a video fail to load.
        clip_length (int): frames per clip.
        frame_stride (int): clip frame distance when ``target_fps`` is None.
        **kwargs: other :class:`BaseClipDataset` arguments (``pipeline``, ...).

    Raises:
        DataError: the folder or a listed entry does not exist, or holds no
            usable video or frame folder; or ``frames_fps`` contradicts the
            rate a frame folder records.
    """

    def __init__(self, data_root: str | None = None, data_prefix: dict | None = None,
                 ann_file: str = '', target_fps: float | None = 6.0,
                 frames_fps: float | None = None,
                 exact_frame_count: bool = True, clip_length: int = 3, frame_stride: int = 4,
                 **kwargs) -> None:
        if target_fps is not None and target_fps <= 0:
            raise ConfigError(f'target_fps must be positive or None, got {target_fps}')
        if frames_fps is not None and frames_fps <= 0:
            raise ConfigError(f'frames_fps must be positive or None, got {frames_fps}')
        self.target_fps = target_fps
        self.frames_fps = frames_fps
        self.exact_frame_count = exact_frame_count
        self.num_undecodable_videos = 0
        self.undecodable_videos: list[str] = []
        super().__init__(data_root=data_root, data_prefix=data_prefix or dict(img=''),
                         ann_file=ann_file, clip_length=clip_length, frame_stride=frame_stride,
                         **kwargs)

    def video_fps(self, video: dict) -> float:
        """Frame rate of one video: stated or recorded, else ``frames_fps``, else 30."""
        return video.get('fps') or self.frames_fps or DEFAULT_FRAMES_FPS

    def video_stride(self, video: dict) -> int:
        """``round(fps / target_fps)``, at least 1 (``frame_stride`` without target_fps)."""
        if self.target_fps is None:
            return self.frame_stride
        return max(1, round(self.video_fps(video) / self.target_fps))

    def _check_frame_rates(self, videos: list[dict]) -> None:
        """Refuse a ``frames_fps`` that contradicts a recorded rate; log the default's use."""
        if self.target_fps is None:  # strides are frame_stride: no rate is used
            return
        name = type(self).__name__
        if self.frames_fps is not None:
            clash = [v for v in videos if v.get('frame_paths') is not None and v.get('fps')
                     and not math.isclose(v['fps'], self.frames_fps, rel_tol=0.01)]
            if clash:
                first = clash[0]
                marker = osp.join(osp.dirname(first['frame_paths'][0]), FRAMES_MARKER)
                more = f' (and {len(clash) - 1} more folders)' if len(clash) > 1 else ''
                raise DataError(
                    f'{name}: frames_fps={self.frames_fps:g} contradicts the {first["fps"]:g} '
                    f'fps recorded for the frame folder {first["video"]} in {marker}{more}; '
                    'folders that record their rate are sampled at it: remove frames_fps, or '
                    f'give the folders that record none a {name} of their own')
            return
        unstated = [v['video'] for v in videos if not v.get('fps')]
        if unstated:
            MMLogger.get_current_instance().warning(
                f'{name}: {len(unstated)} frame folders or videos record no frame rate and '
                f'count as {DEFAULT_FRAMES_FPS:g} fps (set frames_fps, or extract the frames '
                'with tools/data/extract_frames.py, which records it): '
                + ', '.join(unstated[:10]) + (' ...' if len(unstated) > 10 else ''))

    def load_videos(self) -> list[dict]:
        """Scan the folder (or read the list) and probe every video file."""
        logger = MMLogger.get_current_instance()
        root = self.data_prefix.get('img', '')
        if not root:
            logger.info(f'{type(self).__name__}: no data_root given, the dataset is empty')
            return []
        if not osp.isdir(root):
            raise DataError(f'{type(self).__name__}: data folder {root} does not exist')
        undecodable: list[str] = []
        if self.ann_file:
            videos = self._load_list(root, undecodable)
        else:
            videos = self._scan(root, root, undecodable)
        self.undecodable_videos = undecodable
        self.num_undecodable_videos = len(undecodable)
        if undecodable:
            logger.warning(
                f'{type(self).__name__}: skipped {len(undecodable)} video files that neither '
                'OpenCV nor PyAV can decode (convert them to mp4/H.264 or extract their '
                'frames): ' + ', '.join(undecodable[:10]) + (' ...' if len(undecodable) > 10
                                                            else ''))
        if not videos:
            where = f'the entries of {self.ann_file}' if self.ann_file else root
            raise DataError(self._nothing_usable(where, len(undecodable)))
        self._check_frame_rates(videos)
        return videos

    @staticmethod
    def _nothing_usable(where: str, num_undecodable: int) -> str:
        extra = f' ({num_undecodable} undecodable video files skipped)' if num_undecodable else ''
        return (f'{where} holds no usable video file ({", ".join(VIDEO_EXTENSIONS)}) and no '
                f'folder of frames ({", ".join(IMAGE_EXTENSIONS)}){extra}')

    def _load_list(self, root: str, undecodable: list[str]) -> list[dict]:
        """Entries of ``ann_file``, each a video file or a folder to scan."""
        if not osp.isfile(self.ann_file):
            raise DataError(f'list file {self.ann_file} does not exist')
        entries = []
        with open(self.ann_file, encoding='utf-8') as f:
            for line_no, line in enumerate(f, start=1):
                entry = line.strip()
                if entry and not entry.startswith('#'):
                    entries.append((line_no, entry, osp.join(root, entry)))
        missing = [f'line {n}: {path}' for n, _, path in entries if not osp.exists(path)]
        if missing:
            raise DataError(f'{self.ann_file}: {len(missing)} listed entries do not exist: '
                            + '; '.join(missing[:10]) + (' ...' if len(missing) > 10 else ''))
        videos = []
        for line_no, entry, path in entries:
            if osp.isdir(path):
                skipped_before = len(undecodable)
                found = self._scan(path, root, undecodable)
                if not found:
                    raise DataError(f'{self.ann_file} line {line_no}: ' + self._nothing_usable(
                        path, len(undecodable) - skipped_before))
                videos.extend(found)
            elif path.lower().endswith(VIDEO_EXTENSIONS):
                video = self._probe(path, root)
                if video is None:
                    undecodable.append(entry)
                else:
                    videos.append(video)
            else:
                raise DataError(f'{self.ann_file} line {line_no}: {path} is neither a video '
                                f'file ({", ".join(VIDEO_EXTENSIONS)}) nor a folder')
        return videos

    def _scan(self, directory: str, root: str, undecodable: list[str]) -> list[dict]:
        """Videos and frame folders under ``directory`` (recursive, sorted by name)."""
        videos = []
        visited = set()
        for dirpath, dirnames, filenames in os.walk(directory, followlinks=True):
            real = osp.realpath(dirpath)
            if real in visited:  # a symbolic link loop
                dirnames[:] = []
                continue
            visited.add(real)
            dirnames[:] = sorted((d for d in dirnames if not d.startswith('.')),
                                 key=natural_sort_key)
            files = sorted((f for f in filenames if not f.startswith('.')), key=natural_sort_key)
            images = [f for f in files if f.lower().endswith(IMAGE_EXTENSIONS)]
            if images:
                videos.append(dict(video=self._name(dirpath, root),
                                   frame_paths=[osp.join(dirpath, f) for f in images],
                                   fps=recorded_frame_rate(dirpath)))
            for name in files:
                if name.lower().endswith(VIDEO_EXTENSIONS):
                    path = osp.join(dirpath, name)
                    video = self._probe(path, root)
                    if video is None:
                        undecodable.append(self._name(path, root))
                    else:
                        videos.append(video)
        return sorted(videos, key=lambda v: natural_sort_key(v['video']))

    @staticmethod
    def _name(path: str, root: str) -> str:
        rel = osp.relpath(path, root)
        if rel == '.':
            rel = osp.basename(osp.normpath(osp.abspath(root)))
        return rel.replace(os.sep, '/')

    def _probe(self, path: str, root: str) -> dict | None:
        """Video entry of a file, or None when it cannot be decoded."""
        try:
            info = probe_video(path)
            num = count_video_frames(path) if self.exact_frame_count else info.num_frames
        except DataError:
            return None
        fps = info.fps if np.isfinite(info.fps) and info.fps > 0 else None
        return dict(video=self._name(path, root), video_path=path, num_frames=num, fps=fps)


@DATASETS.register_module()
class TimeCycleVideoFolder(VideoFolder):
    """TimeCycle samples from a user's folder of videos and/or frame folders.

    The folder (or ``ann_file``) is read exactly as by :class:`VideoFolder`;
    each sample is the frames of a
    :class:`~corrflow.datasets.clip_patterns.TimeCyclePattern`, whose offsets
    count frames at ``target_fps`` (12 in TimeCycle, VLOG's rate): base frames
    0, 2, 4, 6, target 15 and motion frame 17 by default, in this order. An
    offset ``o`` is the source frame nearest to ``o / target_fps`` seconds
    after the sample's first frame, ``floor(o * fps / target_fps + 0.5)``
    (a 30 fps video: 0, 5, 10, 15, 38, 43); a video slower than
    ``target_fps`` gives consecutive frames. The rate ``fps`` of a video is
    found as in :class:`VideoFolder`. Samples of a video do not overlap (they
    start one sample span apart); videos too short for one sample are skipped
    and counted. Data samples carry ``num_motion_frames`` for
    ``TimeCyclePatch``.

    Args:
        num_base_frames (int): base frames per sample (4).
        base_gap (int): distance between base frames, in frames at
            ``target_fps`` (2).
        target_distance (int): distance from the first base frame to the
            target frame (15).
        motion_gap (int | None): distance from the target to the motion frame
            (2); ``None`` for none.
        target_fps (float | None): rate the offsets are counted at; ``None``:
            offsets are source frames.
        **kwargs: other :class:`VideoFolder` arguments (``data_root``,
            ``data_prefix``, ``ann_file``, ``frames_fps``, ``pipeline``, ...);
            not ``clip_length`` or ``frame_stride``, which the pattern replaces.

    Raises:
        ConfigError: an invalid pattern or rate.
        DataError: as :class:`VideoFolder`, or no video is long enough for one
            sample.
    """

    def __init__(self, num_base_frames: int = 4, base_gap: int = 2, target_distance: int = 15,
                 motion_gap: int | None = 2, target_fps: float | None = 12.0,
                 **kwargs) -> None:
        for key in ('clip_length', 'frame_stride'):
            if key in kwargs:
                raise ConfigError(f'{type(self).__name__} takes no {key}: its frames are set by '
                                  'num_base_frames, base_gap, target_distance and motion_gap')
        self.pattern = TimeCyclePattern(num_base_frames, base_gap, target_distance, motion_gap)
        super().__init__(target_fps=target_fps, clip_length=len(self.pattern.offsets),
                         **kwargs)

    def clip_pattern(self, video: dict) -> tuple[list[int], int]:
        """The pattern's offsets in the video's frames; samples start one span apart."""
        rate = 1.0 if self.target_fps is None else self.video_fps(video) / self.target_fps
        offsets = self.pattern.scaled_offsets(max(1.0, rate))
        return offsets, max(offsets) + 1

    def clip_fields(self) -> dict:
        """``num_motion_frames`` for ``TimeCyclePatch``."""
        return dict(num_motion_frames=self.pattern.num_motion_frames)
