"""VLOG training samples for TimeCycle, from frames extracted at 12 fps.

The list file has one line per video, ``<frame folder> <num_frames>``
(separated by white space; the layout of TimeCycle's ``vlog_frames_12fps.txt``),
where the folder is relative to ``data_prefix['img']`` (an absolute folder is
used as it is). The frames of a video are ``<folder>/000001.jpg`` onwards
(numbered from 1, as written by ``ffmpeg -r 12 ... %06d.jpg``).
"""
from __future__ import annotations

import os.path as osp
import re

from corrflow.datasets.base_clip_dataset import BaseClipDataset
from corrflow.datasets.clip_patterns import TimeCyclePattern
from corrflow.datasets.kinetics import numbered_frame_videos
from corrflow.datasets.video_io import DataError
from corrflow.registry import DATASETS
from corrflow.errors import ConfigError

__all__ = ['VLOGClips', 'read_path_count_list']

_COUNT = re.compile(r'[0-9]+')


def read_path_count_list(list_file: str) -> list[tuple[int, str, int]]:
    """Read a list of ``<path> <num_frames>`` lines.

    The count is the last white-space separated field, so a path may contain
    spaces. Blank lines and lines starting with ``#`` are ignored.

    Args:
        list_file (str): path of the list.

    Returns:
        list[tuple[int, str, int]]: (line number from 1, path, frame count).

    Raises:
        DataError: the file is missing, or a line is not a path followed by a
            non-negative integer (the first such line is named).
    """
    if not osp.isfile(list_file):
        raise DataError(f'list file {list_file} does not exist')
    rows = []
    with open(list_file, encoding='utf-8') as f:
        for line_no, line in enumerate(f, start=1):
            line = line.strip()
            if not line or line.startswith('#'):
                continue
            fields = line.rsplit(None, 1)
            if len(fields) != 2 or not _COUNT.fullmatch(fields[1]):
                raise DataError(f'{list_file} line {line_no}: expected "<frame folder> '
                                '<num_frames>" (a folder and its non-negative frame count, '
                                f'separated by white space), got {line!r}; fix or remove the '
                                'line')
            rows.append((line_no, fields[0], int(fields[1])))
    return rows


@DATASETS.register_module()
class VLOGClips(BaseClipDataset):
    """TimeCycle samples from VLOG frame folders (12 fps JPEG frames).

    Each sample is the frames of a :class:`~corrflow.datasets.clip_patterns.TimeCyclePattern`
    (offsets in the listed frames): by default frames ``s, s+2, s+4, s+6``
    (base), ``s+15`` (target) and ``s+17`` (motion frame, used by
    ``TimeCyclePatch`` and then dropped), in this order. Samples of a video do
    not overlap: they start ``s = 0, L, 2L, ...`` with ``L`` the frames one
    sample covers (18 by default), so every epoch sees the same starts and a
    video of ``n`` frames gives ``n // L`` samples. Videos too short for one
    sample are skipped and counted (``num_skipped_videos``, logged once).
    Data samples carry ``num_motion_frames`` (1, or 0 without a motion frame).

    Args:
        ann_file (str): the list file (relative to ``data_root`` unless absolute).
        filename_tmpl (str): frame file name with one integer field.
        start_index (int): number of the first frame (1 for ``%06d.jpg``).
        data_prefix (dict | None): ``dict(img=folder of the frame folders)``,
            relative to ``data_root``; ``None`` means ``data_root`` itself.
        num_base_frames (int): base frames per sample (4).
        base_gap (int): distance between base frames, in frames (2).
        target_distance (int): distance from the first base frame to the
            target frame (15).
        motion_gap (int | None): distance from the target to the motion frame
            (2); ``None`` for none (the patch's motion is then measured against
            the last base frame).
        **kwargs: other :class:`BaseClipDataset` arguments (``data_root``,
            ``pipeline``, ...); not ``clip_length`` or ``frame_stride``, which
            the pattern replaces.

    Raises:
        ConfigError: no ``ann_file``, or an invalid pattern.
        DataError: the list is missing, empty or malformed, names folders that
            do not exist, or no listed video is long enough for one sample.
    """

    def __init__(self, ann_file: str = '', filename_tmpl: str = '{:06d}.jpg',
                 start_index: int = 1, data_prefix: dict | None = None,
                 num_base_frames: int = 4, base_gap: int = 2, target_distance: int = 15,
                 motion_gap: int | None = 2, **kwargs) -> None:
        name = type(self).__name__
        if not ann_file:
            raise ConfigError(f'{name} needs an ann_file (lines "<frame folder> <num_frames>")')
        for key in ('clip_length', 'frame_stride'):
            if key in kwargs:
                raise ConfigError(f'{name} takes no {key}: its frames are set by '
                                  'num_base_frames, base_gap, target_distance and motion_gap')
        self.pattern = TimeCyclePattern(num_base_frames, base_gap, target_distance, motion_gap)
        self.filename_tmpl = filename_tmpl
        self.start_index = start_index
        super().__init__(ann_file=ann_file, data_prefix=data_prefix or dict(img=''),
                         clip_length=len(self.pattern.offsets), frame_stride=1, **kwargs)

    def clip_pattern(self, video: dict) -> tuple[list[int], int]:
        """The pattern's offsets; samples start one pattern span apart."""
        offsets = self.pattern.offsets
        return offsets, max(offsets) + 1

    def clip_fields(self) -> dict:
        """``num_motion_frames`` for ``TimeCyclePatch``."""
        return dict(num_motion_frames=self.pattern.num_motion_frames)

    def load_videos(self) -> list[dict]:
        """One entry per line of the list, with lazily formatted frame paths."""
        rows = read_path_count_list(self.ann_file)
        if not rows:
            raise DataError(f'{self.ann_file} lists no videos (expected lines "<frame folder> '
                            '<num_frames>")')
        return numbered_frame_videos(rows, self.ann_file, self.data_prefix.get('img', ''),
                                     self.filename_tmpl, self.start_index)
