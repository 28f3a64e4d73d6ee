"""Restricted attention head: copies reference labels into the target frame."""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from corrflow.models.layers.local_attention import restricted_attention
from corrflow.registry import MODELS

_DOWNSAMPLE_MODES = ('strided', 'bilinear_truncate')


@MODELS.register_module()
class RestrictedAttentionHead(nn.Module):
    """Label copying by softmax attention within a local window.

    For every target location, the affinities with the reference locations in
    a ``(2R+1)^2`` window are raw dot products of the embeddings (no
    normalisation, no temperature), out-of-image positions are masked and a
    softmax over the window weights the reference label distributions.

    Args:
        radius (int): window radius R in feature cells (6 in CorrFlow: +-24 px
            at stride 4).
        stride (int): feature stride relative to the label maps.
        label_downsample (str): how full-resolution label maps are brought to
            the feature grid: ``'strided'`` (default) takes the pixel each
            feature cell is centred on; ``'bilinear_truncate'`` reproduces the
            original release, which resizes the integer class map bilinearly
            and truncates it, inventing classes at boundaries.
        temperature (float): affinities are divided by it (1 in CorrFlow).
        tile_size (int): tile side of the blocked computation.
    """

    def __init__(self, radius: int = 6, stride: int = 4, label_downsample: str = 'strided',
                 temperature: float = 1.0, tile_size: int = 8) -> None:
        super().__init__()
        if label_downsample not in _DOWNSAMPLE_MODES:
            raise ValueError(f'label_downsample must be one of {_DOWNSAMPLE_MODES}, '
                             f'got {label_downsample!r}')
        self.radius = radius
        self.stride = stride
        self.label_downsample = label_downsample
        self.temperature = temperature
        self.tile_size = tile_size

    def forward(self, query: Tensor, key: Tensor, ref_labels: Tensor) -> Tensor:
        """Attend from target features to reference features.

        Args:
            query (Tensor): (B, C, h, w) target-frame embedding.
            key (Tensor): (B, C, h, w) reference-frame embedding.
            ref_labels (Tensor): (B, L, h, w) reference label distributions.

        Returns:
            Tensor: (B, L, h, w) predicted label distributions (sum to 1).
        """
        return restricted_attention(query, key, ref_labels, self.radius,
                                    temperature=self.temperature, tile_size=self.tile_size)

    def downsample_labels(self, labels: Tensor, num_classes: int, size: tuple[int, int]) -> Tensor:
        """One-hot label distributions on the feature grid.

        Args:
            labels (Tensor): (B, H, W) integer class map at input resolution.
            num_classes (int): L.
            size (tuple[int, int]): (h, w) feature-map size.

        Returns:
            Tensor: (B, L, h, w) float one-hot.
        """
        h, w = size
        if self.label_downsample == 'strided':
            s = self.stride
            small = _fit_edge(labels[:, ::s, ::s], h, w)  # (B, h, w)
        else:
            small = F.interpolate(labels[:, None].float(), size=(h, w), mode='bilinear',
                                  align_corners=False)[:, 0].long()  # (B, h, w)
        return F.one_hot(small.long(), num_classes).permute(0, 3, 1, 2).float()


def _fit_edge(x: Tensor, h: int, w: int) -> Tensor:
    """Crop or edge-pad a (B, h', w') map to (B, h, w)."""
    if x.shape[1:] == (h, w):
        return x
    rows = torch.arange(h, device=x.device).clamp_max(x.shape[1] - 1)
    cols = torch.arange(w, device=x.device).clamp_max(x.shape[2] - 1)
    return x[:, rows][:, :, cols]
