"""The ResNet-18 variant of CorrFlow: output stride 4, wide late layers."""
from __future__ import annotations

from typing import Sequence

import torch.nn as nn
from mmengine.model import BaseModule
from torch import Tensor

from corrflow.registry import MODELS
from corrflow.errors import ConfigError


class BasicBlock(nn.Module):
    """Two 3x3 conv-BN layers with an identity or 1x1 conv-BN shortcut."""

    def __init__(self, in_channels: int, channels: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(channels, channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.downsample = None
        if stride != 1 or in_channels != channels:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_channels, channels, 1, stride, bias=False), nn.BatchNorm2d(channels))

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


@MODELS.register_module()
class CorrFlowResNet(BaseModule):
    """ResNet-18 variant used by CorrFlow.

    A 7x7 stride-2 stem without max-pool, then four stages of two BasicBlocks
    with widths 64/128/256/256 and strides 1/2/1/1: the output has stride 4 and
    256 channels. Inputs are RGB in [0, 1] without mean/std normalisation.

    Args:
        channels (Sequence[int]): widths of the four stages.
        strides (Sequence[int]): strides of the four stages.
        blocks (Sequence[int]): BasicBlocks per stage.
        init_cfg (dict | list[dict] | None): mmengine initialisation config.
    """

    def __init__(self, channels: Sequence[int] = (64, 128, 256, 256),
                 strides: Sequence[int] = (1, 2, 1, 1), blocks: Sequence[int] = (2, 2, 2, 2),
                 init_cfg: dict | list[dict] | None = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if not len(channels) == len(strides) == len(blocks):
            raise ConfigError('channels, strides and blocks need one entry per stage, got '
                             f'{channels}, {strides}, {blocks}')
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        in_channels = 64
        self.layer_names = []
        for i, (width, stride, num) in enumerate(zip(channels, strides, blocks)):
            layers = [BasicBlock(in_channels, width, stride)]
            layers += [BasicBlock(width, width) for _ in range(num - 1)]
            name = f'layer{i + 1}'
            self.add_module(name, nn.Sequential(*layers))
            self.layer_names.append(name)
            in_channels = width
        self.out_channels = in_channels
        self.stride = 2
        for s in strides:
            self.stride *= s

    def forward(self, x: Tensor) -> Tensor:
        """(B, 3, H, W) -> (B, 256, H/4, W/4)."""
        x = self.relu(self.bn1(self.conv1(x)))
        for name in self.layer_names:
            x = getattr(self, name)(x)
        return x
