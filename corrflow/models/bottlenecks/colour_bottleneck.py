"""Information bottleneck on the input frames: colour dropout and colour jitter."""
from __future__ import annotations

import torch
import torch.nn as nn
import torchvision.transforms.v2.functional as TF
from torch import Tensor

from corrflow.registry import MODELS
from corrflow.errors import ConfigError

_DRAW_MODES = ('iteration', 'sample')


@MODELS.register_module()
class ColourBottleneck(nn.Module):
    """Hide colour from the network input so that it cannot match by colour.

    Colour-channel dropout: with probability ``keep_prob`` the input is left
    alone; otherwise ``k`` RGB channels (``k`` uniform in ``drop_counts``) are
    zeroed and all channels are scaled by ``3 / (3 - k)``. The original recipe
    draws once per iteration (same channels for the whole batch and clip);
    ``draw='sample'`` draws per clip instead.

    Colour jitter: each clip is jittered with probability ``jitter_prob``;
    brightness, contrast, saturation and hue factors are then drawn
    independently for every frame. Applied before the dropout.

    Only the network input is changed; the colour targets are computed from the
    original frames. Active in training mode only.

    Args:
        keep_prob (float): probability of no channel dropout.
        drop_counts (tuple[int, ...]): numbers of channels that may be dropped.
        draw (str): ``'iteration'`` or ``'sample'``.
        jitter_prob (float): probability that a clip is jittered.
        brightness (float): brightness factor drawn from [1-x, 1+x].
        contrast (float): contrast factor drawn from [1-x, 1+x].
        saturation (float): saturation factor drawn from [1-x, 1+x].
        hue (float): hue shift drawn from [-x, x] (in turns, at most 0.5).
    """

    def __init__(self, keep_prob: float = 0.3, drop_counts: tuple[int, ...] = (1, 2),
                 draw: str = 'iteration', jitter_prob: float = 0.1, brightness: float = 0.1,
                 contrast: float = 0.1, saturation: float = 0.1, hue: float = 0.1) -> None:
        super().__init__()
        if draw not in _DRAW_MODES:
            raise ConfigError(f'draw must be one of {_DRAW_MODES}, got {draw!r}')
        if not 0.0 <= keep_prob <= 1.0 or not 0.0 <= jitter_prob <= 1.0:
            raise ConfigError(f'probabilities must lie in [0, 1], got keep_prob={keep_prob}, '
                             f'jitter_prob={jitter_prob}')
        if not drop_counts or any(k not in (1, 2) for k in drop_counts):
            raise ConfigError(f'drop_counts must be a non-empty subset of (1, 2), got '
                              f'{drop_counts}')
        if not 0.0 <= hue <= 0.5:
            raise ConfigError(f'hue must lie in [0, 0.5], got {hue}')
        self.keep_prob = keep_prob
        self.drop_counts = tuple(drop_counts)
        self.draw = draw
        self.jitter_prob = jitter_prob
        self.jitter_ranges = (brightness, contrast, saturation, hue)

    def forward(self, frames: Tensor) -> Tensor:
        """(B, T, 3, H, W) RGB in [0, 1] -> same shape; identity in eval mode."""
        if not self.training:
            return frames
        frames = self.jitter(frames)
        return frames * self.dropout_scales(frames.shape[0], frames.device).to(frames.dtype)

    def dropout_scales(self, batch: int, device: torch.device | str = 'cpu') -> Tensor:
        """Per-channel multipliers of the channel dropout.

        Returns:
            Tensor: (B, 1, 3, 1, 1) with zeros on dropped channels and
            ``3 / (3 - k)`` elsewhere.
        """
        draws = 1 if self.draw == 'iteration' else batch
        scales = torch.ones(draws, 3)
        for i in range(draws):
            if torch.rand(()).item() < self.keep_prob:
                continue
            k = self.drop_counts[int(torch.randint(len(self.drop_counts), ()).item())]
            dropped = torch.randperm(3)[:k]
            scales[i] = 3.0 / (3 - k)
            scales[i, dropped] = 0.0
        scales = scales.expand(batch, 3) if draws == 1 else scales
        return scales.view(batch, 1, 3, 1, 1).to(device)

    def jitter(self, frames: Tensor) -> Tensor:
        """Colour-jitter a random subset of clips, new factors per frame."""
        if self.jitter_prob <= 0:
            return frames
        chosen = (torch.rand(frames.shape[0]) < self.jitter_prob).nonzero().flatten().tolist()
        if not chosen:
            return frames
        out = frames.clone()
        b, c, s, h = self.jitter_ranges
        for i in chosen:
            for t in range(frames.shape[1]):
                img = frames[i, t]
                order = torch.randperm(4).tolist()
                for op in order:
                    if op == 0 and b > 0:
                        img = TF.adjust_brightness(img, _uniform(1 - b, 1 + b))
                    elif op == 1 and c > 0:
                        img = TF.adjust_contrast(img, _uniform(1 - c, 1 + c))
                    elif op == 2 and s > 0:
                        img = TF.adjust_saturation(img, _uniform(1 - s, 1 + s))
                    elif op == 3 and h > 0:
                        img = TF.adjust_hue(img, _uniform(-h, h))
                out[i, t] = img.clamp(0.0, 1.0)
        return out


def _uniform(low: float, high: float) -> float:
    return low + (high - low) * torch.rand(()).item()
