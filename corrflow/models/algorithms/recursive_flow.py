"""CorrFlow: self-supervised correspondence flow by recursive colourisation."""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from corrflow.models.algorithms.base import BaseClipAlgorithm, build_module
from corrflow.models.layers.colour import KINETICS_AB_CENTROIDS
from corrflow.models.layers.batch_norm import frozen_bn_statistics
from corrflow.registry import MODELS
from corrflow.errors import ConfigError
from corrflow.utils.precision import autocast_off, full_precision
from corrflow.models.algorithms.train_progress import ReconstructionRecordMixin, TrainProgressMixin

_DRAW_MODES = ('iteration', 'sample')
_BN_STATS_MODES = ('all', 'clean')




def colour_cross_entropy(prob: Tensor, target: Tensor) -> Tensor:
    """Cross-entropy of a low-resolution class distribution against a full-size map.

    Args:
        prob (Tensor): (B, L, h, w) class probabilities on the feature grid.
        target (Tensor): (B, H, W) int64 classes at input resolution.

    Returns:
        Tensor: scalar, mean over pixels of ``-log(p + 1e-8)`` of the target class
        after bilinear upsampling of ``prob`` to (H, W).
    """
    with autocast_off(prob.device.type):  # losses in fp32 under mixed precision
        up = F.interpolate(prob.to(full_precision(prob.dtype)), size=target.shape[-2:],
                           mode='bilinear', align_corners=False)
        return F.nll_loss(torch.log(up + 1e-8), target)


@MODELS.register_module()
class RecursiveFlow(TrainProgressMixin, ReconstructionRecordMixin, BaseClipAlgorithm):
    """Recursive colourisation model of CorrFlow (Lai & Xie, BMVC 2019).

    Each frame of a clip is embedded once (backbone + neck, one pass per frame,
    so batch-norm statistics are those of the original arrangement); the head
    copies quantised colours from frame to frame. The loss is the short-term
    reconstruction along the clip with scheduled sampling, plus cycle
    consistency over ``0 -> 1 -> 0``, ``0 -> 1 -> 2 -> 1 -> 0``, ... back to
    frame 0, always feeding the model's own predictions.

    The scheduled-sampling probability (of feeding the ground-truth colours of
    the previous frame instead of the prediction) is annealed linearly from
    ``sampling_start`` to ``sampling_end`` over the run; the run's progress is
    set by ``TrainProgressHook`` (:class:`TrainProgressMixin`).

    Args:
        backbone (dict | nn.Module): feature extractor.
        neck (dict | nn.Module): embedding projection.
        head (dict | nn.Module): restricted attention head.
        bottleneck (dict | nn.Module | None): information bottleneck applied to
            the input frames in training.
        num_classes (int | None): number of colour classes L. ``None`` (the
            default) takes it from the data: the number of centroids the
            targets were quantised with (``colour_centroids`` of the data
            samples, set by ``QuantiseColour``), or 16 (the built-in centroids)
            for samples that carry none. A number that contradicts the
            samples' centroids is an error naming both and the centroid file.
        cycle_weight (float): weight of the cycle-consistency terms; 0 skips
            them (``loss_cycle`` is then logged as 0).
        sampling_start (float): sampling probability at the start of training.
        sampling_end (float): sampling probability at the end of training.
        sampling_draw (str): ``'iteration'`` (one draw for the batch, as the
            original) or ``'sample'`` (one draw per clip).
        bn_stats (str): which training passes update the batch-norm running
            statistics: ``'all'`` (the original: every pass, 70 % of them on
            colour-dropped frames) or ``'clean'`` (only batches the bottleneck
            left unchanged, i.e. what the test sees). Normalisation in training
            always uses the batch's own statistics, so the weights are the same
            either way; only the stored statistics differ. The
            ``PreciseBNHook`` re-estimates them after training in either case.
        propagation (dict | None): label-propagation settings used by
            :meth:`predict` (validation during training): the keyword arguments
            of :class:`~corrflow.models.trackers.LabelPropagator` other than the
            encoder, e.g. ``dict(propagation=dict(type='CorrFlowPropagation'))``.
        data_preprocessor (dict | nn.Module | None): batches and moves data.
        init_cfg (dict | list[dict] | None): mmengine initialisation config.
    """

    def __init__(self, backbone: dict | nn.Module, neck: dict | nn.Module,
                 head: dict | nn.Module, bottleneck: dict | nn.Module | None = None,
                 num_classes: int | None = None, cycle_weight: float = 0.1,
                 sampling_start: float = 0.9,
                 sampling_end: float = 0.6, sampling_draw: str = 'iteration',
                 bn_stats: str = 'all', propagation: dict | None = None,
                 data_preprocessor: dict | nn.Module | None = None,
                 init_cfg: dict | list[dict] | None = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if sampling_draw not in _DRAW_MODES:
            raise ConfigError(f'sampling_draw must be one of {_DRAW_MODES}, got {sampling_draw!r}')
        if bn_stats not in _BN_STATS_MODES:
            raise ConfigError(f'bn_stats must be one of {_BN_STATS_MODES}, got {bn_stats!r}')
        if num_classes is not None and num_classes < 2:
            raise ConfigError(f'num_classes must be None (from the data) or >= 2, got '
                              f'{num_classes}')
        self.backbone = build_module(backbone)
        self.neck = build_module(neck)
        self.head = build_module(head)
        self.bottleneck = build_module(bottleneck)
        self.num_classes = num_classes
        self.cycle_weight = cycle_weight
        self.sampling_start = sampling_start
        self.sampling_end = sampling_end
        self.sampling_draw = sampling_draw
        self.bn_stats = bn_stats
        self.propagation = dict(propagation or {})

    # ------------------------------------------------------------------ schedule
    @property
    def sampling_prob(self) -> float:
        """Current probability of feeding ground-truth colours to the next step."""
        return self.sampling_start + (self.sampling_end - self.sampling_start) * self.train_progress

    # ------------------------------------------------------------------ features
    def embed(self, frames: Tensor) -> Tensor:
        """(N, 3, H, W) RGB in [0, 1] -> (N, C, H/s, W/s) embedding.

        The backbone runs channels-last (faster convolutions on CPUs and GPUs,
        in fp32 as in bf16/fp16).
        """
        return self.neck(self.backbone(frames.contiguous(memory_format=torch.channels_last)))

    def bn_statistics_module(self) -> nn.Module:
        """The modules whose batch-norm statistics propagation uses: backbone and neck."""
        return nn.ModuleList([self.backbone, self.neck])

    def clean_encoder_passes(self, inputs: Tensor) -> None:
        """The passes of a training batch (B, T, 3, H, W), one per frame as in :meth:`loss`,
        on the frames as the test sees them (no bottleneck)."""
        for t in range(inputs.shape[1]):
            self.embed(inputs[:, t])

    def attend(self, target_emb: Tensor, ref_emb: Tensor, ref_labels: Tensor) -> Tensor:
        """Label distributions of the target frame copied from the reference frame."""
        return self.head(target_emb, ref_emb, ref_labels)

    # ------------------------------------------------------------------ colour classes
    def colour_classes(self, data_samples: list[dict], targets: Tensor) -> int:
        """Number of colour classes L of a batch, checked against its targets.

        L is the number of centroids the targets were quantised with (the
        samples' ``colour_centroids``); ``num_classes``, when set, must agree
        with it. For samples that carry no centroids L is ``num_classes``, or
        16 (the built-in centroids) when unset.

        Args:
            data_samples (list[dict]): the batch's samples.
            targets (Tensor): (B, T, H, W) integer colour labels.

        Returns:
            int: L.

        Raises:
            ConfigError: the clips of the batch were quantised with different
                centroids, ``num_classes`` contradicts their centroids, or a
                label lies outside [0, L).
        """
        palettes = {None if s.get('colour_centroids') is None else
                    (len(s['colour_centroids']), s.get('colour_centroids_source', 'unnamed'))
                    for s in data_samples}
        if len(palettes) > 1:
            found = '; '.join(sorted('no centroids' if p is None else f'{p[0]} centroids of {p[1]}'
                                     for p in palettes))
            raise ConfigError(f'the clips of one batch were quantised with different colour '
                              f'centroids ({found}); give every QuantiseColour of the training '
                              'pipelines the same centroids')
        palette = palettes.pop()
        if palette is None:
            num_classes = self.num_classes or len(KINETICS_AB_CENTROIDS)
            origin = (f'RecursiveFlow(num_classes={self.num_classes})' if self.num_classes
                      else 'the built-in centroids')
            hint = ('the data samples carry no colour_centroids: quantise the targets with '
                    'QuantiseColour, or set num_classes to their number of classes')
        else:
            num_classes, source = palette
            if self.num_classes is not None and self.num_classes != num_classes:
                raise ConfigError(
                    f'RecursiveFlow(num_classes={self.num_classes}) contradicts the '
                    f'{num_classes} colour centroids the targets were quantised with '
                    f'(QuantiseColour centroids={source}); leave num_classes unset (it then '
                    f'follows the centroids) or set it to {num_classes}')
            origin = f'the centroids {source}'
            hint = 'the colour labels were changed after QuantiseColour'
        low, high = torch.stack(torch.aminmax(targets)).tolist()
        if low < 0 or high >= num_classes:
            bad = high if high >= num_classes else low
            raise ConfigError(f'colour label {bad} is outside [0, {num_classes}) of the '
                              f'{num_classes} colour classes of {origin}; {hint}')
        return num_classes

    # ------------------------------------------------------------------ mmengine API
    def forward(self, inputs: Tensor, data_samples: list[dict] | None = None,
                mode: str = 'tensor'):
        """Dispatch on ``mode``.

        Args:
            inputs (Tensor): (B, T, 3, H, W) RGB clips in [0, 1].
            data_samples (list[dict] | None): per clip, ``colour_labels``
                (T, H, W) integer targets (loss mode).
            mode (str): ``'loss'``, ``'tensor'`` (embeddings (B, T, C, h, w)) or
                ``'predict'`` (label propagation through whole videos, see
                :meth:`predict`).
        """
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'tensor':
            B, T = inputs.shape[:2]
            emb = self.embed(inputs.flatten(0, 1))  # (B*T, C, h, w)
            return emb.view(B, T, *emb.shape[1:])  # (B, T, C, h, w)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        raise ValueError(f'unknown mode {mode!r}; use "loss", "tensor" or "predict"')

    def loss(self, inputs: Tensor, data_samples: list[dict]) -> dict[str, Tensor]:
        """Recursive reconstruction loss of a batch of clips (see class doc).

        Args:
            inputs (Tensor): (B, T, 3, H, W) RGB in [0, 1], T >= 2.
            data_samples (list[dict]): each with ``colour_labels`` (T, H, W)
                and, from ``QuantiseColour``, their ``colour_centroids``
                (see :meth:`colour_classes`).

        Returns:
            dict: ``loss_short``, ``loss_cycle`` and the logged ``sampling_prob``.
        """
        targets = torch.stack([s['colour_labels'] for s in data_samples]).long()  # (B, T, H, W)
        num_classes = self.colour_classes(data_samples, targets)
        B, T = inputs.shape[:2]
        if T < 2:
            raise ValueError(f'clips need at least 2 frames, got {T}')
        net_in = self.bottleneck(inputs) if self.bottleneck is not None else inputs
        # One backbone pass per frame: batch-norm statistics over the B frames of a
        # time step, the same as recomputing the embedding in every attend call.
        altered = self.bn_stats == 'clean' and not torch.equal(net_in, inputs)
        with frozen_bn_statistics(self, frozen=altered):
            emb = [self.embed(net_in[:, t]) for t in range(T)]  # T x (B, C, h, w)
        size = emb[0].shape[-2:]
        # fp32 one-hot maps (also under mixed precision: the scheduled-sampling mix is fp32)
        onehot = [self.head.downsample_labels(targets[:, t], num_classes, size)
                  .to(emb[0].device, full_precision(emb[0].dtype))
                  for t in range(T)]  # T x (B, L, h, w)

        prob = self.sampling_prob
        # Short-term reconstruction with scheduled sampling.
        preds = [self.attend(emb[1], emb[0], onehot[0])]  # p1
        loss_short = colour_cross_entropy(preds[0], targets[:, 1])
        for t in range(2, T):
            ref = self._sample_reference(onehot[t - 1], preds[-1], prob)
            preds.append(self.attend(emb[t], emb[t - 1], ref))
            loss_short = loss_short + colour_cross_entropy(preds[-1], targets[:, t])

        # Cycle consistency, skipped altogether at weight 0 (the "w/o cycle" variant).
        loss_cycle = (self._cycle_loss(emb, onehot, preds, targets) if self.cycle_weight
                      else inputs.new_zeros(()))

        if self.wants_record():  # the first clip, for ReconstructionVisualizationHook
            self.keep_record(dict(inputs=inputs[0].detach(), net_inputs=net_in[0].detach(),
                                  targets=targets[0].detach(),
                                  preds=[p[0].detach() for p in preds]))
        return dict(loss_short=loss_short, loss_cycle=self.cycle_weight * loss_cycle,
                    sampling_prob=inputs.new_tensor(prob))

    def _cycle_loss(self, emb: list[Tensor], onehot: list[Tensor], preds: list[Tensor],
                    targets: Tensor) -> Tensor:
        """Unweighted cycle terms: forward along the clip on own outputs, back to frame 0."""
        T = len(emb)
        forward = [onehot[0], preds[0]]
        for t in range(2, T):
            forward.append(self.attend(emb[t], emb[t - 1], forward[-1]))
        loss = emb[0].new_zeros((), dtype=torch.float32)
        for k in range(1, T):
            x = forward[k]
            for t in range(k, 0, -1):
                x = self.attend(emb[t - 1], emb[t], x)
            loss = loss + colour_cross_entropy(x, targets[:, 0])
        return loss

    def _sample_reference(self, truth: Tensor, pred: Tensor, prob: float) -> Tensor:
        """Ground truth with probability ``prob``, else the (non-detached) prediction."""
        if self.sampling_draw == 'iteration':
            return truth if torch.rand(()).item() < prob else pred
        use_truth = (torch.rand(truth.shape[0]) < prob).to(truth.device).view(-1, 1, 1, 1)
        return torch.where(use_truth, truth, pred)
