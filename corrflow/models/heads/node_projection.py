"""The projection of pooled patch features to node embeddings (CRW's head)."""
from __future__ import annotations

import torch.nn as nn
from mmengine.model import BaseModule
from torch import Tensor

from corrflow.errors import ConfigError
from corrflow.registry import MODELS

__all__ = ['NodeProjection']


@MODELS.register_module()
class NodeProjection(BaseModule):
    """Linear layers from encoder channels to the embedding, ReLU between them.

    ``depth`` hidden layers of ``in_channels`` units come before the output
    layer: depth 0 is one linear layer (CRW's training default, 256 or 512 to
    128), depth -1 no layer at all (features pass unchanged).

    Args:
        in_channels (int): channels of the pooled encoder features.
        out_channels (int): embedding size (128).
        depth (int): hidden layers (>= -1).
        init_cfg (dict | list[dict] | None): mmengine initialisation config.
    """

    def __init__(self, in_channels: int = 256, out_channels: int = 128, depth: int = 0,
                 init_cfg: dict | list[dict] | None = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if depth < -1 or in_channels < 1 or out_channels < 1:
            raise ConfigError(f'NodeProjection needs depth >= -1 and positive channels, got '
                              f'depth={depth}, {in_channels} -> {out_channels}')
        layers = []
        if depth >= 0:
            dims = [in_channels] * (depth + 1) + [out_channels]
            for i, (d_in, d_out) in enumerate(zip(dims, dims[1:])):
                if i:
                    layers.append(nn.ReLU())
                layers.append(nn.Linear(d_in, d_out))
        self.layers = nn.Sequential(*layers)
        self.out_channels = out_channels if depth >= 0 else in_channels

    def forward(self, x: Tensor) -> Tensor:
        """(..., in_channels) -> (..., out_channels)."""
        return self.layers(x)
