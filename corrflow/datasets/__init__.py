from .base_clip_dataset import BaseClipDataset, clip_starts
from .collate import sample_list_collate
from .davis import DAVISVideos
from .jhmdb import JHMDBVideos
from .kinetics import KineticsClips
from .oxuva import OxUvAClips
from .synthetic import SyntheticVideos, render_synthetic_video
from .transforms import (LoadClipFrames, LoadFirstFrameMask, LoadJHMDBKeypoints,
                         LoadStartMasks, LoadSyntheticClip, LoadVideoFrames, PackClipInputs, PackVideoInputs,
                         QuantiseColour, RandomCropClip, RescaleClip, ResizeClip)
from .video_folder import VideoFolder
from .vip import VIPVideos
from .ytvos import YouTubeVOSClips
from .ytvos_videos import YouTubeVOSVideos

__all__ = ['BaseClipDataset', 'clip_starts', 'LoadClipFrames', 'PackClipInputs',
           'QuantiseColour', 'ResizeClip', 'KineticsClips', 'OxUvAClips', 'YouTubeVOSClips', 'YouTubeVOSVideos',
           'VideoFolder', 'SyntheticVideos', 'render_synthetic_video', 'LoadSyntheticClip',
           'DAVISVideos', 'JHMDBVideos', 'VIPVideos', 'LoadVideoFrames', 'LoadFirstFrameMask',
           'LoadJHMDBKeypoints', 'LoadStartMasks', 'PackVideoInputs', 'sample_list_collate', 'RescaleClip',
           'RandomCropClip']
