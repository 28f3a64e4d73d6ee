from .hooks import ReconstructionVisualizationHook, ScheduledSamplingHook
from .resumable_loop import ResumableInfiniteSampler, ResumableIterBasedTrainLoop

__all__ = ['ReconstructionVisualizationHook', 'ScheduledSamplingHook',
           'ResumableInfiniteSampler', 'ResumableIterBasedTrainLoop']
