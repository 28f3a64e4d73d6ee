from .clip_transforms import (LoadClipFrames, PackClipInputs, QuantiseColour, RandomCropClip,
                              RescaleClip, ResizeClip)
from .synthetic_transforms import LoadSyntheticClip
from .video_transforms import (LoadFirstFrameMask, LoadJHMDBKeypoints, LoadStartMasks,
                               LoadVideoFrames, PackVideoInputs)

__all__ = ['LoadClipFrames', 'PackClipInputs', 'QuantiseColour', 'ResizeClip', 'RescaleClip',
           'RandomCropClip',
           'LoadSyntheticClip', 'LoadVideoFrames', 'LoadFirstFrameMask', 'LoadJHMDBKeypoints',
           'LoadStartMasks',
           'PackVideoInputs']
