"""VIP (Video Instance-level Parsing) human-part propagation videos."""
from __future__ import annotations

import os.path as osp
from pathlib import Path

from mmengine.dataset import BaseDataset

from corrflow.datasets.video_io import DataError
from corrflow.datasets.davis import annotated_video
from corrflow.registry import DATASETS

__all__ = ['VIPVideos', 'VIP_CLASSES']

VIP_CLASSES = ('background', 'hat', 'hair', 'sun-glasses', 'upper-clothes', 'dress', 'coat',
               'socks', 'pants', 'gloves', 'scarf', 'skirt', 'torso-skin', 'face', 'right-arm',
               'left-arm', 'right-leg', 'left-leg', 'right-shoe', 'left-shoe')


@DATASETS.register_module()
class VIPVideos(BaseDataset):
    """One sample per VIP video: frames, first-frame part labels, GT label paths.

    Layout (the ``VIP_Fine`` release)::

        data_root/Images/<video>/<frame>.jpg
        data_root/Annotations/Category_ids/<video>/<frame>.png   (ids 0-19, 255 ignore)
        data_root/lists/val_videos.txt                            (video names)

    Frames without an annotation are propagated through but not scored. The
    first frame must be annotated.

    Args:
        data_root (str): the ``VIP_Fine`` folder.
        ann_file (str): list of video names, relative to ``data_root``.
        **kwargs: :class:`mmengine.dataset.BaseDataset` arguments.
    """

    METAINFO = dict(classes=VIP_CLASSES)

    def __init__(self, data_root: str = '', ann_file: str = 'lists/val_videos.txt',
                 **kwargs) -> None:
        kwargs.setdefault('test_mode', True)
        super().__init__(data_root=data_root, ann_file=ann_file,
                         data_prefix=dict(img='Images', ann='Annotations/Category_ids'), **kwargs)

    def load_data_list(self) -> list[dict]:
        if not osp.isfile(self.ann_file):
            raise DataError(f'VIP video list {self.ann_file} does not exist')
        with open(self.ann_file) as f:
            names = [line.strip() for line in f if line.strip()]
        img_dir, ann_dir = Path(self.data_prefix['img']), Path(self.data_prefix['ann'])
        data_list = []
        for name in names:
            frames, anns = annotated_video(f'VIP video "{name}"', img_dir / name, ann_dir / name,
                                           self.ann_file)
            data_list.append(dict(
                video=name, frame_paths=[str(p) for p in frames],
                frame_names=[p.stem for p in frames], first_mask_path=str(anns[0]),
                ann_paths=[str(p) if p.is_file() else None for p in anns]))
        if not data_list:
            raise DataError(f'the VIP video list {self.ann_file} is empty')
        return data_list
