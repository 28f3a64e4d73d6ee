"""Projection of backbone features to the matching embedding."""
from __future__ import annotations

import torch.nn as nn
from mmengine.model import BaseModule
from torch import Tensor

from corrflow.registry import MODELS


@MODELS.register_module()
class EmbeddingProjection(BaseModule):
    """A single conv (with bias, no norm or activation) giving the embedding.

    CorrFlow uses a 3x3 conv from 256 to 64 channels.

    Args:
        in_channels (int): backbone channels.
        out_channels (int): embedding channels.
        kernel_size (int): conv kernel size (odd; padding keeps the size).
        init_cfg (dict | list[dict] | None): mmengine initialisation config.
    """

    def __init__(self, in_channels: int = 256, out_channels: int = 64, kernel_size: int = 3,
                 init_cfg: dict | list[dict] | None = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2)
        self.out_channels = out_channels

    def forward(self, x: Tensor) -> Tensor:
        """(B, C_in, h, w) -> (B, C_out, h, w)."""
        return self.conv(x)
