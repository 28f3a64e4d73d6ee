from .corrflow_resnet import CorrFlowResNet
from .pixel_encoder import PixelColourEncoder
from .torchvision_resnet import TorchvisionResNet

__all__ = ['CorrFlowResNet', 'PixelColourEncoder', 'TorchvisionResNet']
