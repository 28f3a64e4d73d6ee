"""Logs input frames, colour targets and reconstructions as images."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from corrflow.models.algorithms.train_progress import ReconstructionRecordMixin
from corrflow.models.layers.colour import (describe_centroids, labels_to_rgb, load_centroids,
                                           rgb_to_lab)
from corrflow.errors import ConfigError
from corrflow.registry import HOOKS


def reconstruction_panel(record: dict, centroids: torch.Tensor) -> np.ndarray:
    """One image: a row per frame with input, network input, target and reconstruction.

    Args:
        record (dict): ``inputs`` and ``net_inputs`` (T, 3, H, W) in [0, 1],
            ``targets`` (T, H, W) classes, ``preds`` T-1 tensors (L, h, w) of
            class probabilities for frames 1..T-1.
        centroids (torch.Tensor): (L, 2) (a, b) centroids.

    Returns:
        np.ndarray: (T*H, 4*W, 3) uint8 RGB.
    """
    inputs = record['inputs'].float().cpu()
    T, _, H, W = inputs.shape
    lightness = rgb_to_lab(inputs)[:, 0]  # (T, H, W)
    target_rgb = labels_to_rgb(record['targets'].cpu(), lightness, centroids)  # (T, 3, H, W)
    recon = [torch.zeros(3, H, W)]  # frame 0 is given, not reconstructed
    for t, prob in enumerate(record['preds'], start=1):
        up = torch.nn.functional.interpolate(prob[None].float().cpu(), size=(H, W),
                                             mode='bilinear', align_corners=False)[0]
        recon.append(labels_to_rgb(up, lightness[t], centroids))
    columns = [inputs, record['net_inputs'].float().cpu().clamp(0, 1), target_rgb,
               torch.stack(recon)]
    rows = [torch.cat([col[t] for col in columns], dim=2) for t in range(T)]  # (3, H, 4W)
    panel = torch.cat(rows, dim=1)  # (3, T*H, 4W)
    return (panel.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)


@HOOKS.register_module()
class ReconstructionVisualizationHook(Hook):
    """Every ``interval`` iterations, log what the model reconstructs.

    The image shows, per frame of the first clip of the batch: the frame, the
    network input after the information bottleneck, the quantised colour target
    and the colours reconstructed by the model (expected centroid colour with
    the frame's lightness; frame 0 is the given reference and stays black).
    Images go to every visualiser backend (TensorBoard and local files).

    The colours are those of the centroids the clip's targets were quantised
    with: the ``colour_centroids`` its data sample carries from
    ``QuantiseColour`` (K of them, K = the model's number of classes).

    Args:
        interval (int): iterations between images.
        centroids (str | Sequence | None): colours for batches whose samples
            carry no centroids (targets quantised elsewhere); None: the
            built-in Kinetics ones. Centroids given here that differ from
            those a batch carries are an error.
    """

    priority = 'LOW'

    def __init__(self, interval: int = 500, centroids: str | Sequence | None = None) -> None:
        if interval < 1:
            raise ConfigError(f'interval must be >= 1, got {interval}')
        self.interval = interval
        self.centroids = load_centroids(centroids)
        self.centroids_given = centroids is not None
        self.centroids_source = describe_centroids(centroids)

    def palette(self, data_batch: dict | None, num_classes: int) -> torch.Tensor:
        """(K, 2) centroids of the first clip of a batch, checked against the model.

        Args:
            data_batch (dict | None): the batch, ``data_samples`` a list of dicts.
            num_classes (int): colour classes the model reconstructed.

        Raises:
            ConfigError: the hook's own centroids differ from the batch's, or
                their number is not ``num_classes``.
        """
        samples = data_batch.get('data_samples') if isinstance(data_batch, dict) else None
        first = samples[0] if isinstance(samples, (list, tuple)) and samples else {}
        carried = first.get('colour_centroids') if isinstance(first, dict) else None
        if carried is None:
            palette, source = self.centroids, self.centroids_source
        else:
            palette = torch.as_tensor(carried, dtype=torch.float32)
            source = first.get('colour_centroids_source', 'unnamed')
            if self.centroids_given and (palette.shape != self.centroids.shape
                                         or not torch.allclose(palette, self.centroids)):
                raise ConfigError(
                    f'ReconstructionVisualizationHook(centroids={self.centroids_source}) '
                    f'differs from the {len(palette)} centroids the targets were quantised with '
                    f'(QuantiseColour centroids={source}); leave the hook\'s centroids unset, it '
                    'follows the data')
        if len(palette) != num_classes:
            raise ConfigError(f'ReconstructionVisualizationHook: the model reconstructs '
                              f'{num_classes} colour classes, but the centroids {source} are '
                              f'{len(palette)}')
        return palette

    def _model(self, runner):
        return runner.model.module if is_model_wrapper(runner.model) else runner.model

    def before_train(self, runner) -> None:
        model = self._model(runner)
        if not isinstance(model, ReconstructionRecordMixin):
            raise ConfigError(f'ReconstructionVisualizationHook: {type(model).__name__} keeps '
                              'no reconstructions to show (a ReconstructionRecordMixin model, '
                              'such as CorrFlow\'s RecursiveFlow, does); remove the hook from '
                              'custom_hooks')

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        if self.every_n_train_iters(runner, self.interval):
            self._model(runner).record_next_loss()

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        record = self._model(runner).pop_record()
        if record is None:
            return
        num_classes = record['preds'][0].shape[0]
        panel = reconstruction_panel(record, self.palette(data_batch, num_classes))
        # no '/' in the name: LocalVisBackend writes vis_image/<name>_<step>.png as it is
        runner.visualizer.add_image('train_reconstruction', panel, step=runner.iter + 1)
