"""TimeCycle: correspondence from the cycle-consistency of time (Wang et al., CVPR 2019)."""
from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from corrflow.models.algorithms.base import BaseClipAlgorithm, build_module
from corrflow.models.layers.affine import (affine_crop, grid_loss, inlier_mass,
                                           patch_affinity)
from corrflow.registry import MODELS
from corrflow.errors import ConfigError
from corrflow.utils.precision import autocast_off, full_precision
from corrflow.models.algorithms.train_progress import TrainProgressMixin

__all__ = ['TimeCycle', 'IMAGENET_MEAN', 'IMAGENET_STD']

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)




@MODELS.register_module()
class TimeCycle(TrainProgressMixin, BaseClipAlgorithm):
    """Track a patch backward and forward in time and regress where it ends.

    A training sample is ``num_base`` base frames in temporal order followed
    by a later target frame (B, T, 3, H, W in [0, 1]), and ``patch_theta``:
    the 2x3 affine of a patch of the target frame (normalised coordinates,
    ``align_corners=True``; see :mod:`corrflow.models.layers.affine`). The
    patch is cut from the target frame's pixels, and the frames and the
    patch are embedded in three separate passes (so their batch-norm
    statistics are separate, as in the original). A *hop* matches a patch's
    unit-length features against a frame's (softmax over the frame's
    positions, dot products x ``affinity_scale``), the ``tracker`` regresses
    the patch's affine in that frame, and the frame's features are cropped
    there to give the next patch. Losses:

    - ``loss_long``: for cycles of length c = 1..``num_base``, the patch hops
      back through the last c base frames and forward again, then into the
      target frame; the grid loss of that last affine against the true one,
      averaged over c, times ``long_weight`` (0.02);
    - ``loss_skip``: one hop into each base frame and straight back into the
      target frame, grid loss, times ``skip_weight`` (0.1);
    - ``loss_sim``: minus the inlier mass of the one-hop affinities (the
      affinity at the cells the predicted affine maps the patch to), times
      ``sim_weight`` (1).

    The backward part of the cycles is computed once and shared by the
    cycle lengths (the original recomputes it for each; the values are the
    same). Unweighted terms are logged as ``grid_long``, ``grid_skip`` and
    ``inlier``.

    Args:
        backbone (dict | nn.Module): frame encoder (ResNet-50 to layer3 at stride 8).
        neck (dict | nn.Module): projection (1x1 conv to 512 and ReLU); its
            output is cropped, and L2-normalised where it is compared.
        tracker (dict | nn.Module): a ``TransformRegressor``.
        mean (Sequence[float]): per-channel mean of the RGB input in [0, 1].
        std (Sequence[float]): per-channel std.
        patch_pixels (int): side of the pixel patch cut from the target frame (80).
        affinity_scale (float): multiplies the dot products (sqrt(512)).
        translation_factor (float): translation scaling of the feature crops
            and the inlier mass: 1 (consistent with the pixel patch and the grid
            loss), or ``TIMECYCLE_TRANSLATION_FACTOR`` (227/210) as the original.
        long_weight (float): weight of the mean grid loss of the long cycles.
        skip_weight (float): weight of the skip cycles' grid loss.
        sim_weight (float): weight of the negative inlier mass.
        grid_size (int): points per side of the grid loss.
        frozen_encoder_iters (int): for the first iterations of a run, the
            backbone's output is detached, so only the neck and the tracker
            learn (the users' workaround for runs from scratch that do not
            converge); 0 trains everything from the start.
        propagation (dict | None): label-propagation settings for validation
            (keyword arguments of ``LabelPropagator`` other than the encoder).
        data_preprocessor (dict | nn.Module | None): batches and moves data.
        init_cfg (dict | list[dict] | None): mmengine initialisation config.
    """

    def __init__(self, backbone: dict | nn.Module, neck: dict | nn.Module,
                 tracker: dict | nn.Module, mean: Sequence[float] = IMAGENET_MEAN,
                 std: Sequence[float] = IMAGENET_STD, patch_pixels: int = 80,
                 affinity_scale: float = math.sqrt(512), translation_factor: float = 1.0,
                 long_weight: float = 0.02, skip_weight: float = 0.1, sim_weight: float = 1.0,
                 grid_size: int = 20, frozen_encoder_iters: int = 0,
                 propagation: dict | None = None,
                 data_preprocessor: dict | nn.Module | None = None,
                 init_cfg: dict | list[dict] | None = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if len(mean) != 3 or len(std) != 3:
            raise ConfigError(f'mean and std need 3 values (RGB), got {mean} and {std}')
        if patch_pixels < 1 or grid_size < 2 or frozen_encoder_iters < 0:
            raise ConfigError(f'need patch_pixels >= 1, grid_size >= 2 and '
                              f'frozen_encoder_iters >= 0, got {patch_pixels}, {grid_size}, '
                              f'{frozen_encoder_iters}')
        self.backbone = build_module(backbone)
        self.neck = build_module(neck)
        self.tracker = build_module(tracker)
        self.register_buffer('mean', torch.tensor(mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer('std', torch.tensor(std).view(1, 3, 1, 1), persistent=False)
        self.patch_pixels = patch_pixels
        self.affinity_scale = affinity_scale
        self.translation_factor = translation_factor
        self.long_weight = long_weight
        self.skip_weight = skip_weight
        self.sim_weight = sim_weight
        self.grid_size = grid_size
        self.frozen_encoder_iters = frozen_encoder_iters
        self.propagation = dict(propagation or {})
        self.propagation.setdefault('mean', tuple(mean))
        self.propagation.setdefault('std', tuple(std))

    # ------------------------------------------------------------------ features
    def encoder_frozen(self) -> bool:
        """Whether the current iteration is in the frozen-encoder phase."""
        if not self.frozen_encoder_iters:
            return False
        return self.train_iteration < self.frozen_encoder_iters  # set by TrainProgressHook

    def embed(self, frames: Tensor, frozen: bool = False) -> Tensor:
        """(N, 3, H, W) normalised RGB -> (N, C, H/8, W/8) features (not unit length)."""
        feats = self.backbone(frames.contiguous(memory_format=torch.channels_last))
        if frozen:
            feats = feats.detach()
        return self.neck(feats)

    def bn_statistics_module(self) -> nn.Module:
        """The modules whose batch-norm statistics propagation uses: backbone and neck."""
        return nn.ModuleList([self.backbone, self.neck])

    def clean_encoder_passes(self, inputs: Tensor) -> None:
        """The whole-frame passes of a training batch (B, T, 3, H, W) as in :meth:`loss`:
        the base frames together, then the target frame (the rotated patch, which the
        test never sees, is left out)."""
        frames = (inputs - self.mean.unsqueeze(1)) / self.std.unsqueeze(1)
        self.embed(frames[:, :-1].flatten(0, 1))
        self.embed(frames[:, -1])

    def _hop(self, query: Tensor, frame: Tensor, frame_raw: Tensor | None):
        """Match unit-length ``query`` patches in ``frame``: affinity, affine, feature crop."""
        affinity = patch_affinity(query, frame, self.affinity_scale)
        with autocast_off(affinity.device.type):
            theta = self.tracker(affinity.to(full_precision(affinity.dtype)))
        crop = None
        if frame_raw is not None:
            crop = affine_crop(frame_raw.float(), theta, query.shape[-1],
                               self.translation_factor)
        return affinity, theta, crop

    # ------------------------------------------------------------------ training
    def forward(self, inputs, data_samples=None, mode: str = 'loss'):
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self.embed((inputs - self.mean) / self.std)
        raise ValueError(f'{type(self).__name__} supports modes "loss", "predict" and '
                         f'"tensor", got {mode!r}')

    def loss(self, inputs: Tensor, data_samples: list[dict]) -> dict:
        """Losses of a batch (B, T, 3, H, W) with ``patch_theta`` per sample (see class doc)."""
        if inputs.dim() != 5 or inputs.shape[1] < 2:
            raise ValueError(f'{type(self).__name__} takes (B, T, 3, H, W) clips of base frames '
                             f'and a target frame, got {tuple(inputs.shape)}')
        if not data_samples or any('patch_theta' not in s for s in data_samples):
            raise ValueError(f'{type(self).__name__}: every data sample needs "patch_theta" '
                             '(the patch affine; see the TimeCycle data pipeline)')
        B, T = inputs.shape[:2]
        num_base = T - 1
        theta_true = torch.stack([torch.as_tensor(s['patch_theta']).float()
                                  for s in data_samples]).to(inputs.device)  # (B, 2, 3)
        frames = (inputs - self.mean.unsqueeze(1)) / self.std.unsqueeze(1)
        target = frames[:, -1]
        patch = affine_crop(target, theta_true, self.patch_pixels)  # (B, 3, p, p) pixels
        frozen = self.encoder_frozen()
        base_raw = self.embed(frames[:, :-1].flatten(0, 1), frozen).float()  # (B*K, C, h, w)
        patch_raw = self.embed(patch, frozen).float()  # (B, C, n, n)
        target_raw = self.embed(target, frozen).float()  # (B, C, h, w)
        h, w = base_raw.shape[-2:]
        base_unit = F.normalize(base_raw, dim=1)
        patch_unit = F.normalize(patch_raw, dim=1)
        target_unit = F.normalize(target_raw, dim=1)

        # one hop into every base frame: inlier mass, then straight back (skip cycles)
        query = patch_unit.repeat_interleave(num_base, 0)
        affinity, theta, crop = self._hop(query, base_unit, base_raw)
        inlier = inlier_mass(affinity, theta, (h, w), self.translation_factor).mean()
        _, theta_back, _ = self._hop(F.normalize(crop, dim=1),
                                     target_unit.repeat_interleave(num_base, 0), None)
        grid_skip = grid_loss(theta_back, theta_true.repeat_interleave(num_base, 0),
                              self.grid_size)

        # long cycles: back through the last c base frames, forward again, into the target
        def frame(k):
            return (base_unit.view(B, num_base, *base_unit.shape[1:])[:, k],
                    base_raw.view(B, num_base, *base_raw.shape[1:])[:, k])

        backward, query = [], patch_unit
        for k in range(num_base - 1, -1, -1):
            _, _, crop = self._hop(query, *frame(k))
            query = F.normalize(crop, dim=1)
            backward.append(query)  # the patch after hopping back to frame k
        grids = []
        for c in range(1, num_base + 1):
            query = backward[c - 1]  # now in frame num_base - c
            for k in range(num_base - c + 1, num_base):
                _, _, crop = self._hop(query, *frame(k))
                query = F.normalize(crop, dim=1)
            _, theta_end, _ = self._hop(query, target_unit, None)
            grids.append(grid_loss(theta_end, theta_true, self.grid_size))
        grid_long = torch.stack(grids).mean()
        return dict(loss_long=self.long_weight * grid_long,
                    loss_skip=self.skip_weight * grid_skip,
                    loss_sim=-self.sim_weight * inlier,
                    grid_long=grid_long.detach(), grid_skip=grid_skip.detach(),
                    inlier=inlier.detach(),
                    encoder_frozen=torch.tensor(float(frozen), device=inputs.device))
