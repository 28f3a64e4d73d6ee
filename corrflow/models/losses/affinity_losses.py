"""Losses of Spa-then-Temp's temporal stage (Li & Liu, CVPR 2023), on windowed affinities.

Every affinity here is restricted to a square window of radius R around each
query cell (keys outside the window or the image get no weight); none forms an
HW x HW matrix. A frame pair is a target (the query) and a reference (the keys).

Window layout: ``(B, D, h, w)`` with ``D = (2R+1)^2`` offsets ``(dy, dx)`` in
row-major order (:func:`corrflow.models.layers.local_attention.window_offsets`);
entry ``[b, d, y, x]`` is the affinity of query cell (y, x) with key cell
``(y + dy, x + dx)``.
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from corrflow.models.layers.local_attention import local_affinity, restricted_attention
from corrflow.registry import MODELS
from corrflow.errors import ConfigError
from corrflow.utils.precision import autocast_off

__all__ = ['window_softmax', 'WindowedReconstructionLoss', 'UncertaintyMask',
           'LocalAffinityDistillLoss', 'GlobalAffinityDistillLoss', 'pool_window_affinity',
           'VARIANTS']

#: Names of the two behaviours of the distillation losses and the mask.
VARIANTS = ('faithful', 'corrected')


def _check_variant(variant: str) -> str:
    if variant not in VARIANTS:
        raise ConfigError(f'variant must be one of {VARIANTS}, got {variant!r}')
    return variant


def window_softmax(query: Tensor, key: Tensor, radius: int, scale: float) -> Tensor:
    """Softmax over the window of each query of ``scale`` x dot products: (B, D, h, w).

    Keys outside the image get probability 0.
    """
    logits = local_affinity(query.float(), key.float(), radius) * scale
    return logits.softmax(dim=1)


@MODELS.register_module()
class WindowedReconstructionLoss(nn.Module):
    """Reconstruct the target frame's dropped colour channel from the reference's.

    The affinity of the target's features with the reference's is the softmax
    over a ``(2R+1)^2`` window of dot products / sqrt(C) (the toolbox's
    restricted attention). It copies the reference's channel, sampled at the
    top-left pixel of each cell (``[::s, ::s]``); the copy is upsampled
    bilinearly (``align_corners=False``) to the input size and compared with
    the target's channel by ``smooth_l1(scale * pred, scale * target)``.

    Args:
        stride (int): feature stride s (4 or 8).
        radius (int): window radius R in cells (12 at stride 4, 6 at stride 8).
        scale (float): factor on prediction and target before the smooth L1 (20).
        loss_weight (float): weight of the term.
    """

    def __init__(self, stride: int = 4, radius: int = 12, scale: float = 20.0,
                 loss_weight: float = 1.0) -> None:
        super().__init__()
        if stride < 1 or radius < 0:
            raise ConfigError(f'need stride >= 1 and radius >= 0, got {stride} and {radius}')
        self.stride = stride
        self.radius = radius
        self.scale = scale
        self.loss_weight = loss_weight

    def predict(self, query: Tensor, key: Tensor, reference: Tensor) -> Tensor:
        """(B, 1, H, W) reference channel -> its copy into the target, (B, 1, H, W)."""
        H, W = reference.shape[-2:]
        if query.shape[-2:] != (-(-H // self.stride), -(-W // self.stride)):
            raise ValueError(f'{type(self).__name__}: {tuple(query.shape[-2:])} features for '
                             f'{H}x{W} frames are not at stride {self.stride}')
        values = reference[:, :, ::self.stride, ::self.stride].float()
        copy = restricted_attention(query, key, values, self.radius,
                                    temperature=math.sqrt(query.shape[1]))
        with autocast_off(copy.device.type):
            return F.interpolate(copy.float(), size=(H, W), mode='bilinear', align_corners=False)

    def forward(self, query: Tensor, key: Tensor, reference: Tensor, target: Tensor) -> Tensor:
        """Features (B, C, h, w) of target and reference; channels (B, 1, H, W) of both."""
        pred = self.predict(query, key, reference)
        with autocast_off(pred.device.type):
            return self.loss_weight * F.smooth_l1_loss(self.scale * pred,
                                                       self.scale * target.float())


@MODELS.register_module()
class UncertaintyMask(nn.Module):
    """Query cells that take part in the local distillation.

    From the toolbox's local correlation of the raw features (dot products
    with the keys of a ``(2R+1)^2`` window; out-of-image keys count as 0, as
    the original's correlation op gives), softmax over the window, the score
    of a cell is ``sum_d -log(p_d + 1e-12)``. That sum is *smallest* for a
    flat distribution, so high scores are peaked, confident matches.

    - ``'faithful'``: the original's threshold as written: the scores are
      sorted along x within each row, and cell (y, x) is kept when its score
      exceeds the (x+1)-th largest score of row ``int(W * keep) - 1`` of that
      sorting (one row's values, compared column by column; about half the
      cells are kept, more on the right).
    - ``'corrected'``: the ``int(H * W * keep)`` highest-scoring cells of each
      sample (70 % by default), as described.

    Args:
        radius (int): window radius R of the correlation (6 at stride 8).
        keep (float): the share 0.7.
        variant (str): ``'faithful'`` or ``'corrected'``.
    """

    def __init__(self, radius: int = 6, keep: float = 0.7, variant: str = 'faithful') -> None:
        super().__init__()
        if not 0 < keep <= 1:
            raise ConfigError(f'keep must be in (0, 1], got {keep}')
        self.radius = radius
        self.keep = keep
        self.variant = _check_variant(variant)

    def scores(self, query: Tensor, key: Tensor) -> Tensor:
        """(B, h, w) sum over the window of -log softmax of the raw correlation."""
        logits = local_affinity(query.float(), key.float(), self.radius)
        logits = torch.nan_to_num(logits, neginf=0.0)  # out-of-image keys: correlation 0
        prob = logits.softmax(dim=1)
        return -(prob + 1e-12).log().sum(1)

    @torch.no_grad()
    def forward(self, query: Tensor, key: Tensor) -> Tensor:
        """(B, C, h, w) target and reference features -> (B, h, w) bool mask."""
        score = self.scores(query, key)
        B, h, w = score.shape
        if self.variant == 'faithful':
            ranked = score.sort(dim=-1, descending=True).values  # each row sorted along x
            row = max(int(w * self.keep) - 1, 0)
            return score > ranked[:, row:row + 1, :]  # (B, 1, w) broadcast over rows
        k = max(int(h * w * self.keep), 1)
        top = score.flatten(1).topk(k, dim=1).indices
        mask = torch.zeros(B, h * w, dtype=torch.bool, device=score.device)
        mask.scatter_(1, top, True)
        return mask.view(B, h, w)


def pool_window_affinity(fine: Tensor, fine_radius: int, coarse_radius: int,
                         key_reduce: str = 'mean') -> Tensor:
    """A stride-s window affinity pooled 2x2 over queries and keys to stride 2s.

    ``fine`` is (B, (2R+1)^2, 2h, 2w) with R = ``fine_radius`` =
    2 x ``coarse_radius``. Coarse query Q and key K = Q + D average the fine
    queries (2Q + i) and combine the fine keys (2K + k), i, k in {0, 1}^2, at
    fine offset 2D + k - i; offsets beyond the fine window are 0. So the
    result is the dense pooling of the original, restricted to the coarse
    window (outside it the pooled affinity is 0).

    Args:
        fine (Tensor): (B, (2R+1)^2, 2h, 2w) window affinities.
        fine_radius (int): R.
        coarse_radius (int): r, with R = 2 r.
        key_reduce (str): ``'mean'`` over the 4 fine keys (the original: rows
            then sum to 1/4) or ``'sum'`` (rows sum to 1).

    Returns:
        Tensor: (B, (2r+1)^2, h, w).
    """
    if fine_radius != 2 * coarse_radius:
        raise ConfigError(f'the fine radius must be twice the coarse one, got {fine_radius} and '
                          f'{coarse_radius}')
    B, D, H, W = fine.shape
    n = 2 * fine_radius + 1
    if D != n * n or H % 2 or W % 2:
        raise ValueError(f'expected (B, {n * n}, 2h, 2w) affinities, got {tuple(fine.shape)}')
    m = 2 * coarse_radius + 1
    grid = F.pad(fine.view(B, n, n, H, W), (0, 0, 0, 0, 1, 1, 1, 1))  # offsets -R-1 .. R+1
    out = fine.new_zeros(B, m, m, H // 2, W // 2)
    for i in (0, 1):  # fine query row within the 2x2 block
        for j in (0, 1):
            queries = grid[..., i::2, j::2]  # (B, n+2, n+2, h, w)
            for k in (0, 1):  # fine key row within its block
                for c in (0, 1):  # and column
                    ys, xs = 1 + k - i, 1 + c - j
                    out += queries[:, ys:ys + 2 * m:2, xs:xs + 2 * m:2]
    out /= 16.0 if key_reduce == 'mean' else 4.0
    return out.view(B, m * m, H // 2, W // 2)


@MODELS.register_module()
class LocalAffinityDistillLoss(nn.Module):
    """The stride-8 window affinity learns from the pooled stride-4 one.

    Both affinities are softmaxes of dot products / sqrt(C) over windows of
    the same extent (radius 12 at stride 4, 6 at stride 8: 48 px). The
    stride-4 affinity, detached, is pooled 2x2 over queries and keys
    (:func:`pool_window_affinity`) and supervises the stride-8 one by a squared
    error at the query cells of the mask. The error is summed over the
    cells' keys and divided by (masked cells x all keys), as the original's
    masked mean over its dense rows.

    - ``'faithful'``: the mean over the 4 fine keys, as the original, whose
      target rows then sum to 1/4 while the student's sum to 1.
    - ``'corrected'``: the 4 fine keys are summed, so target rows sum to 1.

    Args:
        fine_radius (int): window radius at stride 4 (12).
        coarse_radius (int): window radius at stride 8 (6).
        variant (str): ``'faithful'`` or ``'corrected'``.
        loss_weight (float): weight of the term (1000).
    """

    def __init__(self, fine_radius: int = 12, coarse_radius: int = 6,
                 variant: str = 'faithful', loss_weight: float = 1000.0) -> None:
        super().__init__()
        if fine_radius != 2 * coarse_radius:
            raise ConfigError(f'fine_radius must be twice coarse_radius, got {fine_radius} and '
                              f'{coarse_radius}')
        self.fine_radius = fine_radius
        self.coarse_radius = coarse_radius
        self.variant = _check_variant(variant)
        self.loss_weight = loss_weight

    def target(self, fine_query: Tensor, fine_key: Tensor) -> Tensor:
        """The pooled, detached stride-4 affinity on the stride-8 windows."""
        with torch.no_grad():
            fine = window_softmax(fine_query, fine_key, self.fine_radius,
                                  1 / math.sqrt(fine_query.shape[1]))
            return pool_window_affinity(fine, self.fine_radius, self.coarse_radius,
                                        'mean' if self.variant == 'faithful' else 'sum')

    def forward(self, fine_query: Tensor, fine_key: Tensor, coarse_query: Tensor,
                coarse_key: Tensor, mask: Tensor) -> Tensor:
        """Stride-4 and stride-8 features (B, C, h, w) of target and reference; mask (B, h8, w8)."""
        h, w = coarse_query.shape[-2:]
        if fine_query.shape[-2:] != (2 * h, 2 * w):
            raise ValueError(f'{type(self).__name__}: the fine features '
                             f'{tuple(fine_query.shape[-2:])} must be twice the coarse ones '
                             f'{(h, w)}')
        with autocast_off(coarse_query.device.type):
            target = self.target(fine_query, fine_key)
            student = window_softmax(coarse_query, coarse_key, self.coarse_radius,
                                     1 / math.sqrt(coarse_query.shape[1]))
            err = (student - target).pow(2).sum(1)  # (B, h, w), summed over the window
            weight = mask.to(err.dtype)
            return self.loss_weight * (err * weight).sum() / (weight.sum() * h * w + 1e-12)


@MODELS.register_module()
class GlobalAffinityDistillLoss(nn.Module):
    """The student's coarsest affinity learns the frozen teacher's.

    Over all cells of the coarsest grid (8x8 at stride 32): the student's
    softmax of dot products / sqrt(C) against the teacher's softmax of dot
    products / ``teacher_temperature``, by a mean squared error.

    - ``'faithful'``: the teacher's raw features, as the original (on raw
      ResNet features /0.07 makes its rows nearly one-hot).
    - ``'corrected'``: the teacher's features L2-normalised first, the
      convention its 0.07 comes from.

    Args:
        teacher_temperature (float): 0.07.
        variant (str): ``'faithful'`` or ``'corrected'``.
        loss_weight (float): weight of the term (50).
    """

    def __init__(self, teacher_temperature: float = 0.07, variant: str = 'faithful',
                 loss_weight: float = 50.0) -> None:
        super().__init__()
        if teacher_temperature <= 0:
            raise ConfigError(f'teacher_temperature must be > 0, got {teacher_temperature}')
        self.teacher_temperature = teacher_temperature
        self.variant = _check_variant(variant)
        self.loss_weight = loss_weight

    @staticmethod
    def affinity(query: Tensor, key: Tensor, scale: float) -> Tensor:
        """(B, C, h, w) x2 -> (B, hw queries, hw keys) softmax over keys."""
        q = query.float().flatten(2)
        k = key.float().flatten(2)
        return (q.transpose(1, 2) @ k * scale).softmax(dim=-1)

    def forward(self, query: Tensor, key: Tensor, teacher_query: Tensor,
                teacher_key: Tensor) -> Tensor:
        """Student (B, C, h, w) and teacher (B, C_t, h, w) features of target and reference."""
        if query.shape[-2:] != teacher_query.shape[-2:]:
            raise ConfigError(f'the teacher gives a {tuple(teacher_query.shape[-2:])} grid, the '
                              f'student\'s last layer a {tuple(query.shape[-2:])} one: they must '
                              'match (set the teacher\'s pool, or its strides)')
        with autocast_off(query.device.type):
            student = self.affinity(query, key, 1 / math.sqrt(query.shape[1]))
            tq, tk = teacher_query.float(), teacher_key.float()
            if self.variant == 'corrected':
                tq, tk = F.normalize(tq, dim=1), F.normalize(tk, dim=1)
            teacher = self.affinity(tq, tk, 1 / self.teacher_temperature)
            return self.loss_weight * F.mse_loss(student, teacher)
