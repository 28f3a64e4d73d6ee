"""Random walks on space-time graphs of patch embeddings (CRW, Jabri et al., NeurIPS 2020).

The nodes of frame t are ``N`` unit-length embeddings; edges join every node of a
frame to every node of the next one. A walk step is a row-stochastic transition
matrix: the softmax over the next frame's nodes of the dot products divided by a
temperature. Nothing here forms more than one (N, N) matrix per frame pair.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ['transition_matrix', 'frame_transitions', 'palindrome_walks', 'DROPPED_EDGE']

#: Affinity given to a dropped edge before the softmax: its probability is 0 unless a
#: whole row is dropped (then the row is uniform over the dropped edges).
DROPPED_EDGE = -1e20


def transition_matrix(affinity: Tensor, temperature: float, edge_dropout: float = 0.0) -> Tensor:
    """Row-stochastic transitions ``softmax(A / T)`` over the last dimension.

    Args:
        affinity (Tensor): (..., N, M) dot products of unit-length embeddings.
        temperature (float): softmax temperature.
        edge_dropout (float): probability that an edge is dropped (its affinity
            set to :data:`DROPPED_EDGE` before the softmax), drawn independently
            for every entry; 0 keeps every edge.

    Returns:
        Tensor: (..., N, M), rows summing to one.
    """
    if edge_dropout > 0:
        dropped = torch.rand_like(affinity) < edge_dropout
        affinity = affinity.masked_fill(dropped, DROPPED_EDGE)
    return F.softmax(affinity / temperature, dim=-1)


def frame_transitions(nodes: Tensor, temperature: float,
                      edge_dropout: float = 0.0) -> tuple[list[Tensor], list[Tensor]]:
    """Transitions between the nodes of neighbouring frames, forward and backward.

    Args:
        nodes (Tensor): (B, T, N, C) unit-length node embeddings.
        temperature (float): softmax temperature.
        edge_dropout (float): edge dropout rate; the forward and the backward
            matrices of a pair get independent draws.

    Returns:
        tuple[list[Tensor], list[Tensor]]: ``forward[t]`` (B, N, N) from frame t
        to t+1 and ``backward[t]`` from frame t+1 back to t, for t = 0..T-2.
    """
    affinity = torch.einsum('btnc,btmc->btnm', nodes[:, :-1], nodes[:, 1:])
    steps = affinity.shape[1]
    forward = [transition_matrix(affinity[:, t], temperature, edge_dropout)
               for t in range(steps)]
    backward = [transition_matrix(affinity[:, t].transpose(-1, -2), temperature, edge_dropout)
                for t in range(steps)]
    return forward, backward


def palindrome_walks(forward: Sequence[Tensor], backward: Sequence[Tensor],
                     lengths: Sequence[int]) -> dict[int, Tensor]:
    """Probabilities of the palindrome walks: k steps forward in time, k steps back.

    The walk of length k is ``forward[0] @ ... @ forward[k-1] @ backward[k-1] @ ...
    @ backward[0]``: entry (i, j) is the probability that a walker leaving node i
    of frame 0 ends on node j of frame 0.

    Args:
        forward (Sequence[Tensor]): (B, N, N) transitions t -> t+1.
        backward (Sequence[Tensor]): (B, N, N) transitions t+1 -> t.
        lengths (Sequence[int]): the k of each walk, in 1..len(forward).

    Returns:
        dict[int, Tensor]: k -> (B, N, N) return probabilities.
    """
    walks = {}
    wanted = set(int(k) for k in lengths)
    ahead = back = None
    for k in range(1, max(wanted) + 1):
        ahead = forward[0] if ahead is None else ahead @ forward[k - 1]
        back = backward[0] if back is None else backward[k - 1] @ back
        if k in wanted:
            walks[k] = ahead @ back
    return walks
