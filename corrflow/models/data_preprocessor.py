"""Batching and device placement of clips."""
from __future__ import annotations

from typing import Any

import torch
from mmengine.model import BaseDataPreprocessor

from corrflow.registry import MODELS


def split_samples(samples: Any) -> list[dict] | None:
    """The per-sample dicts of a batch, or a clear error for another collation."""
    if samples is None or isinstance(samples, (list, tuple)):
        return None if samples is None else list(samples)
    raise TypeError(f'data_samples must be a list of per-sample dicts, got '
                    f'{type(samples).__name__}; use '
                    'collate_fn=dict(type="corrflow.sample_list_collate") in the dataloader config')


@MODELS.register_module()
class ClipDataPreprocessor(BaseDataPreprocessor):
    """Stack uint8 clips into a float batch in [0, 1] on the model's device.

    Input (from the default collate): ``inputs`` is a list of B uint8 tensors
    (T, 3, H, W) in RGB order, ``data_samples`` a list of B dicts whose tensor
    values are moved to the device as they are.

    Output: ``inputs`` (B, T, 3, H, W) float32 in [0, 1] and the list of dicts.
    No mean/std normalisation (CorrFlow feeds raw [0, 1] RGB).
    """

    def forward(self, data: dict, training: bool = False) -> dict[str, Any]:
        inputs = data['inputs']
        if isinstance(inputs, (list, tuple)):
            shapes = {tuple(x.shape) for x in inputs}
            if len(shapes) != 1:
                raise ValueError(f'clips of one batch must share a shape, got {sorted(shapes)}; '
                                 'resize them in the dataset pipeline')
            inputs = torch.stack(list(inputs))
        inputs = self.cast_data(inputs).float().div_(255.0)  # (B, T, 3, H, W)
        samples = split_samples(data.get('data_samples'))
        if samples is not None:
            samples = [self.cast_data(s) for s in samples]
        return dict(inputs=inputs, data_samples=samples)


@MODELS.register_module()
class VideoDataPreprocessor(BaseDataPreprocessor):
    """Pass whole videos through for label propagation.

    ``inputs`` is a list of uint8 videos (T, 3, H, W) of different lengths and
    sizes; they stay where they are (usually CPU memory) and the model moves one
    frame at a time to its device, so a long 480p video never has to fit on the
    GPU at once. ``data_samples`` (plain dicts) are passed through unchanged.
    """

    def forward(self, data: dict, training: bool = False) -> dict[str, Any]:
        inputs = data['inputs']
        if isinstance(inputs, torch.Tensor):
            inputs = list(inputs)
        return dict(inputs=list(inputs), data_samples=split_samples(data.get('data_samples')))
