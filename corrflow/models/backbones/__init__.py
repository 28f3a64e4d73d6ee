from .corrflow_resnet import CorrFlowResNet
from .frozen_teacher import FrozenTeacher
from .pixel_encoder import PixelColourEncoder
from .timm_vit import TimmViT
from .torchvision_resnet import TorchvisionResNet

__all__ = ['CorrFlowResNet', 'FrozenTeacher', 'PixelColourEncoder', 'TimmViT',
           'TorchvisionResNet']
