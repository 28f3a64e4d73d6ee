"""Turn a training checkpoint into a release file for label propagation.

Usage::

    python tools/publish_model.py SRC DST [--config CFG] [--fp32]

SRC is a checkpoint written by ``tools/train.py`` (or any file whose
``state_dict`` holds the encoder). DST receives the bare state dict of the
propagation model built from CFG (default ``configs/test/corrflow_davis.py``):
``backbone.*`` and ``neck.*`` tensors only — no optimizer, message hub or
training-only entries — stored as float16 unless ``--fp32`` is given (they are
cast back to the model's dtype when loaded). The file loads with
``torch.load(weights_only=True)``, with ``tools/test.py``, ``tools/propagate.py``
and ``corrflow.apis.init_model``. A ``DST.json`` sidecar records where the
weights came from (training iteration, SHA-256 of both files, config).

A SRC that does not fit the architecture is refused (``error:``, exit code 1)
and nothing is written.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

from corrflow.utils.checkpoint import (CheckpointError, extract_state_dict, file_sha256,
                                       load_checkpoint_file, write_weights)

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CONFIG = 'configs/test/corrflow_davis.py'


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line arguments (``sys.argv[1:]`` by default)."""
    parser = argparse.ArgumentParser(description='Publish a training checkpoint as release weights')
    parser.add_argument('src', help='training checkpoint (e.g. work_dirs/.../iter_4000.pth)')
    parser.add_argument('dst', help='release file to write (e.g. checkpoints/model.pth)')
    parser.add_argument('--config', default=None,
                        help='propagation config defining the architecture '
                        f'(default {DEFAULT_CONFIG})')
    parser.add_argument('--fp32', action='store_true', help='keep float32 (default: float16)')
    return parser.parse_args(argv)


def build_model(config: str) -> torch.nn.Module:
    """The propagation model of a config (fresh weights)."""
    if not Path(config).is_file():
        raise CheckpointError(f'config {config} does not exist')
    init_default_scope('corrflow')
    from corrflow.registry import MODELS

    return MODELS.build(Config.fromfile(config).model)


def _repo_relative(path: str) -> str:
    try:
        return str(Path(path).resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


def publish(src: str, dst: str, config: str | None = None, fp16: bool = True) -> dict:
    """Extract, check, write and verify; returns the metadata written beside DST.

    Raises:
        CheckpointError: SRC is unreadable, unsafe, or does not fit the model.
    """
    config = config or str(REPO_ROOT / DEFAULT_CONFIG)
    if Path(dst).exists() and Path(src).exists() and Path(dst).resolve() == Path(src).resolve():
        raise CheckpointError('DST is the source file; choose another output path')
    ckpt = load_checkpoint_file(src)
    state = extract_state_dict(ckpt)
    model = build_model(config)
    own = model.state_dict()
    if not own:
        raise CheckpointError(f'the model of {config} has no weights to publish')
    missing = [k for k in own if k not in state]
    wrong = [k for k in own if k in state and state[k].shape != own[k].shape]
    if missing or wrong:
        example = missing[0] if missing else f'{wrong[0]} {tuple(state[wrong[0]].shape)}'
        raise CheckpointError(
            f'{src} does not fit the model of {config}: {len(missing)} entries missing, '
            f'{len(wrong)} of another shape (e.g. {example}); nothing written')
    out = {}
    for key in own:  # the model's order; training-only entries are dropped
        value = state[key].detach().clone().contiguous()
        if fp16 and value.is_floating_point():
            value = value.half()
        out[key] = value

    # The release must load through the safe loader and give back the same tensors.
    write_weights(out, dst, build_model(config), out)

    train_meta = ckpt.get('meta', {}) if isinstance(ckpt.get('meta'), dict) else {}
    meta = dict(
        weights=os.path.basename(dst), sha256=file_sha256(dst),
        size_bytes=os.path.getsize(dst), dtype='float16' if fp16 else 'float32',
        num_tensors=len(out), num_parameters=sum(p.numel() for p in model.parameters()),
        architecture_config=_repo_relative(config), source=os.path.basename(src),
        source_sha256=file_sha256(src),
        iteration=train_meta.get('iter'), epoch=train_meta.get('epoch'),
        dropped_entries=sorted(k for k in state if k not in own))
    with open(f'{dst}.json', 'w') as f:
        json.dump(meta, f, indent=2, default=str)
        f.write('\n')
    return meta


def main(argv: list[str] | None = None) -> int:
    """Run it; returns the exit code."""
    args = parse_args(argv)
    try:
        meta = publish(args.src, args.dst, args.config, fp16=not args.fp32)
    except (CheckpointError, OSError) as err:
        print(f'error: {" ".join(str(err).split())}', file=sys.stderr)
        return 1
    print(f'wrote {args.dst}: {meta["num_tensors"]} tensors, {meta["dtype"]}, '
          f'{meta["size_bytes"] / 2**20:.2f} MiB, sha256 {meta["sha256"][:12]}')
    print(f'dropped {len(meta["dropped_entries"])} training-only entries; '
          f'metadata in {args.dst}.json')
    return 0


if __name__ == '__main__':
    sys.exit(main())
