"""Key mapping from the official CorrFlow release to corrflow's module names.

The release (``zlai0/CorrFlow``) saves ``nn.DataParallel(CorrFlow).state_dict()``.
Its names and the corrflow names of the same tensors::

    module.feature_extraction.conv1.0.weight          backbone.conv1.weight
    module.feature_extraction.conv1.1.<bn>            backbone.bn1.<bn>
    module.feature_extraction.layerL.B.left.0.weight  backbone.layerL.B.conv1.weight
    module.feature_extraction.layerL.B.left.1.<bn>    backbone.layerL.B.bn1.<bn>
    module.feature_extraction.layerL.B.left.3.weight  backbone.layerL.B.conv2.weight
    module.feature_extraction.layerL.B.left.4.<bn>    backbone.layerL.B.bn2.<bn>
    module.feature_extraction.layerL.B.shortcut.0.weight   backbone.layerL.B.downsample.0.weight
    module.feature_extraction.layerL.B.shortcut.1.<bn>     backbone.layerL.B.downsample.1.<bn>
    module.post_convolution.weight / .bias            neck.conv.weight / .bias

where ``<bn>`` is one of ``weight``, ``bias``, ``running_mean``,
``running_var``, ``num_batches_tracked``. The ``module.`` prefix is optional
(a checkpoint saved without ``nn.DataParallel`` converts the same way).
"""
from __future__ import annotations

import re

import torch
from torch import Tensor

from corrflow.utils.release_conversion import rename_state_dict

__all__ = ['BN_ENTRIES', 'convert_corrflow_state_dict', 'corrflow_release_key',
           'timecycle_release_key', 'timecycle_reshape', 'timecycle_ignored',
           'timecycle_default', 'spa_then_temp_release_key', 'spa_then_temp_ignored',
           'spa_then_temp_depth']

#: Entries of a BatchNorm2d state dict.
BN_ENTRIES = ('weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked')

_BN = '|'.join(BN_ENTRIES)
# (pattern on the release name without "module.", replacement giving the corrflow name)
_RULES = (
    (re.compile(r'feature_extraction\.conv1\.0\.weight'), 'backbone.conv1.weight'),
    (re.compile(rf'feature_extraction\.conv1\.1\.({_BN})'), r'backbone.bn1.\1'),
    (re.compile(r'feature_extraction\.(layer\d+\.\d+)\.left\.0\.weight'),
     r'backbone.\1.conv1.weight'),
    (re.compile(rf'feature_extraction\.(layer\d+\.\d+)\.left\.1\.({_BN})'), r'backbone.\1.bn1.\2'),
    (re.compile(r'feature_extraction\.(layer\d+\.\d+)\.left\.3\.weight'),
     r'backbone.\1.conv2.weight'),
    (re.compile(rf'feature_extraction\.(layer\d+\.\d+)\.left\.4\.({_BN})'), r'backbone.\1.bn2.\2'),
    (re.compile(r'feature_extraction\.(layer\d+\.\d+)\.shortcut\.0\.weight'),
     r'backbone.\1.downsample.0.weight'),
    (re.compile(rf'feature_extraction\.(layer\d+\.\d+)\.shortcut\.1\.({_BN})'),
     r'backbone.\1.downsample.1.\2'),
    (re.compile(r'post_convolution\.(weight|bias)'), r'neck.conv.\1'),
)


def corrflow_release_key(name: str) -> str | None:
    """The corrflow name of one release state-dict key, or None if it has none.

    Args:
        name (str): a key of the release state dict, with or without the
            ``module.`` prefix of ``nn.DataParallel``.

    Returns:
        str | None: e.g. ``'backbone.layer2.0.downsample.1.running_var'``.
    """
    if name.startswith('module.'):
        name = name[len('module.'):]
    for pattern, replacement in _RULES:
        if pattern.fullmatch(name):
            return pattern.sub(replacement, name)
    return None


def convert_corrflow_state_dict(state: dict) -> tuple[dict, list[str]]:
    """Rename the tensors of a release state dict to corrflow's names.

    Pure: the tensors are not copied, cast or checked against a model (the
    converter tool does that against a freshly built one).

    Args:
        state (dict): the release's ``state_dict`` (``name -> Tensor``).

    Returns:
        tuple[dict, list[str]]: the renamed state dict (release order kept)
        and the release keys that match no rule, in their original order.

    Raises:
        ValueError: a value is not a tensor, or two release keys map to the
            same corrflow key (e.g. the same weight with and without
            ``module.``).
    """
    converted, _, unmatched = rename_state_dict(state, corrflow_release_key)
    return converted, unmatched


# ----------------------------------------------------------------------------- TimeCycle
# The release (xiaolonw/TimeCycle, checkpoint_14.pth.tar) saves
# nn.DataParallel(CycleTime).state_dict(): an "inflated" ResNet-50 whose convs are 3-D
# with a time kernel of 1, a 1x1x1 conv to 512 and the transformation regressor:
#
#     module.encoderVideo.conv1.weight (64, 3, 1, 7, 7)    backbone.conv1.weight (64, 3, 7, 7)
#     module.encoderVideo.bn1.<bn>                          backbone.bn1.<bn>
#     module.encoderVideo.layerL.B.<conv|bn|downsample>     backbone.layerL.B.<same>   (L = 1..3)
#     module.encoderVideo.layer4.*                          not converted (never used by the
#                                                           release's forward, never trained)
#     module.afterconv1.weight (512, 1024, 1, 1, 1)         neck.conv.weight (512, 1024, 1, 1)
#     module.afterconv3_trans.weight (128, 900, 4, 4)       tracker.conv1.weight
#     module.afterconv4_trans.weight (64, 128, 4, 4)        tracker.conv2.weight
#     module.linear2.weight / .bias                         tracker.fc.weight / .bias
_TIMECYCLE_RULES = (
    (re.compile(rf'encoderVideo\.(conv1\.weight|bn1\.(?:{_BN}))'), r'backbone.\1'),
    (re.compile(r'encoderVideo\.(layer[123]\..+)'), r'backbone.\1'),
    (re.compile(r'afterconv1\.weight'), 'neck.conv.weight'),
    (re.compile(r'afterconv3_trans\.weight'), 'tracker.conv1.weight'),
    (re.compile(r'afterconv4_trans\.weight'), 'tracker.conv2.weight'),
    (re.compile(r'linear2\.(weight|bias)'), r'tracker.fc.\1'),
)


def timecycle_release_key(name: str) -> str | None:
    """The corrflow name of one TimeCycle release key (``module.`` optional), or None."""
    if name.startswith('module.'):
        name = name[len('module.'):]
    for pattern, replacement in _TIMECYCLE_RULES:
        if pattern.fullmatch(name):
            return pattern.sub(replacement, name)
    return None


def timecycle_ignored(name: str) -> bool:
    """Release keys the conversion drops: layer4, which the release never used."""
    return name.removeprefix('module.').startswith('encoderVideo.layer4.')


def timecycle_reshape(name: str, value: Tensor) -> Tensor:
    """Drop the time axis (of size 1) of the release's inflated 3-D conv weights."""
    if value.dim() == 5:
        if value.shape[2] != 1:
            raise ValueError(f'{name}: an inflated conv weight must have a time kernel of 1, '
                             f'got shape {tuple(value.shape)}')
        return value[:, :, 0]
    return value


def timecycle_default(name: str, value: Tensor) -> Tensor | None:
    """Batch-norm step counters, which releases saved before PyTorch 0.4.1 do not have."""
    return torch.zeros_like(value) if name.endswith('num_batches_tracked') else None


# ----------------------------------------------------------------------------- Spa-then-Temp
# The releases (qianduoduolr/Spa-then-Temp) save mmcv ConvModule names for the student,
# and the teacher under backbone_t.* in training checkpoints:
#
#     backbone.conv1.conv.weight                       backbone.conv1.weight
#     backbone.conv1.bn.<bn>                           backbone.bn1.<bn>
#     backbone.layerL.B.convN.conv.weight              backbone.layerL.B.convN.weight
#     backbone.layerL.B.convN.bn.<bn>                  backbone.layerL.B.bnN.<bn>
#     backbone.layerL.B.downsample.conv.weight         backbone.layerL.B.downsample.0.weight
#     backbone.layerL.B.downsample.bn.<bn>             backbone.layerL.B.downsample.1.<bn>
#     backbone_t.*                                     not converted (the frozen teacher)
_STT_RULES = (
    (re.compile(r'backbone\.conv1\.conv\.weight'), 'backbone.conv1.weight'),
    (re.compile(rf'backbone\.conv1\.bn\.({_BN})'), r'backbone.bn1.\1'),
    (re.compile(r'backbone\.(layer\d\.\d+)\.conv(\d)\.conv\.weight'),
     r'backbone.\1.conv\2.weight'),
    (re.compile(rf'backbone\.(layer\d\.\d+)\.conv(\d)\.bn\.({_BN})'), r'backbone.\1.bn\2.\3'),
    (re.compile(r'backbone\.(layer\d\.\d+)\.downsample\.conv\.weight'),
     r'backbone.\1.downsample.0.weight'),
    (re.compile(rf'backbone\.(layer\d\.\d+)\.downsample\.bn\.({_BN})'),
     r'backbone.\1.downsample.1.\2'),
)


def spa_then_temp_release_key(name: str) -> str | None:
    """The corrflow name of one Spa-then-Temp release key (``module.`` optional), or None."""
    if name.startswith('module.'):
        name = name[len('module.'):]
    for pattern, replacement in _STT_RULES:
        if pattern.fullmatch(name):
            return pattern.sub(replacement, name)
    return None


def spa_then_temp_ignored(name: str) -> bool:
    """Release keys the conversion drops: the frozen teacher of training checkpoints."""
    return name.removeprefix('module.').startswith('backbone_t.')


def spa_then_temp_depth(state: dict) -> int:
    """18 or 50, from the release's block layout (Bottleneck blocks have a conv3)."""
    names = [k.removeprefix('module.') for k in state if not spa_then_temp_ignored(k)]
    if any(re.match(r'backbone\.layer\d\.\d+\.conv3\.', k) for k in names):
        return 50
    if any(re.match(r'backbone\.layer\d\.\d+\.conv2\.', k) for k in names):
        return 18
    raise ValueError('no backbone.layerL.B.convN keys: not a Spa-then-Temp release')
