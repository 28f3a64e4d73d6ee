"""Convert a Spa-then-Temp release checkpoint into a corrflow checkpoint.

Usage::

    python tools/convert_spa_then_temp_checkpoint.py SRC DST [--fp16]

SRC is a checkpoint of ``qianduoduolr/Spa-then-Temp`` (e.g. ``res18_d8_temp.pth``):
the student under ``backbone.*`` in mmcv ConvModule names
(``backbone.layer1.0.conv1.conv.weight``, ``...conv1.bn.running_mean``,
``...downsample.conv.weight``), and in training checkpoints the frozen teacher
under ``backbone_t.*``, which is dropped. ResNet-18 and ResNet-50 are told apart
by their blocks. DST holds the student as a corrflow ``TorchvisionResNet``
(``backbone.*``, layer1-4): the test configs ``configs/test/spa_then_temp_r{18,50}_d{8,4}.py``
load it as it is (their layer3 output; layer4 is reported as unused), and so does
the student of the training configs.

Read with ``torch.load(weights_only=True)``; release keys without a corrflow name
are reported (``warning:``); weights that leave a model entry unfilled or have
another shape are listed and nothing is written (``error:``, exit code 1).
"""
from __future__ import annotations

import sys

from corrflow.utils.checkpoint import CheckpointError, load_checkpoint_file
from corrflow.utils.convert import (spa_then_temp_depth, spa_then_temp_ignored,
                                    spa_then_temp_release_key)
from corrflow.utils.launch import run_converter
from corrflow.utils.release_conversion import ReleaseFormat


def release_format(depth: int) -> ReleaseFormat:
    """The release of a ResNet-``depth`` student."""
    return ReleaseFormat(
        source_format='qianduoduolr/Spa-then-Temp release (mmcv ConvModule names)',
        architecture=f'TorchvisionResNet-{depth} student (strides 1, 2, 2, 4, no max-pool)',
        model=dict(type='LabelPropagator',
                   backbone=dict(type='TorchvisionResNet', depth=depth, strides=(1, 2, 2, 4),
                                 out_stage=4, stem_pool='none')),
        rename=spa_then_temp_release_key, ignored=spa_then_temp_ignored,
        converter='tools/convert_spa_then_temp_checkpoint.py')


def main(argv: list[str] | None = None) -> int:
    """Detect the depth, then convert; returns the exit code."""
    argv = sys.argv[1:] if argv is None else list(argv)
    positional = [a for a in argv if not a.startswith('-')]
    depth = 18
    if positional and not any(a in ('-h', '--help') for a in argv):
        try:
            ckpt = load_checkpoint_file(positional[0])
            state = ckpt.get('state_dict', ckpt)
            depth = spa_then_temp_depth(state)
        except (CheckpointError, ValueError, AttributeError) as err:
            print(f'error: {positional[0]}: {err}', file=sys.stderr)
            return 1
    return run_converter(release_format(depth), 'Convert a Spa-then-Temp release checkpoint to '
                         'a corrflow checkpoint', argv)


if __name__ == '__main__':
    sys.exit(main())
