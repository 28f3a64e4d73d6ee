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

import argparse
import os
import sys
from pathlib import Path

import torch
from mmengine.registry import init_default_scope

from corrflow.utils.checkpoint import (CheckpointError, file_sha256, load_checkpoint_file,
                                       write_weights)
from corrflow.utils.convert import convert_corrflow_state_dict, corrflow_release_key

#: The architecture of the release: the CorrFlow encoder wrapped for label propagation.
MODEL_CFG = dict(type='LabelPropagator', backbone=dict(type='CorrFlowResNet'),
                 neck=dict(type='EmbeddingProjection'))
ARCHITECTURE = 'CorrFlowResNet + EmbeddingProjection'


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line arguments (``sys.argv[1:]`` by default)."""
    parser = argparse.ArgumentParser(
        description='Convert the official CorrFlow checkpoint to a corrflow checkpoint')
    parser.add_argument('src', help='the release checkpoint (e.g. corrflow.pth)')
    parser.add_argument('dst', help='the corrflow checkpoint to write')
    parser.add_argument('--fp16', action='store_true',
                        help='store floating-point tensors as float16 (half the size)')
    return parser.parse_args(argv)


def build_model() -> torch.nn.Module:
    """A freshly initialised model of the release's architecture."""
    init_default_scope('corrflow')
    from corrflow.registry import MODELS

    return MODELS.build(MODEL_CFG)


def release_state_dict(ckpt: dict, src: str) -> dict:
    """The tensor dict of a release checkpoint (its ``state_dict``, or the dict itself)."""
    state = ckpt.get('state_dict', ckpt)
    if not isinstance(state, dict) or not state or \
            not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f'checkpoint {src} holds no state_dict of tensors (top-level keys: '
                              f'{", ".join(map(str, list(ckpt)[:8]))})')
    return state


def check_against_model(converted: dict, sources: dict, model_state: dict) -> list[str]:
    """Problems that keep the converted weights from fitting the model, one line each."""
    problems = [f'missing: {k} (no release tensor converts to it)' for k in model_state
                if k not in converted]
    problems += [f'shape: {k} is {tuple(v.shape)} in the release ({sources[k]}), '
                 f'{tuple(model_state[k].shape)} in the model'
                 for k, v in converted.items()
                 if k in model_state and v.shape != model_state[k].shape]
    problems += [f'unexpected: {k} (from {sources[k]}) is not a parameter of the model'
                 for k in converted if k not in model_state]
    return problems


def convert(src: str, dst: str, fp16: bool = False) -> dict:
    """Convert, check, write and verify; returns the ``meta`` written.

    Raises:
        CheckpointError: SRC is unreadable/unsafe or its weights do not fit
            the architecture (the problems were printed to stderr first).
    """
    if Path(dst).exists() and Path(src).exists() and Path(dst).resolve() == Path(src).resolve():
        raise CheckpointError('DST is the source file; choose another output path')
    ckpt = load_checkpoint_file(src)
    state = release_state_dict(ckpt, src)
    try:
        converted, unmatched = convert_corrflow_state_dict(state)
    except ValueError as err:
        raise CheckpointError(f'checkpoint {src}: {err}') from None
    sources = {corrflow_release_key(k): k for k in state if k not in unmatched}
    for key in unmatched:
        print(f'warning: release key without a corrflow name, not converted: {key}',
              file=sys.stderr)

    model_state = build_model().state_dict()
    problems = check_against_model(converted, sources, model_state)
    if problems:
        for line in problems:
            print(line, file=sys.stderr)
        hint = ''
        if not converted and any(k.startswith(('backbone.', 'module.backbone.')) for k in state):
            hint = '; it already looks like a corrflow checkpoint (load it directly)'
        counts = {kind: sum(line.startswith(kind) for line in problems)
                  for kind in ('missing', 'shape', 'unexpected')}
        raise CheckpointError(
            f'{src} does not fit {ARCHITECTURE}: {counts["missing"]} model entries unfilled, '
            f'{counts["shape"]} of another shape, {counts["unexpected"]} converted keys the '
            f'model does not have (listed above); nothing written{hint}')

    out_state = {}
    for key in model_state:  # the model's order
        value = converted[key].detach().clone().contiguous()
        if fp16 and value.is_floating_point():
            value = value.half()
        out_state[key] = value
    epoch = ckpt.get('epoch')
    meta = dict(
        source=os.path.abspath(src), source_sha256=file_sha256(src),
        source_format='zlai0/CorrFlow release (nn.DataParallel state_dict)',
        source_epoch=epoch if isinstance(epoch, (int, float)) else None,
        architecture=ARCHITECTURE, model=MODEL_CFG, fp16=fp16,
        converted_keys={k: sources[k] for k in out_state}, unmatched_keys=list(unmatched),
        dropped_entries=sorted(str(k) for k in ckpt if k != 'state_dict'),
        converter='tools/convert_corrflow_checkpoint.py')

    # The written file must load through the project's own safe loader, unchanged.
    write_weights(dict(state_dict=out_state, meta=meta), dst, build_model(), out_state)
    return meta


def main(argv: list[str] | None = None) -> int:
    """Run the conversion; returns the exit code."""
    args = parse_args(argv)
    try:
        meta = convert(args.src, args.dst, args.fp16)
    except (CheckpointError, OSError) as err:
        message = ' '.join(str(err).split()) or type(err).__name__
        print(f'error: {message}', file=sys.stderr)
        return 1
    num = len(meta['converted_keys'])
    print(f'converted {num} tensors ({ARCHITECTURE}'
          f'{", float16" if args.fp16 else ""}) from {args.src}')
    if meta['unmatched_keys']:
        print(f'{len(meta["unmatched_keys"])} release keys not converted (listed above)')
    if meta['dropped_entries']:
        print(f'dropped: {", ".join(meta["dropped_entries"])}')
    print(f'wrote {args.dst}; load it with tools/test.py CONFIG TASK {args.dst}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
