"""The contrastive random walk's loss: return to where the palindrome walk started."""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from corrflow.errors import ConfigError
from corrflow.models.layers.random_walk import frame_transitions, palindrome_walks
from corrflow.registry import MODELS
from corrflow.utils.precision import autocast_off

__all__ = ['CycleWalkLoss']


@MODELS.register_module()
class CycleWalkLoss(nn.Module):
    """Cross-entropy of a palindrome random walk ending on its own start node.

    For a clip of T frames with N nodes each, the walk of length k goes
    through frames 0, 1, .., k and back to 0 (:func:`palindrome_walks`); its
    loss is the mean over the start nodes of ``-log(P[i, i] + eps)``, the
    target of row i being node i. The loss is the mean over the walk lengths.
    The walks are computed in float32 (float64 stays float64) whatever the
    autocast state.

    Args:
        temperature (float): softmax temperature of the transitions (0.05 in
            CRW's training command; 0.07 is its code's default).
        edge_dropout (float): edge dropout rate of every transition matrix
            (0.1 in CRW's training command).
        walk_lengths (Sequence[int] | None): the k of the walks; None takes
            2..T-1 as CRW's code does (for 4 frames: 2 and 3; the one-step
            walk is left out).
        eps (float): added to the probabilities before the log (1e-20).
    """

    def __init__(self, temperature: float = 0.05, edge_dropout: float = 0.1,
                 walk_lengths: Sequence[int] | None = None, eps: float = 1e-20) -> None:
        super().__init__()
        if temperature <= 0 or not 0 <= edge_dropout < 1 or eps < 0:
            raise ConfigError(f'CycleWalkLoss needs temperature > 0, 0 <= edge_dropout < 1 '
                              f'and eps >= 0, got {temperature}, {edge_dropout}, {eps}')
        if walk_lengths is not None and (not walk_lengths or min(walk_lengths) < 1):
            raise ConfigError(f'walk_lengths must be positive step counts, got {walk_lengths}')
        self.temperature = float(temperature)
        self.edge_dropout = float(edge_dropout)
        self.walk_lengths = None if walk_lengths is None else tuple(int(k) for k in walk_lengths)
        self.eps = float(eps)

    def lengths_for(self, num_frames: int) -> tuple[int, ...]:
        """The walk lengths used on clips of ``num_frames`` frames."""
        lengths = self.walk_lengths or tuple(range(2, num_frames))
        if not lengths or max(lengths) > num_frames - 1:
            need = 3 if self.walk_lengths is None else max(self.walk_lengths) + 1
            raise ValueError(f'clips of {num_frames} frames are too short for walks of lengths '
                             f'{self.walk_lengths or "2..T-1"}: they need at least {need} frames')
        return lengths

    def forward(self, nodes: Tensor) -> dict[str, Tensor]:
        """Loss of (B, T, N, C) unit-length node embeddings.

        Returns:
            dict[str, Tensor]: ``loss`` (mean over the walks), and per length k
            ``xent_k`` (its cross-entropy) and ``acc_k`` (share of start nodes
            whose most probable end is themselves), both detached.
        """
        if nodes.dim() != 4:
            raise ValueError(f'CycleWalkLoss takes (B, T, N, C) node embeddings, got '
                             f'{tuple(nodes.shape)}')
        lengths = self.lengths_for(nodes.shape[1])
        dtype = torch.float64 if nodes.dtype == torch.float64 else torch.float32
        with autocast_off(nodes.device.type):
            forward, backward = frame_transitions(nodes.to(dtype), self.temperature,
                                                  self.edge_dropout)
            walks = palindrome_walks(forward, backward, lengths)
            out, losses = {}, []
            for k, walk in walks.items():
                logits = torch.log(walk + self.eps).flatten(0, 1)  # (B*N, N)
                target = torch.arange(walk.shape[-1], device=walk.device).repeat(walk.shape[0])
                xent = F.cross_entropy(logits, target)
                losses.append(xent)
                out[f'xent_{k}'] = xent.detach()
                out[f'acc_{k}'] = (logits.argmax(-1) == target).to(dtype).mean()
            out['loss'] = torch.stack(losses).mean()
        return out
