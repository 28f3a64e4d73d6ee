from .algorithms import RecursiveFlow, SpaThenTemp, TimeCycle
from .backbones import CorrFlowResNet, FrozenTeacher, PixelColourEncoder, TorchvisionResNet
from .bottlenecks import ColourBottleneck
from .data_preprocessor import ClipDataPreprocessor, VideoDataPreprocessor
from .heads import RestrictedAttentionHead, TransformRegressor
from .losses import (GlobalAffinityDistillLoss, LocalAffinityDistillLoss, UncertaintyMask,
                     WindowedReconstructionLoss)
from .necks import EmbeddingProjection
from .trackers import (CorrFlowPropagation, LabelPropagator, PropagationProtocol,
                       TimeCyclePropagation, TopKMemoryPropagation)

__all__ = [
    'RecursiveFlow', 'SpaThenTemp', 'TimeCycle', 'CorrFlowResNet', 'FrozenTeacher',
    'PixelColourEncoder', 'TorchvisionResNet', 'ColourBottleneck', 'ClipDataPreprocessor',
    'VideoDataPreprocessor', 'RestrictedAttentionHead', 'TransformRegressor',
    'GlobalAffinityDistillLoss', 'LocalAffinityDistillLoss', 'UncertaintyMask',
    'WindowedReconstructionLoss', 'EmbeddingProjection', 'LabelPropagator',
    'PropagationProtocol', 'CorrFlowPropagation', 'TopKMemoryPropagation', 'TimeCyclePropagation',
]
