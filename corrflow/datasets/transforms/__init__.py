from .clip_transforms import LoadClipFrames, PackClipInputs, QuantiseColour, ResizeClip
from .synthetic_transforms import LoadSyntheticClip
from .video_transforms import (LoadFirstFrameMask, LoadJHMDBKeypoints, LoadVideoFrames,
                               PackVideoInputs)

__all__ = ['LoadClipFrames', 'PackClipInputs', 'QuantiseColour', 'ResizeClip',
           'LoadSyntheticClip', 'LoadVideoFrames', 'LoadFirstFrameMask', 'LoadJHMDBKeypoints',
           'PackVideoInputs']
