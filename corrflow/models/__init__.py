from .algorithms import RecursiveFlow
from .backbones import CorrFlowResNet, TorchvisionResNet
from .bottlenecks import ColourBottleneck
from .data_preprocessor import ClipDataPreprocessor
from .heads import RestrictedAttentionHead
from .necks import EmbeddingProjection

__all__ = [
    'RecursiveFlow', 'CorrFlowResNet', 'TorchvisionResNet', 'ColourBottleneck',
    'ClipDataPreprocessor', 'RestrictedAttentionHead', 'EmbeddingProjection',
]
