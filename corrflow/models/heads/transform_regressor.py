"""TimeCycle's transformation regressor: where a patch lies in a frame, from its affinity."""
from __future__ import annotations

import torch.nn as nn
from mmengine.model import BaseModule
from torch import Tensor

from corrflow.models.layers.affine import params_to_theta
from corrflow.registry import MODELS
from corrflow.errors import ConfigError

__all__ = ['TransformRegressor']


@MODELS.register_module()
class TransformRegressor(BaseModule):
    """(tx, ty, angle) of a patch in a frame from the patch-to-frame affinity.

    The affinity of an ``n x n`` patch against a frame of P positions is read
    as a P-channel ``n x n`` map (channel = frame position, see
    :func:`~corrflow.models.layers.affine.patch_affinity`): conv 4x4 (P -> 128,
    no bias), LeakyReLU(0.1), conv 4x4 (128 -> 64, no bias), LeakyReLU(0.1),
    linear (64 * (n - 6)^2 -> 3). The output becomes an affine of fixed scale
    (1/3 in TimeCycle). The linear layer starts near zero (std 0.01), so the
    first predictions are centred, unrotated crops.

    Args:
        num_positions (int): P, positions of the frame map (900 = 30x30).
        patch_size (int): n, cells of the patch side (10).
        scale (float): the fixed scale of the predicted affine.
        init_cfg (dict | list[dict] | None): mmengine initialisation config.
    """

    def __init__(self, num_positions: int = 900, patch_size: int = 10,
                 scale: float = 1.0 / 3.0, init_cfg: dict | list[dict] | None = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if patch_size < 7:
            raise ConfigError(f'patch_size must be >= 7 (two 4x4 convs), got {patch_size}')
        self.num_positions = num_positions
        self.patch_size = patch_size
        self.scale = scale
        self.conv1 = nn.Conv2d(num_positions, 128, 4, bias=False)
        self.conv2 = nn.Conv2d(128, 64, 4, bias=False)
        self.act = nn.LeakyReLU(0.1)
        self.fc = nn.Linear(64 * (patch_size - 6) ** 2, 3)
        for conv in (self.conv1, self.conv2):
            nn.init.kaiming_normal_(conv.weight, mode='fan_out', nonlinearity='relu')
        nn.init.normal_(self.fc.weight, std=0.01)
        nn.init.zeros_(self.fc.bias)

    def forward(self, affinity: Tensor) -> Tensor:
        """(N, P, n, n) affinity -> (N, 2, 3) patch -> frame affine."""
        if affinity.shape[1:] != (self.num_positions, self.patch_size, self.patch_size):
            raise ValueError(f'{type(self).__name__} takes ({self.num_positions}, '
                             f'{self.patch_size}, {self.patch_size}) affinities, got '
                             f'{tuple(affinity.shape[1:])}: the frame and patch sizes of the '
                             'data must match num_positions and patch_size')
        x = self.act(self.conv2(self.act(self.conv1(affinity))))
        return params_to_theta(self.fc(x.flatten(1)), self.scale)
