"""Converting released checkpoints of other codebases into corrflow checkpoints.

A :class:`ReleaseFormat` names a release's keys in corrflow's terms and the
architecture they fill. :func:`convert_release` reads the release with the
project's safe loader (``torch.load(weights_only=True)``: a file holding any
object other than plain containers, numbers and tensors is refused), renames
and reshapes its tensors, checks them against a freshly built model (an entry
left unfilled, a tensor of another shape or a converted key the model lacks
is listed and nothing is written), and writes ``{'state_dict', 'meta'}`` that
loads back unchanged. The command line of the ``tools/convert_*_checkpoint.py``
tools is ``corrflow.utils.launch.run_converter``; nothing here prints.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch
from mmengine.registry import init_default_scope
from torch import Tensor

from corrflow.utils.checkpoint import (CheckpointError, file_sha256, load_checkpoint_file,
                                       write_weights)

__all__ = ['ReleaseFormat', 'rename_state_dict', 'convert_release']


def _same(name: str, value: Tensor) -> Tensor:
    return value


@dataclass(frozen=True)
class ReleaseFormat:
    """What a released checkpoint holds and where its tensors go.

    Args:
        source_format (str): the release, as recorded in the converted meta.
        architecture (str): the corrflow modules its weights fill.
        model (dict): config of the model the converted weights must fit.
        rename (Callable[[str], str | None]): release key -> corrflow key, or
            None for a key without one (reported, not converted).
        reshape (Callable[[str, Tensor], Tensor]): applied to each tensor under
            its corrflow name (e.g. dropping the time axis of inflated convs).
        ignored (Callable[[str], bool]): release keys dropped silently (e.g.
            parameters the release saves but never uses).
        default (Callable[[str, Tensor], Tensor | None]): for a model entry the
            release lacks, a value to fill it with (given the model's own
            tensor), or None to count it as missing. Only for entries that are
            not weights (e.g. batch-norm step counters of releases saved by
            PyTorch versions that had none); the filled keys are recorded.
        converter (str): the tool, as recorded in the meta.
        state_entries (tuple[str, ...]): top-level entries that may hold the
            state dict, first present wins (else the checkpoint itself).
        safe_globals (tuple): classes besides tensors and plain containers the
            release's pickle may hold (e.g. ``argparse.Namespace``), allowed for
            its load only.
    """

    source_format: str
    architecture: str
    model: dict
    rename: Callable[[str], str | None]
    reshape: Callable[[str, Tensor], Tensor] = _same
    ignored: Callable[[str], bool] = field(default=lambda name: False)
    default: Callable[[str, Tensor], Tensor | None] = field(default=lambda name, value: None)
    converter: str = ''
    state_entries: tuple = ('state_dict',)
    safe_globals: tuple = ()


def rename_state_dict(state: dict, rename: Callable[[str], str | None],
                      ignored: Callable[[str], bool] = lambda name: False
                      ) -> tuple[dict, dict, list[str]]:
    """Rename the tensors of a release state dict (pure: tensors are neither copied nor cast).

    Returns:
        tuple[dict, dict, list[str]]: the renamed dict (release order kept),
        corrflow key -> release key, and the release keys that have no
        corrflow name (in their order; ``ignored`` keys are left out).

    Raises:
        ValueError: a value is not a tensor, or two release keys map to the
            same corrflow key (e.g. one weight with and without ``module.``).
    """
    converted: dict[str, Tensor] = {}
    sources: dict[str, str] = {}
    unmatched: list[str] = []
    for name, value in state.items():
        if not isinstance(value, Tensor):
            raise ValueError(f'state dict entry {name!r} is a {type(value).__name__}, not a tensor')
        if ignored(str(name)):
            continue
        target = rename(str(name))
        if target is None:
            unmatched.append(str(name))
            continue
        if target in converted:
            raise ValueError(f'release keys {sources[target]!r} and {name!r} both map to '
                             f'{target!r}')
        converted[target] = value
        sources[target] = str(name)
    return converted, sources, unmatched


def _release_state_dict(ckpt: dict, src: str, entries: tuple = ('state_dict',)) -> dict:
    """The tensor dict of a release checkpoint (its first entry of ``entries``, or the
    dict itself)."""
    state = next((ckpt[e] for e in entries if isinstance(ckpt.get(e), dict)), ckpt)
    if not isinstance(state, dict) or not state or \
            not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f'checkpoint {src} holds no state_dict of tensors (top-level keys: '
                              f'{", ".join(map(str, list(ckpt)[:8]))})')
    return state


def _build(fmt: ReleaseFormat) -> torch.nn.Module:
    init_default_scope('corrflow')
    from corrflow.registry import MODELS

    return MODELS.build(fmt.model)


def _problems(converted: dict, sources: dict, model_state: dict) -> list[str]:
    problems = [f'missing: {k} (no release tensor converts to it)' for k in model_state
                if k not in converted]
    problems += [f'shape: {k} is {tuple(v.shape)} in the release ({sources[k]}), '
                 f'{tuple(model_state[k].shape)} in the model'
                 for k, v in converted.items()
                 if k in model_state and v.shape != model_state[k].shape]
    problems += [f'unexpected: {k} (from {sources[k]}) is not a parameter of the model'
                 for k in converted if k not in model_state]
    return problems


def convert_release(src: str, dst: str, fmt: ReleaseFormat, fp16: bool = False) -> dict:
    """Convert, check, write and verify; returns the ``meta`` written.

    Release keys without a corrflow name are not converted; they are listed in
    the meta's ``unmatched_keys``.

    Raises:
        CheckpointError: SRC is unreadable/unsafe or its weights do not fit
            the architecture; for the latter, its ``problems`` attribute lists
            every unfilled, misshapen or unexpected entry, one line each.
    """
    if Path(dst).exists() and Path(src).exists() and Path(dst).resolve() == Path(src).resolve():
        raise CheckpointError('DST is the source file; choose another output path')
    ckpt = load_checkpoint_file(src, extra_safe_globals=fmt.safe_globals)
    state = _release_state_dict(ckpt, src, fmt.state_entries)
    used = next((e for e in fmt.state_entries if isinstance(ckpt.get(e), dict)), None)
    try:
        converted, sources, unmatched = rename_state_dict(state, fmt.rename, fmt.ignored)
        converted = {k: fmt.reshape(k, v) for k, v in converted.items()}
    except ValueError as err:
        raise CheckpointError(f'checkpoint {src}: {err}') from None

    model = _build(fmt)
    model_state = model.state_dict()
    filled = []
    for key, value in model_state.items():
        if key not in converted and (fill := fmt.default(key, value)) is not None:
            converted[key] = fill
            sources[key] = '(default)'
            filled.append(key)
    problems = _problems(converted, sources, model_state)
    if problems:
        hint = ''
        if not converted and any(k.startswith(('backbone.', 'module.backbone.')) for k in state):
            hint = '; it already looks like a corrflow checkpoint (load it directly)'
        counts = {kind: sum(line.startswith(kind) for line in problems)
                  for kind in ('missing', 'shape', 'unexpected')}
        error = CheckpointError(
            f'{src} does not fit {fmt.architecture}: {counts["missing"]} model entries '
            f'unfilled, {counts["shape"]} of another shape, {counts["unexpected"]} converted '
            f'keys the model does not have; nothing written{hint}')
        error.problems = problems
        raise error

    out_state = {}
    for key in model_state:  # the model's order
        value = converted[key].detach().clone().contiguous()
        if fp16 and value.is_floating_point():
            value = value.half()
        out_state[key] = value
    epoch = ckpt.get('epoch')
    meta = dict(
        source=os.path.abspath(src), source_sha256=file_sha256(src),
        source_format=fmt.source_format,
        source_epoch=epoch if isinstance(epoch, (int, float)) else None,
        architecture=fmt.architecture, model=fmt.model, fp16=fp16,
        converted_keys={k: sources[k] for k in out_state if k not in filled},
        filled_defaults=filled, unmatched_keys=list(unmatched),
        dropped_entries=sorted(str(k) for k in ckpt if k != used),
        converter=fmt.converter)
    # The written file must load through the project's own safe loader, unchanged.
    write_weights(dict(state_dict=out_state, meta=meta), dst, _build(fmt), out_state)
    return meta
