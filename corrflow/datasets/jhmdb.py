"""JHMDB keypoint-propagation videos (release layout)."""
from __future__ import annotations

import os.path as osp
from pathlib import Path

from mmengine.dataset import BaseDataset
from mmengine.logging import MMLogger

from corrflow.datasets.transforms.video_transforms import read_jhmdb_joints
from corrflow.datasets.video_io import IMAGE_EXTENSIONS, DataError
from corrflow.registry import DATASETS

__all__ = ['JHMDBVideos']

@DATASETS.register_module()
class JHMDBVideos(BaseDataset):
    """One sample per JHMDB video: frames, first-frame joints and all GT joints.

    Layout (as the release)::

        data_root/Rename_Images/<action>/<video>/00001.png ...
        data_root/joint_positions/<action>/<video>/joint_positions.mat

    Args:
        data_root (str): JHMDB root.
        ann_file (str): list of ``<action>/<video>`` lines (the split-1 test list
            is ``data/data_info/jhmdb_split1_test.txt``); empty: every video
            found under ``data_root`` that has joints.
        **kwargs: :class:`mmengine.dataset.BaseDataset` arguments.
    """

    def __init__(self, data_root: str = '', ann_file: str = '', **kwargs) -> None:
        kwargs.setdefault('test_mode', True)
        super().__init__(data_root=data_root, ann_file=ann_file,
                         data_prefix=dict(img='Rename_Images', ann='joint_positions'), **kwargs)

    def load_data_list(self) -> list[dict]:
        root = Path(self.data_root)
        img_dir, ann_dir = Path(self.data_prefix['img']), Path(self.data_prefix['ann'])
        if not img_dir.is_dir() or not ann_dir.is_dir():
            raise DataError(f'JHMDB root {root} must contain Rename_Images/ and joint_positions/')
        if self.ann_file:
            if not osp.isfile(self.ann_file):
                raise DataError(f'JHMDB video list {self.ann_file} does not exist')
            with open(self.ann_file) as f:
                names = [line.strip() for line in f if line.strip()]
            missing = [n for n in names if not (ann_dir / n / 'joint_positions.mat').is_file()]
            if missing:
                raise DataError(
                    f'{len(missing)} of the {len(names)} videos listed in {self.ann_file} are '
                    f'missing under {root} (first: {missing[0]}); to evaluate the videos that '
                    'are there, set the dataset ann_file to "" (e.g. --cfg-options '
                    'test_dataloader.dataset.ann_file="")')
        else:
            names = sorted(str(p.parent.relative_to(ann_dir))
                           for p in ann_dir.glob('*/*/joint_positions.mat'))
            if not names:
                raise DataError(f'no joint_positions/<action>/<video>/joint_positions.mat under '
                                f'{root}')
        data_list, mismatched = [], []
        for name in names:
            frames = sorted(p for p in (img_dir / name).glob('*')
                            if p.suffix.lower() in IMAGE_EXTENSIONS)
            if not frames:
                raise DataError(f'JHMDB video "{name}" has no frames in {img_dir / name}')
            joints_path = ann_dir / name / 'joint_positions.mat'
            joints = read_jhmdb_joints(joints_path)
            if len(joints) != len(frames):
                mismatched.append(f'{name} ({len(frames)} frames, {len(joints)} annotated)')
            num = min(len(frames), len(joints))
            data_list.append(dict(video=name, frame_paths=[str(p) for p in frames[:num]],
                                  frame_names=[p.stem for p in frames[:num]],
                                  joints_path=str(joints_path)))
        if mismatched:
            MMLogger.get_current_instance().warning(
                f'JHMDBVideos: {len(mismatched)} videos have a different number of frames and '
                f'annotated frames; only frames with joints are used: {", ".join(mismatched[:5])}')
        return data_list
