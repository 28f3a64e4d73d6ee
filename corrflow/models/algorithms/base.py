"""What the training algorithms share: how they build their parts and take clip batches."""
from __future__ import annotations

import torch.nn as nn
from mmengine.model import BaseModel

from corrflow.models.algorithms.propagation_mixin import PropagationMixin
from corrflow.registry import MODELS

__all__ = ['BaseClipAlgorithm', 'build_module']


def build_module(module: dict | nn.Module | None) -> nn.Module | None:
    """A part given as a config (built from the registry), a module (kept) or None."""
    if module is None or isinstance(module, nn.Module):
        return module
    return MODELS.build(module)


class BaseClipAlgorithm(PropagationMixin, BaseModel):
    """A self-supervised training algorithm on clips, scored by label propagation.

    Its batches go through ``ClipDataPreprocessor`` unless another preprocessor is given;
    validation and testing propagate labels with its encoder (:class:`PropagationMixin`).
    """

    def __init__(self, data_preprocessor: dict | nn.Module | None = None,
                 init_cfg: dict | list[dict] | None = None) -> None:
        if data_preprocessor is None:
            data_preprocessor = dict(type='ClipDataPreprocessor')
        if isinstance(data_preprocessor, dict):
            data_preprocessor = MODELS.build(data_preprocessor)
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
