"""Spa-then-Temp, temporal stage (Li & Liu, CVPR 2023): reconstruction and distillation."""
from __future__ import annotations

import torch
import torch.nn as nn
from torch import Tensor

from corrflow.models.algorithms.base import BaseClipAlgorithm, build_module
from corrflow.models.backbones.frozen_teacher import load_encoder_weights
from corrflow.models.backbones.torchvision_resnet import StageView
from corrflow.models.layers.colour import rgb_to_lab
from corrflow.registry import MODELS
from corrflow.errors import ConfigError

__all__ = ['SpaThenTemp', 'LAB_MEAN', 'LAB_STD', 'normalised_lab']

#: Lab normalisation of the recipe: ((L - 50) / 50, a / 127, b / 127).
LAB_MEAN = (50.0, 0.0, 0.0)
LAB_STD = (50.0, 127.0, 127.0)


def normalised_lab(rgb: Tensor) -> Tensor:
    """(..., 3, H, W) RGB in [0, 1] -> Lab (OpenCV's float conversion), normalised."""
    lab = rgb_to_lab(rgb)
    mean = torch.tensor(LAB_MEAN, device=lab.device).view(3, 1, 1)
    std = torch.tensor(LAB_STD, device=lab.device).view(3, 1, 1)
    return (lab - mean) / std




@MODELS.register_module()
class SpaThenTemp(BaseClipAlgorithm):
    """Temporal learning on frame pairs, distilling from a frozen spatial teacher.

    A training sample is a pair of frames (B, 2, 3, H, W, RGB in [0, 1]); the
    later frame is the target, the earlier the reference. The student sees
    normalised Lab in which one chroma channel (a or b, drawn once per batch)
    is zeroed and all channels are multiplied by 1.5; that channel, unscaled,
    is what it reconstructs. The student's outputs at strides 4, 8 and the
    coarsest layer (layer2, layer3 and layer4 of a ResNet at strides
    (1, 2, 2, 4) without max-pool) feed:

    - ``loss_rec_s4``, ``loss_rec_s8``: the windowed reconstruction at each
      stride (``reconstruction``, a list of ``WindowedReconstructionLoss``);
    - ``loss_local``: the stride-8 window affinity against the pooled
      stride-4 one at the cells of ``uncertainty`` (``LocalAffinityDistillLoss``);
    - ``loss_global``: the coarsest affinity against the teacher's
      (``GlobalAffinityDistillLoss``); the teacher sees the RGB frames.

    Without a ``teacher`` (or ``global_loss``) there is no global term: the
    reference's "temporal only" recipe. Without ``local_loss`` as well it is
    a multi-scale reconstruction model in the manner of MAST. ``mask_fraction``
    logs the share of cells the mask keeps.

    Args:
        backbone (dict | nn.Module): the student, a ``TorchvisionResNet``
            returning three stages (``out_indices``).
        teacher (dict | nn.Module | None): a ``FrozenTeacher``.
        reconstruction (list[dict]): the reconstruction losses, finest first,
            one per student output but the last.
        local_loss (dict | None): a ``LocalAffinityDistillLoss`` on the first
            two outputs.
        uncertainty (dict | None): the ``UncertaintyMask`` of ``local_loss``,
            on the second output.
        global_loss (dict | None): a ``GlobalAffinityDistillLoss`` on the last
            output and the teacher's features.
        student_checkpoint (str | None): the stage-1 weights the student starts
            from (a torchvision-format ResNet, MoCo prefixes allowed; its layer4
            takes the student's strides as it is), read by :meth:`init_weights`;
            None starts from random weights.
        input_scale (float): factor on the student's input after the dropout
            (1.5 = 3 / (3 - 1)).
        propagation_stage (int): the student stage used for label propagation
            in validation (3: layer3 at stride 8).
        propagation (dict | None): other ``LabelPropagator`` settings.
        data_preprocessor (dict | nn.Module | None): batches and moves data.
        init_cfg (dict | list[dict] | None): e.g. the student's stage-1 weights.
    """

    def __init__(self, backbone: dict | nn.Module, teacher: dict | nn.Module | None = None,
                 reconstruction: list | None = None, local_loss: dict | None = None,
                 uncertainty: dict | None = None, global_loss: dict | None = None,
                 student_checkpoint: str | None = None, input_scale: float = 1.5,
                 propagation_stage: int = 3,
                 propagation: dict | None = None,
                 data_preprocessor: dict | nn.Module | None = None,
                 init_cfg: dict | list[dict] | None = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.backbone = build_module(backbone)
        outputs = getattr(self.backbone, 'out_indices', None)
        if not outputs or len(outputs) != 3:
            raise ConfigError('SpaThenTemp needs a student returning three stages (e.g. '
                              'TorchvisionResNet with out_indices=(2, 3, 4))')
        self.teacher = build_module(teacher)
        reconstruction = reconstruction if reconstruction is not None else [
            dict(type='WindowedReconstructionLoss', stride=4, radius=12),
            dict(type='WindowedReconstructionLoss', stride=8, radius=6)]
        if len(reconstruction) != 2:
            raise ConfigError(f'reconstruction needs one loss per fine output (2), got '
                              f'{len(reconstruction)}')
        self.reconstruction = nn.ModuleList(build_module(r) for r in reconstruction)
        self.local_loss = build_module(local_loss)
        self.uncertainty = build_module(uncertainty) if local_loss is not None else None
        if self.local_loss is not None and self.uncertainty is None:
            raise ConfigError('local_loss needs an uncertainty mask (UncertaintyMask)')
        self.global_loss = build_module(global_loss) if self.teacher is not None else None
        if global_loss is not None and self.teacher is None:
            raise ConfigError('global_loss needs a teacher (FrozenTeacher)')
        for stride, loss in zip(outputs[:2], self.reconstruction):
            if self.backbone.strides_of[stride] != loss.stride:
                raise ConfigError(f'the reconstruction at stride {loss.stride} is given the '
                                  f'student output of layer{stride}, which has stride '
                                  f'{self.backbone.strides_of[stride]}')
        self.student_checkpoint = student_checkpoint
        self.input_scale = input_scale
        self.propagation_stage = propagation_stage
        self.propagation = dict(propagation or {})
        self.propagation.setdefault('mean', LAB_MEAN)
        self.propagation.setdefault('std', LAB_STD)
        self.propagation.setdefault('colour_space', 'lab')
        self.neck = None

    def init_weights(self) -> None:
        """Initialise, then load the student's stage-1 weights and the teacher's."""
        super().init_weights()
        if self.student_checkpoint:
            load_encoder_weights(self.backbone, self.student_checkpoint, 'student')

    def propagation_encoder(self):
        """Validation propagates with the student's ``propagation_stage`` alone (no dropout)."""
        return StageView(self.backbone, self.propagation_stage), None

    def train(self, mode: bool = True) -> SpaThenTemp:
        super().train(mode)
        if self.teacher is not None:
            self.teacher.train(False)
        return self

    def forward(self, inputs, data_samples=None, mode: str = 'loss'):
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        raise ValueError(f'{type(self).__name__} supports modes "loss" and "predict", got '
                         f'{mode!r}')

    def bn_statistics_module(self) -> nn.Module:
        """The student, whose batch-norm statistics propagation uses (not the teacher)."""
        return self.backbone

    def clean_encoder_passes(self, inputs: Tensor) -> None:
        """The student's pass of a batch of pairs (B, 2, 3, H, W) as in :meth:`loss`, on
        normalised Lab with no channel dropped and no input scale, as the test sees it."""
        lab = normalised_lab(inputs)
        self.backbone(lab.flatten(0, 1).contiguous(memory_format=torch.channels_last))

    def dropped_input(self, lab: Tensor) -> tuple[Tensor, int]:
        """Zero one chroma channel (drawn once for the batch) and scale: (input, channel)."""
        channel = 1 + int(torch.randint(2, ()).item())
        x = lab.clone()
        x[..., channel, :, :] = 0
        return x * self.input_scale, channel

    def loss(self, inputs: Tensor, data_samples=None) -> dict:
        """Losses of a batch of frame pairs (B, 2, 3, H, W); see the class doc."""
        if inputs.dim() != 5 or inputs.shape[1] != 2:
            raise ValueError(f'{type(self).__name__} trains on frame pairs (B, 2, 3, H, W), got '
                             f'{tuple(inputs.shape)}')
        B = inputs.shape[0]
        lab = normalised_lab(inputs)  # (B, 2, 3, H, W)
        x, channel = self.dropped_input(lab)
        feats = self.backbone(x.flatten(0, 1).contiguous(memory_format=torch.channels_last))
        pairs = [f.view(B, 2, *f.shape[1:]) for f in feats]  # per level: (B, 2, C, h, w)
        truth = lab[:, :, channel:channel + 1]  # (B, 2, 1, H, W)
        out = {}
        for level, loss in enumerate(self.reconstruction):
            ref, tar = pairs[level][:, 0], pairs[level][:, 1]
            out[f'loss_rec_s{loss.stride}'] = loss(tar, ref, truth[:, 0], truth[:, 1])
        if self.local_loss is not None:
            mask = self.uncertainty(pairs[1][:, 1].detach(), pairs[1][:, 0].detach())
            out['loss_local'] = self.local_loss(pairs[0][:, 1], pairs[0][:, 0], pairs[1][:, 1],
                                                pairs[1][:, 0], mask)
            out['mask_fraction'] = mask.float().mean()
        if self.global_loss is not None:
            t = self.teacher(inputs.flatten(0, 1))
            t = t.view(B, 2, *t.shape[1:])
            out['loss_global'] = self.global_loss(pairs[2][:, 1], pairs[2][:, 0], t[:, 1],
                                                  t[:, 0])
        return out
