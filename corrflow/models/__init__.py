from .algorithms import RecursiveFlow, TimeCycle
from .backbones import CorrFlowResNet, PixelColourEncoder, TorchvisionResNet
from .bottlenecks import ColourBottleneck
from .data_preprocessor import ClipDataPreprocessor, VideoDataPreprocessor
from .heads import RestrictedAttentionHead, TransformRegressor
from .necks import EmbeddingProjection
from .trackers import (CorrFlowPropagation, LabelPropagator, PropagationProtocol,
                       TimeCyclePropagation, TopKMemoryPropagation)

__all__ = [
    'RecursiveFlow', 'TimeCycle', 'TransformRegressor', 'PropagationProtocol',
    'TimeCyclePropagation', 'CorrFlowResNet', 'PixelColourEncoder', 'TorchvisionResNet',
    'ColourBottleneck',
    'ClipDataPreprocessor', 'VideoDataPreprocessor', 'RestrictedAttentionHead',
    'EmbeddingProjection', 'LabelPropagator', 'CorrFlowPropagation', 'TopKMemoryPropagation',
]
