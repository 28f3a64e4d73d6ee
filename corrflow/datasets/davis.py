"""DAVIS-2017 semi-supervised evaluation videos (official layout)."""
from __future__ import annotations

import os.path as osp
from pathlib import Path

from mmengine.dataset import BaseDataset

from corrflow.datasets.video_io import IMAGE_EXTENSIONS, DataError
from corrflow.registry import DATASETS

__all__ = ['DAVISVideos', 'annotated_video']


def annotated_video(what: str, frame_dir: Path, ann_dir: Path, listed_in: str,
                    min_frames: int = 1, too_few: str = '') -> tuple[list[Path], list[Path]]:
    """The frames of a video folder and the annotation path of each (``<frame stem>.png``),
    for the DAVIS-style layouts (DAVIS, VIP).

    Raises:
        DataError: no frames, fewer than ``min_frames`` (with ``too_few`` as the reason),
            or no annotation for the first frame; ``what`` names the video.
    """
    frames = sorted(p for p in frame_dir.glob('*') if p.suffix.lower() in IMAGE_EXTENSIONS)
    if not frames:
        raise DataError(f'{what} (listed in {listed_in}) has no frames in {frame_dir}')
    if len(frames) < min_frames:
        raise DataError(f'{what} has {len(frames)} frame(s) in {frame_dir}; {too_few}')
    anns = [ann_dir / (p.stem + '.png') for p in frames]
    if not anns[0].is_file():
        raise DataError(f'{what}: first-frame annotation {anns[0]} does not exist')
    return frames, anns


@DATASETS.register_module()
class DAVISVideos(BaseDataset):
    """One sample per DAVIS sequence: all frames and the first-frame mask.

    Layout (as the official release)::

        data_root/JPEGImages/480p/<seq>/00000.jpg ...
        data_root/Annotations/480p/<seq>/00000.png ...   (indexed PNGs)
        data_root/ImageSets/2017/val.txt                  (sequence names)

    Args:
        data_root (str): DAVIS root.
        ann_file (str): sequence list, relative to ``data_root`` (or absolute).
        resolution (str): ``'480p'`` or ``'Full-Resolution'``.
        sequences (list[str] | None): evaluate only these sequences (in this order).
        predict_only (bool): only the first frame needs an annotation (DAVIS
            test-dev, a user's own videos in DAVIS layout): masks are written,
            nothing is scored. Otherwise every frame must have one, checked
            when the list is read, before any video is propagated.
        **kwargs: :class:`mmengine.dataset.BaseDataset` arguments.
    """

    def __init__(self, data_root: str = '', ann_file: str = 'ImageSets/2017/val.txt',
                 resolution: str = '480p', sequences: list[str] | None = None,
                 predict_only: bool = False, **kwargs) -> None:
        self.resolution = resolution
        self.sequences = list(sequences) if sequences else None
        self.predict_only = bool(predict_only)
        kwargs.setdefault('test_mode', True)
        super().__init__(data_root=data_root, ann_file=ann_file,
                         data_prefix=dict(img=f'JPEGImages/{resolution}',
                                          ann=f'Annotations/{resolution}'), **kwargs)

    def load_data_list(self) -> list[dict]:
        root = Path(self.data_root)
        if not root.is_dir():
            raise DataError(f'DAVIS root {root} does not exist')
        if self.sequences is not None:
            names = self.sequences
        else:
            if not osp.isfile(self.ann_file):
                raise DataError(f'DAVIS sequence list {self.ann_file} does not exist; give '
                                'the official ImageSets/2017/val.txt or a `sequences` list')
            with open(self.ann_file) as f:
                names = [line.strip() for line in f if line.strip()]
        img_dir, ann_dir = Path(self.data_prefix['img']), Path(self.data_prefix['ann'])
        data_list = []
        for name in names:
            frames, anns = annotated_video(
                f'DAVIS sequence "{name}"', img_dir / name, ann_dir / name, self.ann_file,
                min_frames=3, too_few='the DAVIS protocol scores frames 1..T-2 and needs at '
                f'least 3: leave it out of {self.ann_file}')
            missing = [p for p in anns if not p.is_file()]
            if missing and not self.predict_only:
                raise DataError(f'DAVIS sequence "{name}" has annotations for '
                                f'{len(anns) - len(missing)} of its {len(anns)} frames (e.g. '
                                f'{missing[0]} is missing), so it cannot be scored: for a set '
                                'without ground truth use --predict-only (predict_only=True), '
                                'which writes the masks without scores')
            data_list.append(dict(
                video=name, frame_paths=[str(p) for p in frames],
                frame_names=[p.stem for p in frames], first_mask_path=str(anns[0]),
                ann_paths=[str(p) for p in anns], scored=not self.predict_only))
        if not data_list:
            raise DataError(f'the DAVIS sequence list {self.ann_file} is empty')
        return data_list
