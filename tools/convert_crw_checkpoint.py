"""Convert the CRW release checkpoint into a corrflow checkpoint.

Usage::

    python tools/convert_crw_checkpoint.py SRC DST [--fp16]

SRC is ``pretrained.pth`` of ``ajabri/videowalk`` (a training checkpoint:
``{'model', 'optimizer', 'lr_scheduler', 'epoch', 'args'}``), read with
``torch.load(weights_only=True)``; the saved ``args`` (an
``argparse.Namespace``) is the one class allowed besides tensors and plain
containers. Its ``model`` holds ``encoder.model.*`` (a ResNet-18 with layer3 and
layer4 at stride 1, trained with reflect padding) and ``selfsim_fc.0.*`` (the
linear head, 512 to 128). Convolutions saved as (padding, conv) pairs
(``...conv1.1.weight``) are read as the conv's weight, as the reference's test
code does. DST holds ``backbone.*`` and ``head.*``: the whole training model of
``configs/train/crw_r18.py``, and the encoder of ``configs/test/crw_r18_davis.py``
(``tools/test.py`` uses layer1..layer3 and reports layer4 and the head as not
used by the propagator). The optimiser, scheduler and arguments are dropped.

A release key without a corrflow name is reported (``warning:``); weights that
leave a model entry unfilled, have another shape or do not belong to the model
are listed and nothing is written (``error:``, exit code 1).
"""
from __future__ import annotations

import argparse
import sys

from corrflow.models.backbones.pretrained_weights import crw_release_key
from corrflow.utils.launch import run_converter
from corrflow.utils.release_conversion import ReleaseFormat


def crw_key(name: str) -> str | None:
    """The corrflow name of one CRW release key (``module.`` optional), or None."""
    name = name.removeprefix('module.')
    if name.startswith('selfsim_fc.'):
        return 'head.layers.' + name[len('selfsim_fc.'):]
    backbone = crw_release_key(name)
    return None if backbone is None else 'backbone.' + backbone


#: The release's model: CRW's training model (ResNet-18 through layer4, linear head).
CRW_RELEASE = ReleaseFormat(
    source_format='ajabri/videowalk release (train.py checkpoint: model, optimizer, '
                  'lr_scheduler, epoch, args)',
    architecture='CRW: TorchvisionResNet-18 (layer3 and layer4 at stride 1, reflect padding) '
                 '+ NodeProjection (512 to 128)',
    model=dict(type='CRW',
               backbone=dict(type='TorchvisionResNet', depth=18, strides=(1, 2, 1, 1),
                             out_stage=4, padding_mode='reflect'),
               head=dict(type='NodeProjection', in_channels=512, out_channels=128, depth=0)),
    rename=crw_key, converter='tools/convert_crw_checkpoint.py',
    state_entries=('model', 'state_dict'), safe_globals=(argparse.Namespace,))


def main(argv: list[str] | None = None) -> int:
    """Run the conversion; returns the exit code."""
    return run_converter(CRW_RELEASE, 'Convert the CRW release checkpoint to a corrflow '
                         'checkpoint', argv)


if __name__ == '__main__':
    sys.exit(main())
