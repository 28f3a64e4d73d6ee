"""YouTube-VOS evaluation videos: objects that start at any frame."""
from __future__ import annotations

import json
import os.path as osp
from pathlib import Path

import numpy as np
from mmengine.dataset import BaseDataset
from PIL import Image

from corrflow.datasets.video_io import (IMAGE_EXTENSIONS, DataError, PngSizeError,
                                        natural_sort_key, read_png_ids)
from corrflow.registry import DATASETS

__all__ = ['YouTubeVOSVideos']


def _frames(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted((p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS),
                  key=lambda p: natural_sort_key(p.stem))


def _image_size(path: Path) -> tuple[int, int]:
    """(H, W) of an image from its header."""
    try:
        with Image.open(path) as image:
            return image.height, image.width
    except (OSError, SyntaxError) as err:
        raise DataError(f'frame {path} could not be read as an image ({err}); re-extract it '
                        'or remove it') from None


@DATASETS.register_module()
class YouTubeVOSVideos(BaseDataset):
    """One sample per YouTube-VOS video, each object tracked from its first frame.

    Layout (the official ``valid`` split; a held-out part of ``train`` in the
    same layout is scored locally)::

        data_root/JPEGImages/<video>/<frame>.jpg   the listed frames (every 5th of 30 fps)
        data_root/Annotations/<video>/<frame>.png  each object's mask at its first frame
                                                    (or at every frame, for local scoring)
        data_root/meta.json                        per video, per object: category, frames

    An object's first frame is the first entry of its ``frames`` list in
    ``meta.json``; its mask is the pixels of its id in that frame's PNG. Ids
    are kept as they are (they need not be contiguous).

    Every check that can fail is made when the list is read, before any
    video is propagated: a video without frames, an object whose first-frame
    PNG is missing, lacks its id or has another size than the frames.

    Args:
        data_root (str): the split folder (e.g. ``valid``).
        ann_file (str): ``meta.json``, relative to ``data_root``.
        all_frames_root (str | None): the same split of the 30 fps release
            (``valid_all_frames``, with ``JPEGImages/<video>/``). Every frame
            of it is propagated; only the listed frames are written and scored.
        videos (list[str] | None): only these videos, in this order.
        predict_only (bool | None): ``True`` never scores; ``False`` scores
            and refuses a split without full ground truth; ``None`` (default)
            scores when every listed frame of every video has an annotation
            PNG (a train-style split) and otherwise writes the masks only, as
            for the withheld val ground truth.
        listed_fps (float): frame rate of the listed frames (6: every 5th
            frame of 30 fps video).
        all_frames_fps (float): frame rate of ``all_frames_root`` (30).
        **kwargs: :class:`mmengine.dataset.BaseDataset` arguments.
    """

    def __init__(self, data_root: str = '', ann_file: str = 'meta.json',
                 all_frames_root: str | None = None, videos: list[str] | None = None,
                 predict_only: bool | None = None, listed_fps: float = 6.0,
                 all_frames_fps: float = 30.0, **kwargs) -> None:
        self.all_frames_root = all_frames_root
        self.videos = list(videos) if videos else None
        self.predict_only = predict_only
        self.listed_fps = listed_fps
        self.all_frames_fps = all_frames_fps
        kwargs.setdefault('test_mode', True)
        super().__init__(data_root=data_root, ann_file=ann_file,
                         data_prefix=dict(img='JPEGImages', ann='Annotations'), **kwargs)

    # ------------------------------------------------------------------ meta.json
    def _read_meta(self) -> dict:
        if not osp.isfile(self.ann_file):
            raise DataError(f'YouTube-VOS meta file {self.ann_file} does not exist; give the '
                            'split folder that holds JPEGImages/, Annotations/ and meta.json')
        try:
            with open(self.ann_file, encoding='utf-8') as f:
                meta = json.load(f)
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise DataError(f'{self.ann_file} is not valid json: {err}') from None
        videos = meta.get('videos') if isinstance(meta, dict) else None
        if not isinstance(videos, dict):
            raise DataError(f'{self.ann_file}: expected {{"videos": {{video: {{"objects": ...}}'
                            '}}}, the layout of the official meta.json')
        return videos

    def _objects(self, video: str, info) -> dict[int, dict]:
        objects = info.get('objects') if isinstance(info, dict) else None
        if not isinstance(objects, dict) or not objects:
            raise DataError(f'{self.ann_file}: video {video!r} lists no objects')
        out = {}
        for key, obj in objects.items():
            frames = obj.get('frames') if isinstance(obj, dict) else None
            if not str(key).isdigit() or not 1 <= int(key) <= 254:
                raise DataError(f'{self.ann_file}: video {video!r} has object id {key!r}; ids '
                                'must be integers 1..254 (the pixel values of its masks)')
            if not isinstance(frames, list) or not frames:
                raise DataError(f'{self.ann_file}: object {key} of video {video!r} lists no '
                                'frames')
            out[int(key)] = dict(category=obj.get('category'),
                                 first_frame=Path(str(frames[0])).stem)
        return out

    # ------------------------------------------------------------------ list
    def load_data_list(self) -> list[dict]:
        meta = self._read_meta()
        names = self.videos if self.videos is not None else sorted(meta)
        img_dir, ann_dir = Path(self.data_prefix['img']), Path(self.data_prefix['ann'])
        all_dir = Path(self.all_frames_root) / 'JPEGImages' if self.all_frames_root else None
        if all_dir is not None and not all_dir.is_dir():
            raise DataError(f'all_frames_root {self.all_frames_root} has no JPEGImages folder; '
                            'give the split folder of the 30 fps release (valid_all_frames)')
        data_list, complete = [], []
        for name in names:
            if name not in meta:
                raise DataError(f'video {name!r} is not listed in {self.ann_file}')
            data_list.append(self._video(name, meta[name], img_dir, ann_dir, all_dir))
            complete.append(data_list[-1].pop('_complete'))
        if not data_list:
            raise DataError(f'{self.ann_file} lists no videos')
        score = self.predict_only is False or (self.predict_only is None and all(complete))
        if score and not all(complete):
            missing = [d['video'] for d, c in zip(data_list, complete) if not c]
            raise DataError(f'{len(missing)} video(s) lack annotations for some listed frames '
                            f'(e.g. {ann_dir / missing[0]}), so they cannot be scored: set '
                            'predict_only=True (tools/test.py --predict-only) to write the '
                            'masks without scores')
        for item in data_list:
            item['scored'] = score
            if not score:
                item.pop('ann_paths')
        return data_list

    def _video(self, name: str, info, img_dir: Path, ann_dir: Path,
               all_dir: Path | None) -> dict:
        objects = self._objects(name, info)
        listed = _frames(img_dir / name)
        if not listed:
            raise DataError(f'YouTube-VOS video {name!r} has no frames in {img_dir / name}; '
                            f'extract them or leave the video out of {self.ann_file}')
        frames = listed
        if all_dir is not None:
            frames = _frames(all_dir / name)
            if not frames:
                raise DataError(f'YouTube-VOS video {name!r} has no frames in {all_dir / name}')
            have = {p.stem for p in frames}
            lost = [p.stem for p in listed if p.stem not in have]
            if lost:
                raise DataError(f'{all_dir / name} lacks {len(lost)} listed frame(s) of video '
                                f'{name!r} (e.g. {lost[0]}): all_frames_root must be the 30 '
                                f'fps release of the same split')
        index = {p.stem: t for t, p in enumerate(frames)}
        size = _image_size(frames[0])
        starts: dict[int, list[int]] = {}
        for obj_id, obj in sorted(objects.items()):
            t = index.get(obj['first_frame'])
            if t is None:
                raise DataError(f'object {obj_id} of video {name!r} starts at frame '
                                f'{obj["first_frame"]} ({self.ann_file}), which is not a frame '
                                f'in {(all_dir or img_dir) / name}')
            starts.setdefault(t, []).append(obj_id)
        start_paths = {}
        for t, ids in sorted(starts.items()):
            path = ann_dir / name / f'{frames[t].stem}.png'
            start_paths[t] = str(path)
            self._check_start_mask(path, name, ids, size, frames[t])
        ann_paths = [ann_dir / name / f'{p.stem}.png' for p in listed]
        return dict(video=name, frame_paths=[str(p) for p in frames],
                    frame_names=[p.stem for p in frames],
                    output_names=[p.stem for p in listed], start_mask_paths=start_paths,
                    start_ids={t: ids for t, ids in starts.items()},
                    objects={str(k): v for k, v in objects.items()},
                    ann_paths=[str(p) for p in ann_paths],
                    frames_propagated=('all frames' if all_dir is not None else 'listed frames'),
                    fps=self.all_frames_fps if all_dir is not None else self.listed_fps,
                    _complete=all(p.is_file() for p in ann_paths))

    def _check_start_mask(self, path: Path, video: str, ids: list[int],
                          size: tuple[int, int], frame: Path) -> None:
        if not path.is_file():
            raise DataError(f'object {ids[0]} of video {video!r} starts at frame {path.stem} '
                            f'({self.ann_file}), but its mask {path} does not exist')
        try:
            mask = read_png_ids(str(path), size)
        except PngSizeError as err:
            raise DataError(f'{path}: the mask is {err.size[1]}x{err.size[0]}, its frame '
                            f'{frame} is {size[1]}x{size[0]}; masks must have their frame\'s '
                            'size') from None
        if mask is None:
            raise DataError(f'{path}: expected an 8-bit indexed (palette) PNG of object ids')
        present = set(np.unique(mask).tolist())
        absent = [i for i in ids if i not in present]
        if absent:
            raise DataError(f'video {video!r}: object id {absent[0]} is listed in '
                            f'{self.ann_file} with first frame {path.stem}, but its mask {path} '
                            f'has no pixel of id {absent[0]}; fix meta.json or the mask')
