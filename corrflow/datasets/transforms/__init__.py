from .clip_transforms import LoadClipFrames, PackClipInputs, QuantiseColour, ResizeClip

__all__ = ['LoadClipFrames', 'PackClipInputs', 'QuantiseColour', 'ResizeClip']
