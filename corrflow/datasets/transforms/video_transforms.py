"""Transforms of evaluation videos: all frames plus first-frame labels."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from mmcv.transforms import BaseTransform
from scipy.io import loadmat

from corrflow.datasets.video_io import DataError, PngSizeError, read_image, read_png_ids
from corrflow.registry import TRANSFORMS

__all__ = ['LoadVideoFrames', 'LoadFirstFrameMask', 'LoadStartMasks', 'LoadJHMDBKeypoints',
           'PackVideoInputs',
           'read_indexed_png', 'read_jhmdb_joints', 'JHMDB_JOINTS']


def read_indexed_png(path: str, size: tuple[int, int] | None = None) -> np.ndarray:
    """A label mask: an 8-bit palette (or grayscale) PNG as its (H, W) uint8 ids.

    Args:
        path (str): the PNG file.
        size (tuple[int, int], optional): the (H, W) of the frames it labels;
            a PNG of another size is refused from its header, before decoding.
    """
    if not Path(path).is_file():
        raise DataError(f'mask {path} does not exist')
    try:
        mask = read_png_ids(path, size)
    except PngSizeError as err:
        raise DataError(f'mask {path} is {err.size[1]}x{err.size[0]}, the frames are '
                        f'{size[1]}x{size[0]}') from None
    if mask is None:
        raise DataError(f'mask {path} is not an 8-bit indexed (palette) or grayscale PNG of '
                        'label ids')
    return mask


#: JHMDB joint order.
JHMDB_JOINTS = ('neck', 'belly', 'face', 'right shoulder', 'left shoulder', 'right hip',
                'left hip', 'right elbow', 'left elbow', 'right knee', 'left knee',
                'right wrist', 'left wrist', 'right ankle', 'left ankle')


def read_jhmdb_joints(path: str | Path) -> np.ndarray:
    """Joint positions of a JHMDB ``joint_positions.mat`` as (T, 15, 2) 0-based pixel (x, y).

    The file's ``pos_img`` (2 x 15 x T) is in MATLAB's 1-based convention.
    """
    path = str(path)
    try:
        mat = loadmat(path)
    except FileNotFoundError:
        raise DataError(f'joint file {path} does not exist') from None
    except (ValueError, OSError, TypeError) as err:
        raise DataError(f'joint file {path} could not be read as a .mat file ({err})') from None
    pos = mat.get('pos_img')
    if pos is None or pos.ndim != 3 or pos.shape[:2] != (2, len(JHMDB_JOINTS)):
        raise DataError(f'joint file {path} has no pos_img array of shape (2, 15, T)')
    return np.ascontiguousarray(pos.transpose(2, 1, 0).astype(np.float32) - 1.0)


@TRANSFORMS.register_module()
class LoadVideoFrames(BaseTransform):
    """Read every frame listed in ``frame_paths`` into ``results['frames']`` (RGB uint8).

    All frames of a video must share one size; a frame that differs is reported.
    """

    def transform(self, results: dict) -> dict:
        frames = [read_image(p) for p in results['frame_paths']]
        shape = frames[0].shape
        for path, frame in zip(results['frame_paths'], frames):
            if frame.shape != shape:
                raise DataError(f'frame {path} is {frame.shape[1]}x{frame.shape[0]}, the first '
                                f'frame of the video is {shape[1]}x{shape[0]}')
        results['frames'] = frames
        results['ori_shape'] = shape[:2]
        return results


@TRANSFORMS.register_module()
class LoadFirstFrameMask(BaseTransform):
    """Read the first frame's label ids from ``first_mask_path`` into ``results['first_mask']``.

    The mask must have the frames' size; 255 marks unlabelled pixels.
    """

    def transform(self, results: dict) -> dict:
        size = tuple(results['ori_shape']) if 'ori_shape' in results else None
        results['first_mask'] = read_indexed_png(results['first_mask_path'], size)
        return results


@TRANSFORMS.register_module()
class LoadStartMasks(BaseTransform):
    """Read each object's mask at its first frame into ``results['start_masks']``.

    ``start_mask_paths`` maps a frame index to its annotation PNG and
    ``start_ids`` to the ids of the objects that start there; the mask of
    frame t keeps those ids and is 0 elsewhere (so a PNG that also shows
    earlier objects, as in a fully annotated split, seeds only the new ones).
    """

    def transform(self, results: dict) -> dict:
        size = tuple(results['ori_shape']) if 'ori_shape' in results else None
        masks = {}
        for t, path in results['start_mask_paths'].items():
            mask = read_indexed_png(path, size)
            ids = np.asarray(results['start_ids'][t], dtype=np.uint8)
            masks[int(t)] = np.where(np.isin(mask, ids), mask, 0).astype(np.uint8)
        results['start_masks'] = masks
        return results


@TRANSFORMS.register_module()
class PackVideoInputs(BaseTransform):
    """Pack a video into ``inputs`` (T, 3, H, W) uint8 and a plain-dict data sample.

    Args:
        meta_keys (Sequence[str]): keys copied into the data sample when present.
    """

    def __init__(self, meta_keys: Sequence[str] = (
            'video', 'frame_names', 'ori_shape', 'first_mask', 'start_masks', 'first_keypoints',
            'gt_keypoints', 'ann_paths', 'frame_paths', 'sample_idx', 'output_names', 'objects',
            'frames_propagated', 'fps', 'scored')) -> None:
        self.meta_keys = tuple(meta_keys)

    def transform(self, results: dict) -> dict:
        frames = np.stack(results['frames'])  # (T, H, W, 3)
        inputs = torch.from_numpy(np.ascontiguousarray(frames.transpose(0, 3, 1, 2)))
        sample = {k: results[k] for k in self.meta_keys if k in results}
        return dict(inputs=inputs, data_samples=sample)


@TRANSFORMS.register_module()
class LoadJHMDBKeypoints(BaseTransform):
    """Read ``joints_path`` into ``gt_keypoints`` (T, 15, 2) and ``first_keypoints`` (15, 2).

    Coordinates are 0-based pixel (x, y); only as many annotated frames as
    there are frames are kept.
    """

    def transform(self, results: dict) -> dict:
        joints = read_jhmdb_joints(results['joints_path'])
        num = len(results.get('frames', results.get('frame_paths', joints)))
        results['gt_keypoints'] = joints[:num]
        results['first_keypoints'] = joints[0]
        return results
