from .clip_transforms import (LoadClipFrames, PackClipInputs, QuantiseColour, RandomCropClip,
                              RandomFlipClip, RandomResizedCropClip, RescaleClip, ResizeClip)
from .synthetic_transforms import LoadSyntheticClip
from .timecycle_transforms import TimeCyclePatch
from .video_transforms import (LoadFirstFrameMask, LoadJHMDBKeypoints, LoadStartMasks,
                               LoadVideoFrames, PackVideoInputs)

__all__ = ['LoadClipFrames', 'PackClipInputs', 'QuantiseColour', 'ResizeClip', 'RescaleClip',
           'RandomCropClip', 'RandomFlipClip', 'RandomResizedCropClip', 'TimeCyclePatch',
           'LoadSyntheticClip', 'LoadVideoFrames', 'LoadFirstFrameMask', 'LoadJHMDBKeypoints',
           'LoadStartMasks',
           'PackVideoInputs']
