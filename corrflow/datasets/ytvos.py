"""YouTube-VOS 2018 training clips (frames only; the masks are not used)."""
from __future__ import annotations

import json
import os.path as osp

from corrflow.datasets.base_clip_dataset import BaseClipDataset
from corrflow.datasets.video_io import IMAGE_EXTENSIONS, DataError, natural_sort_key
from corrflow.registry import DATASETS
from corrflow.errors import ConfigError

__all__ = ['YouTubeVOSClips']


def _read_video_frames_json(list_file: str) -> dict[str, list[str]]:
    """Frame names per video from either accepted json layout (see YouTubeVOSClips)."""
    if not osp.isfile(list_file):
        raise DataError(f'list file {list_file} does not exist')
    try:
        with open(list_file, encoding='utf-8') as f:
            data = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise DataError(f'{list_file} is not valid json: {err}') from err
    if not isinstance(data, dict):
        raise DataError(f'{list_file}: expected a json object, got {type(data).__name__}')
    videos: dict[str, list[str]] = {}
    if isinstance(data.get('videos'), dict):  # official meta.json
        for vid, info in data['videos'].items():
            objects = info.get('objects', {}) if isinstance(info, dict) else None
            if not isinstance(objects, dict):
                raise DataError(f'{list_file}: video {vid!r} has no "objects" mapping')
            names: set[str] = set()
            for obj in objects.values():
                names.update(str(n) for n in obj.get('frames', []))
            videos[str(vid)] = sorted(names, key=natural_sort_key)
        return videos
    for vid, names in data.items():
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise DataError(f'{list_file}: video {vid!r} must map to a list of frame names')
        videos[str(vid)] = names
    return videos


@DATASETS.register_module()
class YouTubeVOSClips(BaseClipDataset):
    """YouTube-VOS 2018 ``train`` clips.

    ``ann_file`` is either ``{video_id: [frame names in order]}`` or the
    official ``meta.json`` (``{"videos": {vid: {"objects": {id: {"frames":
    [...]}}}}}``), in which case a video's frames are the union of its objects'
    frames, sorted by number (a frame where no object is annotated is then not
    used). Frames are ``<data_prefix['img']>/<vid>/<name>.jpg`` (``name`` may
    already carry its extension).

    Frame stride: the released YouTube-VOS train frames are every 5th frame of
    30 fps videos, i.e. already 6 fps, so consecutive stored frames match
    CorrFlow's 4-raw-frames-apart sampling of 24-30 fps Kinetics (6-7.5 fps).
    Hence the default ``frame_stride=1`` (counted in stored frames; "stride 5"
    in raw frames). Use 2 for a larger temporal gap (3 fps).

    Args:
        ann_file (str): the json list (relative to ``data_root`` unless absolute).
        data_prefix (dict | None): ``dict(img=folder of the video folders)``,
            relative to ``data_root``; default ``dict(img='JPEGImages')``, the
            layout of the official ``train`` folder.
        frame_suffix (str): extension added to frame names that have none.
        clip_length (int): frames per clip.
        frame_stride (int): distance between clip frames, in stored frames.
        **kwargs: other :class:`BaseClipDataset` arguments (``data_root``,
            ``pipeline``, ...).
    """

    def __init__(self, ann_file: str = '', data_prefix: dict | None = None,
                 frame_suffix: str = '.jpg', clip_length: int = 3, frame_stride: int = 1,
                 **kwargs) -> None:
        if not ann_file:
            raise ConfigError(f'{type(self).__name__} needs an ann_file ({{video_id: [frame '
                             'names]}} or the official meta.json)')
        self.frame_suffix = frame_suffix
        super().__init__(ann_file=ann_file,
                         data_prefix=data_prefix or dict(img='JPEGImages'),
                         clip_length=clip_length, frame_stride=frame_stride, **kwargs)

    def _frame_file(self, name: str) -> str:
        return name if name.lower().endswith(IMAGE_EXTENSIONS) else name + self.frame_suffix

    def load_videos(self) -> list[dict]:
        """One entry per listed video, frames in list order."""
        root = self.data_prefix.get('img', '')
        listed = _read_video_frames_json(self.ann_file)
        videos, missing = [], []
        for vid, names in listed.items():
            directory = osp.join(root, vid)
            if not osp.isdir(directory):
                missing.append(f'{vid} ({directory})')
                continue
            videos.append(dict(video=vid,
                               frame_paths=[osp.join(directory, self._frame_file(n))
                                            for n in names]))
        if missing:
            raise DataError(f'{self.ann_file}: {len(missing)} of {len(listed)} listed videos '
                            'have no frame folder: ' + '; '.join(missing[:10])
                            + (' ...' if len(missing) > 10 else ''))
        return videos
