"""Kinetics training clips from extracted frame folders (the CorrFlow list format).

The list file has one line per video, ``relative_video_dir,num_frames``; the
frames of a video are ``<data_prefix['img']>/<relative_video_dir>/image_00001.jpg``
onwards (numbered from 1, as written by ``ffmpeg -i video image_%05d.jpg``).
The list reader and the lazy frame-path sequence below are shared with the
OxUvA dataset, whose list has the same two columns.
"""
from __future__ import annotations

import os.path as osp
from collections.abc import Sequence

from corrflow.datasets.base_clip_dataset import BaseClipDataset
from corrflow.datasets.video_io import DataError
from corrflow.registry import DATASETS
from corrflow.errors import ConfigError

__all__ = ['KineticsClips', 'NumberedFramePaths', 'read_frame_count_list',
           'load_numbered_frame_videos', 'numbered_frame_videos']


class NumberedFramePaths(Sequence):
    """Paths of a folder of consecutively numbered frames, formatted on demand.

    Behaves like the list ``[directory/template.format(first), ...,
    directory/template.format(first + num_frames - 1)]`` without storing it,
    so a list of hundreds of thousands of videos costs no memory per frame.

    Args:
        directory (str): folder holding the frames.
        template (str): file name with one integer field, e.g.
            ``'image_{:05d}.jpg'``.
        num_frames (int): number of frames.
        first (int): number of the first frame.
    """

    def __init__(self, directory: str, template: str, num_frames: int, first: int = 0) -> None:
        self.directory = directory
        self.template = template
        self.num_frames = int(num_frames)
        self.first = int(first)

    def __len__(self) -> int:
        return self.num_frames

    def __getitem__(self, index: int | slice) -> str | list[str]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self.num_frames))]
        i = int(index)
        if i < 0:
            i += self.num_frames
        if not 0 <= i < self.num_frames:
            raise IndexError(f'frame {index} out of range for {self.num_frames} frames')
        return osp.join(self.directory, self.template.format(self.first + i))


def read_frame_count_list(list_file: str) -> list[tuple[int, str, int]]:
    """Read a ``video,num_frames`` list file.

    Blank lines and lines starting with ``#`` are ignored.

    Args:
        list_file (str): path of the list.

    Returns:
        list[tuple[int, str, int]]: (line number from 1, video entry, frame count).

    Raises:
        DataError: the file is missing or a line is malformed.
    """
    if not osp.isfile(list_file):
        raise DataError(f'list file {list_file} does not exist')
    rows = []
    with open(list_file, encoding='utf-8') as f:
        for line_no, line in enumerate(f, start=1):
            line = line.strip()
            if not line or line.startswith('#'):
                continue
            fields = [x.strip() for x in line.split(',')]
            count = fields[1] if len(fields) == 2 else ''
            if not fields[0] or not count.isdigit():
                raise DataError(f'{list_file} line {line_no}: expected "<video>,<num_frames>" '
                                f'with a non-negative integer count, got {line!r}')
            rows.append((line_no, fields[0], int(count)))
    return rows


def load_numbered_frame_videos(list_file: str, frame_root: str, template: str,
                               first: int) -> list[dict]:
    """Videos of a ``video,num_frames`` list whose frames are numbered files.

    Args:
        list_file (str): the list (see :func:`read_frame_count_list`).
        frame_root (str): folder holding one sub-folder per listed video.
        template (str): frame file name with one integer field.
        first (int): number of the first frame of every video.

    Returns:
        list[dict]: see :func:`numbered_frame_videos`.

    Raises:
        DataError: the list is malformed or names folders that do not exist
            (all missing entries are reported, with their line numbers).
    """
    return numbered_frame_videos(read_frame_count_list(list_file), list_file, frame_root,
                                 template, first)


def numbered_frame_videos(rows: list[tuple[int, str, int]], list_file: str, frame_root: str,
                          template: str, first: int) -> list[dict]:
    """Videos of parsed list rows whose frames are numbered files.

    Args:
        rows (list[tuple[int, str, int]]): (line number, video entry, frame
            count) per listed video.
        list_file (str): the list the rows come from (named in errors).
        frame_root (str): folder holding one sub-folder per listed video.
        template (str): frame file name with one integer field.
        first (int): number of the first frame of every video.

    Returns:
        list[dict]: ``dict(video=entry, frame_paths=NumberedFramePaths(...))``
        per row, in list order.

    Raises:
        DataError: rows name folders that do not exist (all missing entries
            are reported, with their line numbers).
    """
    videos, missing = [], []
    for line_no, entry, num in rows:
        directory = osp.join(frame_root, entry)
        if not osp.isdir(directory):
            missing.append(f'line {line_no}: {entry} ({directory})')
            continue
        videos.append(dict(video=entry,
                           frame_paths=NumberedFramePaths(directory, template, num, first)))
    if missing:
        raise DataError(f'{list_file}: {len(missing)} of {len(rows)} listed videos have no '
                        'frame folder: ' + '; '.join(missing[:10])
                        + (' ...' if len(missing) > 10 else ''))
    return videos


@DATASETS.register_module()
class KineticsClips(BaseClipDataset):
    """Kinetics clips from extracted JPEG frames (CorrFlow's training data).

    Each line of ``ann_file`` is ``relative_video_dir,num_frames``; the frames
    are ``<data_prefix['img']>/<relative_video_dir>/<filename_tmpl>`` numbered
    from ``start_index``. Missing video folders are reported when the dataset
    is built, unreadable frames when a clip is loaded.

    Args:
        ann_file (str): the list file (relative to ``data_root`` unless absolute).
        filename_tmpl (str): frame file name with one integer field.
        start_index (int): number of the first frame (1 for ``ffmpeg``'s
            ``image_%05d.jpg``).
        data_prefix (dict | None): ``dict(img=folder of the video folders)``,
            relative to ``data_root``; ``None`` means ``data_root`` itself.
        clip_length (int): frames per clip.
        frame_stride (int): distance between clip frames (4 ≈ 6-7.5 fps for
            Kinetics' 24-30 fps videos).
        **kwargs: other :class:`BaseClipDataset` arguments (``data_root``,
            ``pipeline``, ...).
    """

    #: what a line of ``ann_file`` holds, for the error message
    list_line = 'video_dir,num_frames'

    def __init__(self, ann_file: str = '', filename_tmpl: str = 'image_{:05d}.jpg',
                 start_index: int = 1, data_prefix: dict | None = None, clip_length: int = 3,
                 frame_stride: int = 4, **kwargs) -> None:
        if not ann_file:
            raise ConfigError(f'{type(self).__name__} needs an ann_file (csv lines '
                              f'"{self.list_line}")')
        self.filename_tmpl = filename_tmpl
        self.start_index = start_index
        super().__init__(ann_file=ann_file, data_prefix=data_prefix or dict(img=''),
                         clip_length=clip_length, frame_stride=frame_stride, **kwargs)

    def load_videos(self) -> list[dict]:
        """One entry per line of the list, with lazily formatted frame paths."""
        return load_numbered_frame_videos(self.ann_file, self.data_prefix.get('img', ''),
                                          self.filename_tmpl, self.start_index)
