from .corrflow_resnet import CorrFlowResNet
from .torchvision_resnet import TorchvisionResNet

__all__ = ['CorrFlowResNet', 'TorchvisionResNet']
