from .algorithms import RecursiveFlow
from .backbones import CorrFlowResNet, PixelColourEncoder, TorchvisionResNet
from .bottlenecks import ColourBottleneck
from .data_preprocessor import ClipDataPreprocessor, VideoDataPreprocessor
from .heads import RestrictedAttentionHead
from .necks import EmbeddingProjection
from .trackers import CorrFlowPropagation, LabelPropagator, TopKMemoryPropagation

__all__ = [
    'RecursiveFlow', 'CorrFlowResNet', 'PixelColourEncoder', 'TorchvisionResNet',
    'ColourBottleneck',
    'ClipDataPreprocessor', 'VideoDataPreprocessor', 'RestrictedAttentionHead',
    'EmbeddingProjection', 'LabelPropagator', 'CorrFlowPropagation', 'TopKMemoryPropagation',
]
