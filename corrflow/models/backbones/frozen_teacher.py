"""A frozen encoder loaded from a checkpoint, the teacher of distillation recipes."""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from corrflow.registry import MODELS
from corrflow.utils.checkpoint import CheckpointError, load_checkpoint_file
from corrflow.errors import ConfigError

__all__ = ['FrozenTeacher', 'TEACHER_PREFIXES', 'load_encoder_weights']

#: Prefixes stripped from checkpoint keys, first match wins: MoCo's query encoder
#: (``module.encoder_q.``), DataParallel (``module.``) and corrflow's ``backbone.``.
TEACHER_PREFIXES = ('module.encoder_q.', 'encoder_q.', 'module.', 'backbone.')


def _strip(key: str, prefixes: Sequence[str]) -> str:
    for prefix in prefixes:
        if key.startswith(prefix):
            return key[len(prefix):]
    return key


def load_encoder_weights(module: nn.Module, path: str, what: str,
                         prefixes: Sequence[str] = TEACHER_PREFIXES) -> None:
    """Fill every weight of ``module`` from a checkpoint, or refuse naming the file.

    The checkpoint is a ``state_dict`` entry or a plain dict (torchvision's own
    format, MoCo's, or a corrflow checkpoint); ``prefixes`` are stripped from
    its keys (first match), and entries ``module`` does not have are left out.

    Raises:
        CheckpointError: the file is missing or unsafe, or would leave a weight
            of ``module`` unfilled, or a weight has another shape.
    """
    try:
        ckpt = load_checkpoint_file(path)
    except CheckpointError as err:
        raise CheckpointError(f'{what}: {err}') from None
    state = ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) else None
    if not isinstance(state, dict) or not state:
        raise CheckpointError(f'{what} checkpoint {path} holds no state dict')
    own = module.state_dict()
    weights = {}
    for key, value in state.items():
        name = _strip(str(key), prefixes)
        if name in own and isinstance(value, Tensor):
            weights.setdefault(name, value)
    missing = [k for k in own if k not in weights]
    shapes = [f'{k} {tuple(weights[k].shape)} vs {tuple(v.shape)}' for k, v in own.items()
              if k in weights and weights[k].shape != v.shape]
    if missing or shapes:
        arch = type(module).__name__
        if hasattr(module, 'layer_names'):
            arch += f' ({", ".join(module.layer_names)})'
        detail = (f'{len(missing)} of its {len(own)} weights would stay unfilled (e.g. '
                  f'{missing[0]})' if missing else
                  f'{len(shapes)} weights have another shape (e.g. {shapes[0]})')
        raise CheckpointError(f'{what} checkpoint {path} does not fit the {what} {arch}: '
                              f'{detail}; give a checkpoint of that architecture (a '
                              'torchvision-format ResNet state dict, MoCo prefixes allowed) or '
                              f'change the {what} backbone')
    module.load_state_dict(weights, strict=True)


@MODELS.register_module()
class FrozenTeacher(nn.Module):
    """A frozen encoder: always in eval mode, never receives gradients.

    Any torchvision-format ResNet state dict loads into a ``TorchvisionResNet``
    backbone (a ``state_dict`` entry or the dict itself; keys ``conv1.weight``,
    ``layer1.0.conv1.weight``, ...). ``module.encoder_q.`` (MoCo),
    ``module.`` and ``backbone.`` prefixes are stripped, and entries beyond
    the backbone (``fc.*``, layers after its last stage, MoCo's key encoder and
    queue, a corrflow checkpoint's neck) are left out. The load is refused,
    naming the file, when the checkpoint would leave any backbone weight
    unfilled or a weight has another shape (a checkpoint of another
    architecture).

    The weights are read by :meth:`init_weights` (which the runner calls
    before training, and :func:`corrflow.apis` and the tests call
    explicitly), not at construction, so that configs build without the
    file; loading a whole training checkpoint (a resume) fills them too. A
    forward pass before either is an error.

    Args:
        backbone (dict | nn.Module): the encoder, e.g.
            ``dict(type='TorchvisionResNet', depth=50, strides=(1, 2, 2, 2), out_stage=4)``.
        checkpoint (str): its weights.
        mean (Sequence[float] | None): per-channel mean of the RGB input in
            [0, 1] (ImageNet's by default; None feeds RGB in [0, 1]).
        std (Sequence[float] | None): per-channel std.
        pool (int): average-pool the features by this factor (kernel = stride),
            to give an encoder of a finer stride the student's grid.
        prefixes (Sequence[str]): key prefixes stripped, first match wins.
    """

    def __init__(self, backbone: dict | nn.Module, checkpoint: str,
                 mean: Sequence[float] | None = (0.485, 0.456, 0.406),
                 std: Sequence[float] | None = (0.229, 0.224, 0.225), pool: int = 1,
                 prefixes: Sequence[str] = TEACHER_PREFIXES) -> None:
        super().__init__()
        if not checkpoint:
            raise ConfigError('FrozenTeacher needs a checkpoint: the path of the teacher\'s '
                              'weights (a torchvision-format ResNet state dict or a corrflow '
                              'checkpoint)')
        if pool < 1 or (mean is None) != (std is None):
            raise ConfigError(f'need pool >= 1 and both mean and std or neither, got pool '
                              f'{pool}, mean {mean}, std {std}')
        self.backbone = backbone if isinstance(backbone, nn.Module) else MODELS.build(backbone)
        self.checkpoint = str(checkpoint)
        self.pool = int(pool)
        self.register_buffer('mean', None if mean is None else torch.tensor(mean).view(1, 3, 1, 1),
                             persistent=False)
        self.register_buffer('std', None if std is None else torch.tensor(std).view(1, 3, 1, 1),
                             persistent=False)
        self.prefixes = tuple(prefixes)
        self.loaded = False
        self.backbone.requires_grad_(False)
        self.backbone.eval()
        self.stride = int(getattr(self.backbone, 'stride', 1)) * self.pool

    def init_weights(self) -> None:
        """Read the teacher's weights from ``checkpoint`` (see the class doc)."""
        load_encoder_weights(self.backbone, self.checkpoint, 'teacher', self.prefixes)
        self.loaded = True

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs) -> None:
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
        self.loaded = True  # e.g. a resumed training checkpoint, which holds the teacher

    def train(self, mode: bool = True) -> FrozenTeacher:
        """The teacher stays in eval mode."""
        super().train(False)
        return self

    @torch.no_grad()
    def forward(self, rgb: Tensor) -> Tensor:
        """(N, 3, H, W) RGB in [0, 1] -> (N, C, H/stride, W/stride) features, no gradient."""
        if not self.loaded:
            raise RuntimeError(f'FrozenTeacher: the weights of {self.checkpoint} were not loaded; '
                               'call init_weights() first (the runner does)')
        x = rgb if self.mean is None else (rgb - self.mean) / self.std
        feats = self.backbone(x)
        if self.pool > 1:
            feats = F.avg_pool2d(feats, self.pool)
        return feats
