"""OxUvA training clips (the list format of the CorrFlow OxUvA release)."""
from __future__ import annotations

from corrflow.datasets.kinetics import KineticsClips
from corrflow.registry import DATASETS

__all__ = ['OxUvAClips']


@DATASETS.register_module()
class OxUvAClips(KineticsClips):
    """OxUvA clips from the dataset's JPEG frames: :class:`KineticsClips` with OxUvA's
    frame names and numbering.

    Each line of ``ann_file`` is ``vidNNNN,num_frames``; the frames are
    ``<data_prefix['img']>/<vid>/000000.jpeg`` onwards (numbered from 0, the
    layout of the OxUvA ``images/dev`` and ``images/test`` folders; 337 videos,
    1,379,112 frames at 30 fps). Missing video folders are reported when the
    dataset is built, unreadable frames when a clip is loaded.

    Args:
        ann_file (str): the list file (relative to ``data_root`` unless absolute).
        filename_tmpl (str): frame file name with one integer field.
        start_index (int): number of the first frame.
        data_prefix (dict | None): ``dict(img=folder of the video folders)``,
            relative to ``data_root``; ``None`` means ``data_root`` itself.
        clip_length (int): frames per clip.
        frame_stride (int): distance between clip frames (4 ≈ 7.5 fps).
        **kwargs: other :class:`BaseClipDataset` arguments (``data_root``,
            ``pipeline``, ...).
    """

    list_line = 'vidNNNN,num_frames'

    def __init__(self, ann_file: str = '', filename_tmpl: str = '{:06d}.jpeg',
                 start_index: int = 0, data_prefix: dict | None = None, clip_length: int = 3,
                 frame_stride: int = 4, **kwargs) -> None:
        super().__init__(ann_file=ann_file, filename_tmpl=filename_tmpl,
                         start_index=start_index, data_prefix=data_prefix,
                         clip_length=clip_length, frame_stride=frame_stride, **kwargs)
