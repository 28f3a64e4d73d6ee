from .affinity_losses import (GlobalAffinityDistillLoss, LocalAffinityDistillLoss,
                              UncertaintyMask, WindowedReconstructionLoss, pool_window_affinity,
                              window_softmax)
from .random_walk_loss import CycleWalkLoss

__all__ = ['CycleWalkLoss', 'WindowedReconstructionLoss', 'UncertaintyMask',
           'LocalAffinityDistillLoss', 'GlobalAffinityDistillLoss', 'pool_window_affinity',
           'window_softmax']
