from .corrflow_resnet import CorrFlowResNet
from .frozen_teacher import FrozenTeacher
from .pixel_encoder import PixelColourEncoder
from .torchvision_resnet import TorchvisionResNet

__all__ = ['CorrFlowResNet', 'FrozenTeacher', 'PixelColourEncoder', 'TorchvisionResNet']
