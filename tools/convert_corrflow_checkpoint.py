"""Convert the official CorrFlow release checkpoint into a corrflow checkpoint.

Usage::

    python tools/convert_corrflow_checkpoint.py SRC DST [--fp16]

SRC is the file of ``zlai0/CorrFlow`` (``{'epoch', 'state_dict', 'optimizer'}``
with ``module.feature_extraction.*`` / ``module.post_convolution.*`` keys). It
is read with ``torch.load(weights_only=True)``: plain dicts, lists, numbers and
tensors load (the Adam state included); a file holding any other object is
refused rather than unpickled. DST receives
``{'state_dict': {backbone.*, neck.*}, 'meta': {...}}``, which ``tools/test.py``
and ``corrflow.utils.load_model_weights`` load into a ``LabelPropagator`` with
``CorrFlowResNet`` + ``EmbeddingProjection`` (e.g. ``configs/test/corrflow_davis.py``).
The optimizer state is dropped.

Every release key without a corrflow name is reported (``warning:``); the
converted weights are checked against a freshly built model: a model entry left
unfilled, a tensor of another shape or a converted key the model does not have
is listed and nothing is written (``error:``, exit code 1). ``--fp16`` stores
floating-point tensors as float16 (they are cast back when loaded).
"""
from __future__ import annotations

import sys

from corrflow.utils.convert import corrflow_release_key
from corrflow.utils.launch import run_converter
from corrflow.utils.release_conversion import ReleaseFormat

#: The release: the CorrFlow encoder, wrapped for label propagation.
CORRFLOW_RELEASE = ReleaseFormat(
    source_format='zlai0/CorrFlow release (nn.DataParallel state_dict)',
    architecture='CorrFlowResNet + EmbeddingProjection',
    model=dict(type='LabelPropagator', backbone=dict(type='CorrFlowResNet'),
               neck=dict(type='EmbeddingProjection')),
    rename=corrflow_release_key,
    converter='tools/convert_corrflow_checkpoint.py')


def main(argv: list[str] | None = None) -> int:
    """Run the conversion; returns the exit code."""
    return run_converter(CORRFLOW_RELEASE, 'Convert the official CorrFlow checkpoint to a '
                         'corrflow checkpoint', argv)


if __name__ == '__main__':
    sys.exit(main())
