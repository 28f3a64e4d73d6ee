from .precise_bn_hook import PreciseBNHook
from .reconstruction_visualization_hook import ReconstructionVisualizationHook
from .scheduled_sampling_hook import ScheduledSamplingHook
from .video_progress_hook import VideoProgressHook

__all__ = ['PreciseBNHook', 'ReconstructionVisualizationHook', 'ScheduledSamplingHook',
           'VideoProgressHook']
