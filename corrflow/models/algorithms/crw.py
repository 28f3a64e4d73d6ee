"""Contrastive Random Walk: correspondence as a random walk on a space-time graph
(Jabri, Owens & Efros, NeurIPS 2020)."""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from corrflow.errors import ConfigError
from corrflow.models.algorithms.base import BaseClipAlgorithm, build_module
from corrflow.models.algorithms.time_cycle import IMAGENET_MEAN, IMAGENET_STD
from corrflow.models.backbones.torchvision_resnet import StageView
from corrflow.registry import MODELS

__all__ = ['CRW', 'CRW_TRAIN_MEAN', 'CRW_TRAIN_STD', 'CRW_PROTOCOL']

#: The normalisation of CRW's training frames (``utils/augs.py`` of the reference).
#: Its test code normalises with the ImageNet statistics instead, which the
#: propagation of this model uses unless ``propagation`` says otherwise.
CRW_TRAIN_MEAN = (0.4914, 0.4822, 0.4465)
CRW_TRAIN_STD = (0.2023, 0.1994, 0.2010)
#: CRW's published protocol at stride 8 (the propagation of validation unless the
#: config gives another): frame 0 + 20 preceding, top-10, radius 12, temperature 0.05.
CRW_PROTOCOL = dict(type='TopKMemoryPropagation', preset='crw', radius=12, num_context=20,
                    topk=10, temperature=0.05)


@MODELS.register_module()
class CRW(BaseClipAlgorithm):
    """Learn embeddings whose random walk through a clip and back returns home.

    A training sample is a clip of T frames, each cut into a grid of N
    patches (``PatchGrid``): ``inputs`` (B, T*N, 3, p, p) in [0, 1] with
    ``patch_grid`` = (rows, cols) in every data sample, patches frame by frame,
    row-major within a frame. Each patch is encoded, its feature map averaged
    to one vector, projected by the ``head`` and L2-normalised: a node. Whole
    frames (B, T, 3, H, W) without ``patch_grid`` also train: then every cell
    of a frame's feature map is a node (CRW's ``--frame-aug none``). The
    ``loss`` (a :class:`CycleWalkLoss`) walks the nodes forward through the
    clip and back.

    Validation and testing propagate labels with the backbone's output at
    ``propagation_stage`` (layer3 at stride 8, as CRW's test drops layer4), no
    head, ImageNet normalisation as CRW's test code, and CRW's protocol
    (:data:`CRW_PROTOCOL`) unless ``propagation`` gives others.

    Args:
        backbone (dict | nn.Module): ResNet-18, layer3 and layer4 at stride 1,
            reflect padding (``TorchvisionResNet``, ``strides=(1, 2, 1, 1)``).
        head (dict | nn.Module): ``NodeProjection`` from the backbone's channels
            to 128.
        loss (dict | nn.Module): ``CycleWalkLoss``.
        mean (Sequence[float]): per-channel mean of the [0, 1] RGB training input.
        std (Sequence[float]): per-channel std.
        feature_dropout (float): dropout on the feature maps before pooling (0).
        propagation_stage (int): backbone stage whose output propagation uses.
        propagation (dict | None): label-propagation settings for validation
            (keyword arguments of ``LabelPropagator`` other than the encoder).
        data_preprocessor (dict | nn.Module | None): batches and moves data.
        init_cfg (dict | list[dict] | None): mmengine initialisation config.
    """

    def __init__(self, backbone: dict | nn.Module, head: dict | nn.Module,
                 loss: dict | nn.Module | None = None,
                 mean: Sequence[float] = CRW_TRAIN_MEAN, std: Sequence[float] = CRW_TRAIN_STD,
                 feature_dropout: float = 0.0, propagation_stage: int = 3,
                 propagation: dict | None = None,
                 data_preprocessor: dict | nn.Module | None = None,
                 init_cfg: dict | list[dict] | None = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if len(mean) != 3 or len(std) != 3:
            raise ConfigError(f'mean and std need 3 values (RGB), got {mean} and {std}')
        if not 0 <= feature_dropout < 1:
            raise ConfigError(f'feature_dropout must be in [0, 1), got {feature_dropout}')
        self.backbone = build_module(backbone)
        self.head = build_module(head)
        self.walk_loss = build_module(loss if loss is not None else dict(type='CycleWalkLoss'))
        if propagation_stage not in getattr(self.backbone, 'strides_of', {propagation_stage: 0}):
            raise ConfigError(f'propagation_stage {propagation_stage} is not a stage of the '
                              f'backbone ({sorted(self.backbone.strides_of)})')
        self.register_buffer('mean', torch.tensor(mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer('std', torch.tensor(std).view(1, 3, 1, 1), persistent=False)
        self.feature_dropout = nn.Dropout(feature_dropout) if feature_dropout > 0 else None
        self.propagation_stage = propagation_stage
        self.propagation = dict(propagation or {})
        self.propagation.setdefault('mean', IMAGENET_MEAN)
        self.propagation.setdefault('std', IMAGENET_STD)
        self.propagation.setdefault('propagation', dict(CRW_PROTOCOL))
        self.neck = None

    # ------------------------------------------------------------------ features
    def propagation_encoder(self):
        """Propagation uses the backbone up to ``propagation_stage``, without the head."""
        if getattr(self.backbone, 'strides_of', None) is None:
            return self.backbone, None
        return StageView(self.backbone, self.propagation_stage), None

    def encode(self, images: Tensor) -> Tensor:
        """(M, 3, h, w) images in [0, 1] -> (M, C, h', w') backbone feature maps."""
        maps = self.backbone((images - self.mean) / self.std)
        return self.feature_dropout(maps) if self.feature_dropout is not None else maps

    def nodes(self, inputs: Tensor, data_samples: list[dict] | None) -> Tensor:
        """(B, T, N, D) unit-length node embeddings of a batch (see the class doc)."""
        if inputs.dim() != 5 or inputs.shape[2] != 3:
            raise ValueError(f'{type(self).__name__} takes (B, T*N, 3, p, p) patch clips or '
                             f'(B, T, 3, H, W) frames, got {tuple(inputs.shape)}')
        grids = {tuple(int(v) for v in s['patch_grid']) for s in data_samples or []
                 if s.get('patch_grid') is not None}
        if len(grids) > 1:
            raise ValueError(f'the clips of one batch have different patch grids {sorted(grids)}')
        B = inputs.shape[0]
        if grids:
            rows, cols = grids.pop()
            n = rows * cols
            if inputs.shape[1] % n:
                raise ValueError(f'{inputs.shape[1]} patches per clip is not a multiple of the '
                                 f'{rows}x{cols} patch grid')
            maps = self.encode(inputs.flatten(0, 1))  # (B*T*N, C, h, w)
            feats = maps.mean(dim=(-2, -1)).view(B, inputs.shape[1] // n, n, -1)
        else:
            maps = self.encode(inputs.flatten(0, 1))  # (B*T, C, h, w): a node per cell
            feats = maps.flatten(-2).transpose(-1, -2).reshape(B, inputs.shape[1],
                                                                -1, maps.shape[1])
        return F.normalize(self.head(feats), dim=-1)

    def bn_statistics_module(self) -> nn.Module:
        """The batch-norm layers propagation uses: the backbone's."""
        return self.backbone

    def clean_encoder_passes(self, inputs: Tensor) -> None:
        """The encoder pass of a training batch: its patches (or frames) in one batch.

        CRW's training frames carry no colour augmentation, so the clean pass
        is the training pass itself (no feature dropout)."""
        self.backbone((inputs.flatten(0, 1) - self.mean) / self.std)

    # ------------------------------------------------------------------ training
    def forward(self, inputs, data_samples=None, mode: str = 'loss'):
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self.nodes(inputs, data_samples)
        raise ValueError(f'{type(self).__name__} supports modes "loss", "predict" and '
                         f'"tensor", got {mode!r}')

    def loss(self, inputs: Tensor, data_samples: list[dict] | None = None) -> dict:
        """``loss`` (the mean over the walks) and per walk length k ``xent_k``, ``acc_k``."""
        return self.walk_loss(self.nodes(inputs, data_samples))
