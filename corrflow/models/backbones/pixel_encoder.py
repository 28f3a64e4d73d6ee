"""A parameter-free encoder: the colour of every pixel is its feature."""
from __future__ import annotations

import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from corrflow.models.layers.colour import rgb_to_lab
from corrflow.models.layers.propagation import centred_cell_average
from corrflow.registry import MODELS
from corrflow.errors import ConfigError


@MODELS.register_module()
class PixelColourEncoder(nn.Module):
    """Lab (or RGB) colour averaged over ``stride x stride`` cells, as a baseline feature.

    Cell ``i`` averages the pixels around pixel ``s*i`` (see
    :func:`~corrflow.models.layers.propagation.centred_cell_average`), so it is
    centred like the cells of the learned encoders.

    Args:
        stride (int): output stride.
        colour_space (str): ``'lab'`` (OpenCV float Lab: L in [0, 100]) or
            ``'rgb'`` (in [0, 1]).
        scale (float): multiplies the features (matters for raw dot products).
        normalise (bool): scale every cell's colour vector to unit length
            (after the cell average). With raw dot products (protocol A) the
            brightest keys win every softmax; unit-length colours with a
            temperature compare hue and lightness direction instead. Protocol
            B normalises features itself, so there it changes nothing.
    """

    def __init__(self, stride: int = 4, colour_space: str = 'lab', scale: float = 1.0,
                 normalise: bool = False) -> None:
        super().__init__()
        if colour_space not in ('lab', 'rgb'):
            raise ConfigError(f'colour_space must be "lab" or "rgb", got {colour_space!r}')
        if stride < 1:
            raise ConfigError(f'stride must be >= 1, got {stride}')
        self.stride = stride
        self.colour_space = colour_space
        self.scale = scale
        self.normalise = normalise
        self.out_channels = 3

    def forward(self, x: Tensor) -> Tensor:
        """(B, 3, H, W) RGB in [0, 1] -> (B, 3, ceil(H/s), ceil(W/s))."""
        feats = rgb_to_lab(x) if self.colour_space == 'lab' else x
        feats = centred_cell_average(feats, self.stride)
        if self.normalise:
            feats = F.normalize(feats, dim=1)
        return feats * self.scale if self.scale != 1.0 else feats
