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

from torch import Tensor

__all__ = ['BN_ENTRIES', 'convert_corrflow_state_dict', 'corrflow_release_key']

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
    converted: dict[str, Tensor] = {}
    sources: dict[str, str] = {}
    unmatched: list[str] = []
    for name, value in state.items():
        if not isinstance(value, Tensor):
            raise ValueError(f'state dict entry {name!r} is a {type(value).__name__}, not a tensor')
        target = corrflow_release_key(str(name))
        if target is None:
            unmatched.append(str(name))
            continue
        if target in converted:
            raise ValueError(f'release keys {sources[target]!r} and {name!r} both map to '
                             f'{target!r}')
        converted[target] = value
        sources[target] = str(name)
    return converted, unmatched
