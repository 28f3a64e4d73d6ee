"""torchvision ResNets with configurable strides and output stage."""
from __future__ import annotations

from typing import Sequence

import torch.nn as nn
import torchvision
from mmengine.model import BaseModule
from torch import Tensor

from corrflow.registry import MODELS
from corrflow.utils.launch import ConfigError

_BUILDERS = {
    18: torchvision.models.resnet18,
    34: torchvision.models.resnet34,
    50: torchvision.models.resnet50,
    101: torchvision.models.resnet101,
}


def _set_stage_stride(stage: nn.Sequential, stride: int) -> None:
    """Give the first block of a torchvision stage the requested stride."""
    block = stage[0]
    conv = block.conv2 if hasattr(block, 'conv3') else block.conv1  # Bottleneck strides conv2
    conv.stride = (stride, stride)
    if block.downsample is not None:
        block.downsample[0].stride = (stride, stride)


@MODELS.register_module()
class TorchvisionResNet(BaseModule):
    """A torchvision ResNet cut at a chosen stage, with chosen stage strides.

    Recipes of the CRW/VFS family use ResNet-18 at output stride 8 taken at
    ``layer3`` (``strides=(1, 2, 1, 1)``, max-pool kept). Weights start random;
    load pretrained weights through ``init_cfg`` from a local file.

    Args:
        depth (int): 18, 34, 50 or 101.
        strides (Sequence[int]): strides of layer1..layer4.
        out_stage (int): last stage used (1-4).
        with_maxpool (bool): keep the stem max-pool.
        init_cfg (dict | list[dict] | None): mmengine initialisation config.
    """

    def __init__(self, depth: int = 18, strides: Sequence[int] = (1, 2, 1, 1),
                 out_stage: int = 3, with_maxpool: bool = True,
                 init_cfg: dict | list[dict] | None = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if depth not in _BUILDERS:
            raise ConfigError(f'depth must be one of {sorted(_BUILDERS)}, got {depth}')
        if not 1 <= out_stage <= 4:
            raise ConfigError(f'out_stage must be in 1..4, got {out_stage}')
        if len(strides) != 4:
            raise ConfigError(f'strides needs 4 entries (layer1..layer4), got {strides}')
        net = _BUILDERS[depth](weights=None)
        self.conv1, self.bn1, self.relu = net.conv1, net.bn1, net.relu
        self.maxpool = net.maxpool if with_maxpool else nn.Identity()
        self.layer_names = []
        self.stride = 4 if with_maxpool else 2
        for i in range(out_stage):
            name = f'layer{i + 1}'
            stage = getattr(net, name)
            _set_stage_stride(stage, strides[i])
            self.add_module(name, stage)
            self.layer_names.append(name)
            self.stride *= strides[i]
        last = getattr(self, self.layer_names[-1])[-1]
        self.out_channels = (last.conv3 if hasattr(last, 'conv3') else last.conv2).out_channels

    def forward(self, x: Tensor) -> Tensor:
        """(B, 3, H, W) -> (B, C_out, H/stride, W/stride)."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        for name in self.layer_names:
            x = getattr(self, name)(x)
        return x
