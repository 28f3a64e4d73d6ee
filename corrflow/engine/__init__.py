from .hooks import ReconstructionVisualizationHook, ScheduledSamplingHook, VideoProgressHook
from .resumable_loop import ResumableInfiniteSampler, ResumableIterBasedTrainLoop

# Runs that use corrflow's engine write checkpoints that load with weights_only=True.
from corrflow.utils.checkpoint import allow_mmengine_checkpoints  # noqa: E402

allow_mmengine_checkpoints()

__all__ = ['ReconstructionVisualizationHook', 'ScheduledSamplingHook', 'VideoProgressHook',
           'ResumableInfiniteSampler', 'ResumableIterBasedTrainLoop']
