"""Convert the TimeCycle release checkpoint into a corrflow checkpoint.

Usage::

    python tools/convert_timecycle_checkpoint.py SRC DST [--fp16]

SRC is ``checkpoint_14.pth.tar`` of ``xiaolonw/TimeCycle`` (``{'epoch',
'state_dict'}``, keys ``module.encoderVideo.*``, ``module.afterconv1.weight`` and
the transformation regressor's ``module.afterconv3_trans``, ``afterconv4_trans``
and ``linear2``), read with ``torch.load(weights_only=True)``. Its inflated 3-D
convs (time kernel 1) become 2-D; layer4, which the release saves but never
used, is dropped. DST holds ``backbone.*`` (ResNet-50 to layer3 at stride 8),
``neck.*`` (the 1x1 conv to 512) and ``tracker.*``: the whole training model of
``configs/train/timecycle_r50.py`` (to continue training), and the encoder of
``configs/test/timecycle_davis.py`` (``tools/test.py`` uses backbone and neck and
reports the tracker entries as not used by the propagator).

A release key without a corrflow name is reported (``warning:``); weights that
leave a model entry unfilled, have another shape or do not belong to the model
are listed and nothing is written (``error:``, exit code 1). Batch-norm step
counters, which the release may lack, are filled with 0 and named in the meta.
"""
from __future__ import annotations

import sys

from corrflow.utils.convert import (timecycle_default, timecycle_ignored,
                                    timecycle_release_key, timecycle_reshape)
from corrflow.utils.launch import run_converter
from corrflow.utils.release_conversion import ReleaseFormat

#: The release's model: TimeCycle with the ResNet-50 "res4" encoder.
TIMECYCLE_RELEASE = ReleaseFormat(
    source_format='xiaolonw/TimeCycle release (nn.DataParallel state_dict, inflated 3-D convs)',
    architecture='TorchvisionResNet-50 (layer3 at stride 1) + EmbeddingProjection (1x1 to 512, '
                 'ReLU) + TransformRegressor',
    model=dict(type='TimeCycle',
               backbone=dict(type='TorchvisionResNet', depth=50, strides=(1, 2, 1, 1),
                             out_stage=3),
               neck=dict(type='EmbeddingProjection', in_channels=1024, out_channels=512,
                         kernel_size=1, bias=False, relu=True),
               tracker=dict(type='TransformRegressor', num_positions=900, patch_size=10)),
    rename=timecycle_release_key, reshape=timecycle_reshape, ignored=timecycle_ignored,
    default=timecycle_default, converter='tools/convert_timecycle_checkpoint.py')


def main(argv: list[str] | None = None) -> int:
    """Run the conversion; returns the exit code."""
    return run_converter(TIMECYCLE_RELEASE, 'Convert the TimeCycle release checkpoint to a '
                         'corrflow checkpoint', argv)


if __name__ == '__main__':
    sys.exit(main())
