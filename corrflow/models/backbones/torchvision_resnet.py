"""torchvision ResNets with configurable strides and output stage."""
from __future__ import annotations

from typing import Sequence

import torch.nn as nn
import torchvision
from mmengine.model import BaseModule
from torch import Tensor

from corrflow.errors import ConfigError
from corrflow.models.backbones.pretrained_weights import KEY_MAPS, load_pretrained_encoder
from corrflow.registry import MODELS

_BUILDERS = {
    18: torchvision.models.resnet18,
    34: torchvision.models.resnet34,
    50: torchvision.models.resnet50,
    101: torchvision.models.resnet101,
}


def _set_stage_stride(stage: nn.Sequential, stride: int) -> None:
    """Give the first block of a torchvision stage the requested stride."""
    block = stage[0]
    conv = block.conv2 if hasattr(block, 'conv3') else block.conv1  # Bottleneck strides conv2
    conv.stride = (stride, stride)
    if block.downsample is not None:
        block.downsample[0].stride = (stride, stride)


@MODELS.register_module()
class TorchvisionResNet(BaseModule):
    """A torchvision ResNet cut at a chosen stage, with chosen stage strides.

    Recipes of the CRW/VFS family use ResNet-18 at output stride 8 taken at
    ``layer3`` (``strides=(1, 2, 1, 1)``, max-pool kept). Weights start random;
    load pretrained weights through ``init_cfg`` from a local file.

    Args:
        depth (int): 18, 34, 50 or 101.
        strides (Sequence[int]): strides of layer1..layer4.
        out_stage (int): last stage used (1-4).
        with_maxpool (bool): keep the stem max-pool.
        stem_pool (str | None): ``'max'`` (the 3x3 stride-2 max-pool),
            ``'mean'`` (a 3x3 stride-2 average pool, padding 1; Spa-then-Temp's
            stride-4 test backbone) or ``'none'``; overrides ``with_maxpool``
            when given.
        out_indices (Sequence[int] | None): return the outputs of these stages
            (1-4, at most ``out_stage``) as a tuple, e.g. ``(2, 3, 4)`` for
            recipes that learn from several layers; None returns the last
            stage's output alone. ``strides_of`` gives their strides.
        padding_mode (str): padding of every convolution that pads:
            ``'zeros'`` (torchvision) or ``'reflect'`` (CRW's encoder trained
            from scratch); the max-pool keeps its own padding.
        checkpoint (str | None): weights read from this file (never
            downloaded) with ``key_map``; the stages after ``out_stage`` in
            it are left out. Loaded when the model is built and again by
            ``init_weights``.
        key_map (str): how the checkpoint names the encoder: ``'torchvision'``
            (ImageNet state dicts), ``'corrflow'`` (a corrflow checkpoint's
            backbone), ``'moco'``, ``'moco_v3'`` or ``'crw'`` (see
            :data:`corrflow.models.backbones.pretrained_weights.KEY_MAPS`).
        init_cfg (dict | list[dict] | None): mmengine initialisation config.
    """

    def __init__(self, depth: int = 18, strides: Sequence[int] = (1, 2, 1, 1),
                 out_stage: int = 3, with_maxpool: bool = True, stem_pool: str | None = None,
                 out_indices: Sequence[int] | None = None, padding_mode: str = 'zeros',
                 checkpoint: str | None = None, key_map: str = 'torchvision',
                 init_cfg: dict | list[dict] | None = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if depth not in _BUILDERS:
            raise ConfigError(f'depth must be one of {sorted(_BUILDERS)}, got {depth}')
        if not 1 <= out_stage <= 4:
            raise ConfigError(f'out_stage must be in 1..4, got {out_stage}')
        if len(strides) != 4:
            raise ConfigError(f'strides needs 4 entries (layer1..layer4), got {strides}')
        if out_indices is not None and (not out_indices or
                                        any(not 1 <= i <= out_stage for i in out_indices)):
            raise ConfigError(f'out_indices must be stages in 1..out_stage={out_stage}, got '
                              f'{out_indices}')
        if padding_mode not in ('zeros', 'reflect'):
            raise ConfigError(f'padding_mode must be "zeros" or "reflect", got {padding_mode!r}')
        self.out_indices = None if out_indices is None else tuple(int(i) for i in out_indices)
        net = _BUILDERS[depth](weights=None)
        self.padding_mode = padding_mode
        for m in net.modules():
            if isinstance(m, nn.Conv2d) and any(m.padding):
                m.padding_mode = padding_mode
        if stem_pool is None:
            stem_pool = 'max' if with_maxpool else 'none'
        if stem_pool not in ('max', 'mean', 'none'):
            raise ConfigError(f'stem_pool must be "max", "mean" or "none", got {stem_pool!r}')
        self.stem_pool = stem_pool
        self.conv1, self.bn1, self.relu = net.conv1, net.bn1, net.relu
        self.maxpool = {'max': net.maxpool, 'mean': nn.AvgPool2d(3, 2, 1),
                        'none': nn.Identity()}[stem_pool]
        self.layer_names = []
        self.stride = 2 if stem_pool == 'none' else 4
        self.strides_of, self.channels_of = {}, {}
        for i in range(out_stage):
            name = f'layer{i + 1}'
            stage = getattr(net, name)
            _set_stage_stride(stage, strides[i])
            self.add_module(name, stage)
            self.layer_names.append(name)
            self.stride *= strides[i]
            last = stage[-1]
            self.strides_of[i + 1] = self.stride
            self.channels_of[i + 1] = (last.conv3 if hasattr(last, 'conv3')
                                       else last.conv2).out_channels
        self.out_channels = self.channels_of[out_stage]
        self.arch = f'ResNet-{depth} to layer{out_stage}'
        self.checkpoint = checkpoint
        self.key_map = key_map
        if key_map not in KEY_MAPS:
            raise ConfigError(f'key_map must be one of {sorted(KEY_MAPS)}, got {key_map!r}')
        if checkpoint:
            self.load_checkpoint()

    def load_checkpoint(self) -> None:
        """Fill the weights from ``checkpoint`` (see the class doc)."""
        later = tuple(f'layer{i}.' for i in range(len(self.layer_names) + 1, 5))
        load_pretrained_encoder(self, self.checkpoint, self.key_map,
                                unused=lambda name: name.startswith(later))

    def init_weights(self) -> None:
        super().init_weights()
        if self.checkpoint:
            self.load_checkpoint()

    def forward_stage(self, x: Tensor, stage: int) -> Tensor:
        """(B, 3, H, W) -> the output of ``stage`` (1..out_stage) alone."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        for name in self.layer_names[:stage]:
            x = getattr(self, name)(x)
        return x

    def forward(self, x: Tensor) -> Tensor | tuple[Tensor, ...]:
        """(B, 3, H, W) -> (B, C_out, H/stride, W/stride), or the ``out_indices`` outputs."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        outs = []
        for i, name in enumerate(self.layer_names, 1):
            x = getattr(self, name)(x)
            if self.out_indices is not None and i in self.out_indices:
                outs.append(x)
        return x if self.out_indices is None else tuple(outs)


class StageView(nn.Module):
    """One stage's output of a :class:`TorchvisionResNet`, as an encoder of its own.

    Shares the backbone's modules (no copy): e.g. the stride-8 layer3 of a
    student trained with outputs at several layers, for label propagation.
    """

    def __init__(self, backbone: TorchvisionResNet, stage: int) -> None:
        super().__init__()
        if stage not in backbone.strides_of:
            raise ConfigError(f'stage {stage} is not one of the backbone\'s stages '
                              f'{sorted(backbone.strides_of)}')
        self.backbone = backbone
        self.stage = stage
        self.stride = backbone.strides_of[stage]
        self.out_channels = backbone.channels_of[stage]

    def forward(self, x: Tensor) -> Tensor:
        return self.backbone.forward_stage(x, self.stage)
