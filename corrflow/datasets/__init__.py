from .base_clip_dataset import BaseClipDataset, clip_starts, pattern_starts
from .clip_patterns import TimeCyclePattern
from .collate import sample_list_collate
from .davis import DAVISVideos
from .jhmdb import JHMDBVideos
from .kinetics import KineticsClips
from .oxuva import OxUvAClips
from .synthetic import SyntheticVideos, render_synthetic_video
from .transforms import (LoadClipFrames, LoadFirstFrameMask, LoadJHMDBKeypoints, LoadStartMasks,
                         LoadSyntheticClip, LoadVideoFrames, PackClipInputs, PackVideoInputs,
                         QuantiseColour, RandomCropClip, RandomFlipClip, RescaleClip, ResizeClip,
                         TimeCyclePatch)
from .video_folder import TimeCycleVideoFolder, VideoFolder
from .vip import VIPVideos
from .vlog import VLOGClips
from .ytvos import YouTubeVOSClips
from .ytvos_videos import YouTubeVOSVideos

__all__ = ['BaseClipDataset', 'clip_starts', 'pattern_starts', 'TimeCyclePattern',
           'LoadClipFrames', 'PackClipInputs', 'QuantiseColour', 'ResizeClip', 'KineticsClips',
           'OxUvAClips', 'YouTubeVOSClips', 'YouTubeVOSVideos', 'VideoFolder',
           'TimeCycleVideoFolder', 'VLOGClips', 'SyntheticVideos', 'render_synthetic_video',
           'LoadSyntheticClip', 'DAVISVideos', 'JHMDBVideos', 'VIPVideos', 'LoadVideoFrames',
           'LoadFirstFrameMask', 'LoadJHMDBKeypoints', 'LoadStartMasks', 'PackVideoInputs',
           'sample_list_collate', 'RescaleClip', 'RandomCropClip', 'RandomFlipClip',
           'TimeCyclePatch']
