"""Straightforward implementations used only as baselines in benchmarks and tests.

They reproduce how the reference codebases compute things, so that speed and
memory can be compared side by side and equality can be checked.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from corrflow.models.algorithms.recursive_flow import colour_cross_entropy


def unfold_restricted_attention(query: Tensor, key: Tensor, value: Tensor, radius: int) -> Tensor:
    """Restricted attention with ``F.unfold`` (every window copied out).

    Args:
        query, key (Tensor): (B, C, H, W).
        value (Tensor): (B, L, H, W).
        radius (int): window radius R.

    Returns:
        Tensor: (B, L, H, W).
    """
    B, C, H, W = query.shape
    k = 2 * radius + 1
    D = k * k
    key_win = F.unfold(key, k, padding=radius).view(B, C, D, H, W)  # (B, C, D, H, W)
    aff = (query.unsqueeze(2) * key_win).sum(1)  # (B, D, H, W)
    inside = F.unfold(query.new_ones(1, 1, H, W), k, padding=radius).view(1, D, H, W) > 0
    weights = aff.masked_fill(~inside, float('-inf')).softmax(1)  # (B, D, H, W)
    val_win = F.unfold(value, k, padding=radius).view(B, value.shape[1], D, H, W)
    return (weights.unsqueeze(1) * val_win).sum(2)  # (B, L, H, W)


def recompute_per_call_loss(model, inputs: Tensor, data_samples: list[dict],
                            use_truth: bool) -> dict[str, Tensor]:
    """CorrFlow's loss arranged as the original release computes it (3-frame clips).

    Every attend call recomputes both embeddings from the frames (16 backbone
    passes per iteration): 2 short-term calls, 2 for the cycle 0-1-0 and 4 for
    0-1-2-1-0. ``use_truth`` fixes the scheduled-sampling draw.

    Args:
        model (RecursiveFlow): provides backbone, neck, head; its bottleneck is
            not applied (pass already-bottlenecked frames).
        inputs (Tensor): (B, 3, 3, H, W).
        data_samples (list[dict]): ``colour_labels`` (3, H, W) per clip.
        use_truth (bool): feed frame 1's true colours to the second step.
    """
    targets = torch.stack([s['colour_labels'] for s in data_samples]).long()  # (B, 3, H, W)
    x = [inputs[:, t] for t in range(3)]

    def attend(src: int, dst: int, labels: Tensor) -> Tensor:
        ref = model.embed(x[src])
        tgt = model.embed(x[dst])
        return model.head(tgt, ref, labels)

    stride = model.backbone.stride
    size = (math.ceil(inputs.shape[-2] / stride), math.ceil(inputs.shape[-1] / stride))
    onehot = [model.head.downsample_labels(targets[:, t], model.num_classes, size).to(inputs)
              for t in range(3)]
    p1 = attend(0, 1, onehot[0])
    p2 = attend(1, 2, onehot[1] if use_truth else p1)
    loss_short = colour_cross_entropy(p1, targets[:, 1]) + colour_cross_entropy(p2, targets[:, 2])
    c1 = attend(1, 0, attend(0, 1, onehot[0]))
    c2 = attend(1, 0, attend(2, 1, attend(1, 2, attend(0, 1, onehot[0]))))
    loss_cycle = colour_cross_entropy(c1, targets[:, 0]) + colour_cross_entropy(c2, targets[:, 0])
    return dict(loss_short=loss_short, loss_cycle=model.cycle_weight * loss_cycle)
