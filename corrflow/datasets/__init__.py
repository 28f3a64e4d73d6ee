from .base_clip_dataset import BaseClipDataset, clip_starts
from .transforms import LoadClipFrames, PackClipInputs, QuantiseColour, ResizeClip

__all__ = ['BaseClipDataset', 'clip_starts', 'LoadClipFrames', 'PackClipInputs',
           'QuantiseColour', 'ResizeClip']
