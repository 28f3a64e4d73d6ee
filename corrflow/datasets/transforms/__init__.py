from .clip_transforms import (LoadClipFrames, PackClipInputs, QuantiseColour, RandomCropClip,
                              RandomFlipClip, RandomResizedCropClip, RescaleClip, ResizeClip)
from .crw_transforms import PatchGrid
from .synthetic_transforms import LoadSyntheticClip
from .timecycle_transforms import TimeCyclePatch
from .video_transforms import (LoadFirstFrameMask, LoadJHMDBKeypoints, LoadStartMasks,
                               LoadVideoFrames, PackVideoInputs)

__all__ = ['LoadClipFrames', 'PackClipInputs', 'QuantiseColour', 'ResizeClip', 'RescaleClip',
           'RandomCropClip', 'RandomFlipClip', 'RandomResizedCropClip', 'TimeCyclePatch',
           'PatchGrid',
           'LoadSyntheticClip', 'LoadVideoFrames', 'LoadFirstFrameMask', 'LoadJHMDBKeypoints',
           'LoadStartMasks',
           'PackVideoInputs']
