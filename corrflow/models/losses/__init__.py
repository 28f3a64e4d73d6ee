from .affinity_losses import (GlobalAffinityDistillLoss, LocalAffinityDistillLoss,
                              UncertaintyMask, WindowedReconstructionLoss, pool_window_affinity,
                              window_softmax)

__all__ = ['WindowedReconstructionLoss', 'UncertaintyMask', 'LocalAffinityDistillLoss',
           'GlobalAffinityDistillLoss', 'pool_window_affinity', 'window_softmax']
