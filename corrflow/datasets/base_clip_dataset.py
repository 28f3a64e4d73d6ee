"""Base class of the self-supervised training datasets: clips of T frames."""
from __future__ import annotations

from abc import ABCMeta, abstractmethod
from typing import Sequence

import numpy as np
from mmengine.dataset import BaseDataset
from mmengine.logging import MMLogger

from corrflow.datasets.video_io import DataError
from corrflow.errors import ConfigError

__all__ = ['BaseClipDataset', 'clip_starts', 'pattern_starts']


def pattern_starts(num_frames: int, span: int, spacing: int) -> list[int]:
    """First frames of the clips of a video: every ``spacing`` frames while a clip fits.

    Args:
        num_frames (int): frames of the video.
        span (int): frames a clip covers, from its first to its last frame.
        spacing (int): distance between the first frames of consecutive clips.

    Returns:
        list[int]: ``0, spacing, 2 * spacing, ...`` up to ``num_frames - span``;
        empty when the video is shorter than ``span``.
    """
    if num_frames < span:
        return []
    return list(range(0, num_frames - span + 1, spacing))


def clip_starts(num_frames: int, clip_length: int, frame_stride: int) -> list[int]:
    """First frames of the non-overlapping clips of a video.

    A clip is ``clip_length`` frames ``frame_stride`` apart (frames i, i+s,
    i+2s, ...); consecutive clips do not share frames, so they start
    ``clip_length * frame_stride`` frames apart.
    """
    return pattern_starts(num_frames, (clip_length - 1) * frame_stride + 1,
                          clip_length * frame_stride)


class BaseClipDataset(BaseDataset, metaclass=ABCMeta):
    """Videos cut into clips of ``clip_length`` frames ``frame_stride`` apart.

    Subclasses implement :meth:`load_videos`, returning one dict per video with
    ``video`` (a name) and either ``frame_paths`` (all frames, in order) or
    ``video_path`` and ``num_frames`` (a video file; frames are decoded by the
    pipeline). Each clip becomes one data sample with ``video``,
    ``frame_indices`` and ``frame_paths`` (frame folders) or ``video_path``,
    plus the fields of :meth:`clip_fields`. Which frames form a clip is
    :meth:`clip_pattern` (``clip_length`` frames ``video_stride`` apart unless a
    subclass says otherwise). Videos shorter than one clip are skipped; how
    many is logged once.

    Args:
        clip_length (int): frames per clip (3 in CorrFlow).
        frame_stride (int): distance between clip frames, in frames of the
            source (4 in CorrFlow, about 6 fps for 24-30 fps video).
        **kwargs: :class:`mmengine.dataset.BaseDataset` arguments (``data_root``,
            ``ann_file``, ``data_prefix``, ``pipeline``, ``indices``, ...).
    """

    def __init__(self, clip_length: int = 3, frame_stride: int = 4, **kwargs) -> None:
        if clip_length < 2 or frame_stride < 1:
            raise ConfigError(f'clip_length must be >= 2 and frame_stride >= 1, got '
                             f'{clip_length} and {frame_stride}')
        self.clip_length = clip_length
        self.frame_stride = frame_stride
        self.num_skipped_videos = 0
        super().__init__(**kwargs)

    @abstractmethod
    def load_videos(self) -> list[dict]:
        """One dict per video (see class docstring)."""

    def video_stride(self, video: dict) -> int:
        """Frame stride used for one video (subclasses may adapt it to its fps)."""
        return self.frame_stride

    def clip_pattern(self, video: dict) -> tuple[list[int], int]:
        """Frames of a clip of one video, as offsets from its first frame.

        Args:
            video (dict): an entry of :meth:`load_videos`.

        Returns:
            tuple[list[int], int]: the ``clip_length`` offsets (source frames,
            in the order the pipeline receives the frames) and the distance
            between the first frames of consecutive clips. By default the
            frames are ``video_stride`` apart and clips start ``clip_length``
            strides apart, so that they share no frame.
        """
        stride = self.video_stride(video)
        return [i * stride for i in range(self.clip_length)], self.clip_length * stride

    def clip_fields(self) -> dict:
        """Fields added to every clip's data sample (none by default)."""
        return {}

    def load_data_list(self) -> list[dict]:
        clips: list[dict] = []
        skipped: list[str] = []
        videos = self.load_videos()
        fields = self.clip_fields()
        for video in videos:
            frame_paths: Sequence[str] | None = video.get('frame_paths')
            num = len(frame_paths) if frame_paths is not None else int(video['num_frames'])
            offsets, spacing = self.clip_pattern(video)
            span = max(offsets) + 1
            starts = pattern_starts(num, span, spacing)
            if not starts:
                skipped.append(f"{video['video']} ({num} frames, a clip needs {span})")
                continue
            for start in starts:
                idx = [start + offset for offset in offsets]
                clip = dict(video=video['video'], frame_indices=idx, **fields)
                if frame_paths is not None:
                    clip['frame_paths'] = [frame_paths[i] for i in idx]
                else:
                    clip['video_path'] = video.get('video_path')
                clips.append(clip)
        self.num_skipped_videos = len(skipped)
        logger = MMLogger.get_current_instance()
        if skipped:
            logger.warning(
                f'{type(self).__name__}: skipped {len(skipped)} of {len(videos)} videos shorter '
                f'than one clip of {self.clip_length} frames: '
                + ', '.join(skipped[:10]) + (' ...' if len(skipped) > 10 else ''))
        if videos and not clips:
            raise DataError(f'{type(self).__name__}: none of the {len(videos)} videos is long '
                            f'enough for one clip of {self.clip_length} frames (e.g. '
                            f'{skipped[0]}); use longer videos or a shorter clip')
        logger.info(f'{type(self).__name__}: {len(clips)} clips from '
                    f'{len(videos) - len(skipped)} videos')
        return clips

    def _serialize_data(self) -> tuple[np.ndarray, np.ndarray]:
        # mmengine concatenates the serialised samples, which fails for an empty list
        # (e.g. an optional VideoFolder without data_root).
        if not self.data_list:
            return np.zeros(0, dtype=np.uint8), np.zeros(0, dtype=np.int64)
        return super()._serialize_data()
