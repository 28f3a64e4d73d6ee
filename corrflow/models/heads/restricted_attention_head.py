"""Label-copying heads: restricted (windowed) or global attention from frame to frame."""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from corrflow.models.layers.local_attention import restricted_attention
from corrflow.registry import MODELS
from corrflow.utils.precision import autocast_off, full_precision
from corrflow.errors import ConfigError

_DOWNSAMPLE_MODES = ('strided', 'bilinear_truncate')


class _LabelCopyHead(nn.Module):
    """Shared part of the label-copying heads: labels brought to the feature grid."""

    def __init__(self, stride: int = 4, label_downsample: str = 'strided') -> None:
        super().__init__()
        if label_downsample not in _DOWNSAMPLE_MODES:
            raise ConfigError(f'label_downsample must be one of {_DOWNSAMPLE_MODES}, '
                             f'got {label_downsample!r}')
        self.stride = stride
        self.label_downsample = label_downsample

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


@MODELS.register_module()
class RestrictedAttentionHead(_LabelCopyHead):
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
        super().__init__(stride=stride, label_downsample=label_downsample)
        self.radius = radius
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

@MODELS.register_module()
class GlobalAttentionHead(_LabelCopyHead):
    """Label copying by softmax attention over every reference location.

    The "w/o restricted attention" variant of CorrFlow's ablation: the same raw
    dot products as :class:`RestrictedAttentionHead`, with the softmax taken
    over all ``h * w`` reference cells instead of a window. It forms the
    ``(h w) x (h w)`` affinity of every clip, so it is meant for training
    crops (a 128x128 crop at stride 4: 1024 x 1024 per clip), not for whole
    480p frames.

    Args:
        stride (int): feature stride relative to the label maps.
        label_downsample (str): as :class:`RestrictedAttentionHead`.
        temperature (float): affinities are divided by it (1 in CorrFlow).
    """

    def __init__(self, stride: int = 4, label_downsample: str = 'strided',
                 temperature: float = 1.0) -> None:
        super().__init__(stride=stride, label_downsample=label_downsample)
        if temperature <= 0:
            raise ConfigError(f'temperature must be > 0, got {temperature}')
        self.temperature = temperature

    def forward(self, query: Tensor, key: Tensor, ref_labels: Tensor) -> Tensor:
        """Attend from target features to all reference features.

        Args:
            query (Tensor): (B, C, h, w) target-frame embedding.
            key (Tensor): (B, C, h, w) reference-frame embedding.
            ref_labels (Tensor): (B, L, h, w) reference label distributions.

        Returns:
            Tensor: (B, L, h, w) predicted label distributions (sum to 1).
        """
        if query.shape != key.shape or ref_labels.shape[0] != query.shape[0] \
                or ref_labels.shape[2:] != query.shape[2:]:
            raise ValueError(f'query {tuple(query.shape)}, key {tuple(key.shape)} and labels '
                             f'{tuple(ref_labels.shape)} must share batch and grid size')
        B, C, h, w = query.shape
        # (B, hw, C) @ (B, C, hw): products in the autocast dtype, softmax and output fp32
        aff = torch.bmm(query.flatten(2).transpose(1, 2), key.flatten(2))  # (B, hw, hw)
        with autocast_off(query.device.type):
            aff = aff.to(full_precision(aff.dtype)) / self.temperature
            weights = aff.softmax(dim=2)
            values = ref_labels.flatten(2).to(weights.dtype)  # (B, L, hw)
            out = torch.bmm(values, weights.transpose(1, 2))  # (B, L, hw)
        return out.view(B, -1, h, w)


def _fit_edge(x: Tensor, h: int, w: int) -> Tensor:
    """Crop or edge-pad a (B, h', w') map to (B, h, w)."""
    if x.shape[1:] == (h, w):
        return x
    rows = torch.arange(h, device=x.device).clamp_max(x.shape[1] - 1)
    cols = torch.arange(w, device=x.device).clamp_max(x.shape[2] - 1)
    return x[:, rows][:, :, cols]
