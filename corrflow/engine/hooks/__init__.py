from .precise_bn_hook import PreciseBNHook
from .reconstruction_visualization_hook import ReconstructionVisualizationHook
from .submission_zip_hook import SubmissionZipHook
from .train_progress_hook import ScheduledSamplingHook, TrainProgressHook
from .video_progress_hook import VideoProgressHook

__all__ = ['PreciseBNHook', 'ReconstructionVisualizationHook', 'ScheduledSamplingHook',
           'SubmissionZipHook', 'TrainProgressHook', 'VideoProgressHook']
