"""Projection of backbone features to the matching embedding."""
from __future__ import annotations

import torch.nn as nn
from mmengine.model import BaseModule
from torch import Tensor

from corrflow.registry import MODELS


@MODELS.register_module()
class EmbeddingProjection(BaseModule):
    """A single conv giving the embedding, optionally followed by a ReLU.

    CorrFlow uses a 3x3 conv from 256 to 64 channels with a bias and nothing
    after it; TimeCycle a 1x1 conv from 1024 to 512 without bias, then a ReLU
    (its features are L2-normalised where they are compared).

    Args:
        in_channels (int): backbone channels.
        out_channels (int): embedding channels.
        kernel_size (int): conv kernel size (odd; padding keeps the size).
        bias (bool): give the conv a bias.
        relu (bool): apply a ReLU after the conv.
        init_cfg (dict | list[dict] | None): mmengine initialisation config.
    """

    def __init__(self, in_channels: int = 256, out_channels: int = 64, kernel_size: int = 3,
                 bias: bool = True, relu: bool = False,
                 init_cfg: dict | list[dict] | None = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2,
                              bias=bias)
        self.relu = nn.ReLU(inplace=True) if relu else None
        self.out_channels = out_channels

    def forward(self, x: Tensor) -> Tensor:
        """(B, C_in, h, w) -> (B, C_out, h, w)."""
        x = self.conv(x)
        return self.relu(x) if self.relu is not None else x
