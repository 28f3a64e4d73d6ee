from .bn_recalibration import calibration_batches, recalibrate_bn
from .hooks import (PreciseBNHook, ReconstructionVisualizationHook, ScheduledSamplingHook,
                    SubmissionZipHook, TrainProgressHook, VideoProgressHook)
from .optim_wrapper import CPUAutocastOptimWrapper
from .random_state import PositionSeededDataset, capture_random_state, restore_random_state
from .runner import CorrflowRunner
from .resumable_loop import RandomStateHook, ResumableInfiniteSampler, ResumableIterBasedTrainLoop
from .total_batch import (SampleMultiStepLR, apply_total_batch, launcher_world_size,
                          samples_to_iters)

__all__ = ['CorrflowRunner', 'CPUAutocastOptimWrapper', 'PreciseBNHook', 'calibration_batches',
           'recalibrate_bn',
           'ReconstructionVisualizationHook', 'ScheduledSamplingHook', 'SubmissionZipHook',
           'TrainProgressHook',
           'VideoProgressHook', 'ResumableInfiniteSampler', 'ResumableIterBasedTrainLoop',
           'RandomStateHook', 'PositionSeededDataset', 'capture_random_state',
           'restore_random_state',
           'SampleMultiStepLR', 'apply_total_batch', 'launcher_world_size', 'samples_to_iters']
