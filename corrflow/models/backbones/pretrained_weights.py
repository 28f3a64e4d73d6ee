"""Encoder weights from checkpoints of other projects, read from a file on disk.

A *key map* says where a project keeps an encoder's tensors and how it names
them: which top-level entry holds the state dict (DINO's ``teacher``, MAE's
``model``), which prefix marks the encoder (MoCo's ``module.encoder_q.``), which
entries belong to other modules (classifier, projection heads, MAE's decoder)
and any renamings (DINOv2's ``register_tokens`` is timm's ``reg_token``). The
checkpoint is read with ``torch.load(weights_only=True)``; nothing is
downloaded. Every weight of the encoder must be filled with a tensor of its
shape, and no other encoder tensor may be left over, else one error names the
file, the key map and the first mismatching keys.
"""
from __future__ import annotations

import argparse
import re
from dataclasses import dataclass, field
from typing import Callable, Sequence

import torch.nn as nn
from torch import Tensor

from corrflow.errors import ConfigError
from corrflow.utils.checkpoint import CheckpointError, load_checkpoint_file

__all__ = ['KeyMap', 'KEY_MAPS', 'load_pretrained_encoder', 'crw_release_key']


def crw_release_key(name: str) -> str | None:
    """The backbone name of a CRW (ajabri/videowalk) key: ``encoder.model.X`` -> ``X``.

    Convolutions saved as (padding, conv) pairs, ``...convN.1.weight``, are the
    conv's own weight (the reference's test code renames them the same way).
    Returns None for keys outside the encoder.
    """
    name = name.removeprefix('module.')
    if not name.startswith('encoder.model.'):
        return None
    name = name[len('encoder.model.'):]
    return re.sub(r'(conv\d)\.1\.weight$', r'\1.weight', name)


def _dinov2_registers(state: dict[str, Tensor]) -> dict[str, Tensor]:
    """DINOv2 with registers, for timm's model of it.

    DINOv2 adds the first positional embedding to the class token and none to
    the registers; timm's model (``no_embed_class``) embeds positions of the
    patches only. So the class token takes its positional embedding along, the
    embedding keeps the patches' rows, and ``register_tokens`` is ``reg_token``.
    A release without registers passes unchanged.
    """
    if 'register_tokens' not in state:
        return state
    state = dict(state)
    state['reg_token'] = state.pop('register_tokens')
    pos = state.pop('pos_embed')
    state['cls_token'] = state['cls_token'] + pos[:, :1]
    state['pos_embed'] = pos[:, 1:]
    return state


@dataclass(frozen=True)
class KeyMap:
    """Where a project's checkpoint keeps an encoder, and its names.

    Args:
        description (str): the checkpoints it reads, in words.
        entries (Sequence[str]): top-level entries that may hold the state dict,
            first present wins; the checkpoint itself when none is.
        prefixes (Sequence[str]): prefixes stripped from keys, first match wins.
        select (Sequence[str]): when given, only keys starting with one of these
            (after ``prefixes``) are the encoder's; they are stripped too.
        drop (Sequence[str]): key prefixes (after stripping) of other modules,
            left out.
        rename (Callable[[str], str | None]): last renaming; None drops a key.
        convert (Callable[[dict], dict]): applied to the renamed tensors as a
            whole (e.g. moving a positional embedding between tokens).
        safe_globals (tuple): classes besides tensors and plain containers the
            checkpoint may hold, allowed for its load only (CRW saves its
            ``argparse.Namespace`` of arguments).
    """

    description: str
    entries: Sequence[str] = ('state_dict',)
    prefixes: Sequence[str] = ()
    select: Sequence[str] = ()
    drop: Sequence[str] = ()
    rename: Callable[[str], str | None] = field(default=lambda name: name)
    convert: Callable[[dict], dict] = field(default=lambda state: state)
    safe_globals: tuple = ()

    def encoder_state(self, ckpt: dict) -> dict[str, Tensor]:
        """The encoder's tensors of a loaded checkpoint, under the encoder's names."""
        state = next((ckpt[e] for e in self.entries if isinstance(ckpt.get(e), dict)), ckpt)
        out = {}
        for key, value in state.items():
            name = str(key)
            for prefix in self.prefixes:
                if name.startswith(prefix):
                    name = name[len(prefix):]
                    break
            if self.select:
                chosen = next((p for p in self.select if name.startswith(p)), None)
                if chosen is None:
                    continue
                name = name[len(chosen):]
            if any(name.startswith(d) for d in self.drop) or not isinstance(value, Tensor):
                continue
            name = self.rename(name)
            if name is not None:
                out.setdefault(name, value)
        return self.convert(out)


#: The key maps by name.
KEY_MAPS: dict[str, KeyMap] = {
    'torchvision': KeyMap('a torchvision ResNet state dict (ImageNet weights); classifier '
                          "'fc' dropped", prefixes=('module.',), drop=('fc.',)),
    'corrflow': KeyMap("a corrflow checkpoint: its 'backbone.' (training checkpoints, "
                       'model-zoo files, converted releases)', entries=('state_dict',),
                       prefixes=('module.',), select=('backbone.',)),
    'moco': KeyMap("MoCo v1/v2 (facebookresearch/moco): the query encoder "
                   "'module.encoder_q.', projection head 'fc' dropped",
                   prefixes=('module.',), select=('encoder_q.',), drop=('fc.',)),
    'moco_v3': KeyMap("MoCo v3 ResNet (facebookresearch/moco-v3): the base encoder "
                      "'module.base_encoder.', projection 'fc' dropped",
                      prefixes=('module.',), select=('base_encoder.',), drop=('fc.',)),
    'crw': KeyMap("CRW (ajabri/videowalk): 'model' entry, encoder 'encoder.model.', head "
                  "'selfsim_fc' dropped", entries=('model', 'state_dict'),
                  rename=crw_release_key, safe_globals=(argparse.Namespace,)),
    'timm': KeyMap('a timm model state dict; classifier head dropped',
                   entries=('state_dict', 'model'), prefixes=('module.',),
                   drop=('head.', 'fc_norm.')),
    'dino': KeyMap("DINO (facebookresearch/dino): a backbone release, or a training "
                   "checkpoint's 'teacher' (as DINO's evaluations read it), heads dropped",
                   entries=('teacher', 'state_dict', 'model'),
                   prefixes=('module.backbone.', 'backbone.', 'module.'), drop=('head.',)),
    'dinov2': KeyMap("DINOv2 (facebookresearch/dinov2): a backbone release, with or without "
                     "registers (for timm's model: 'register_tokens' is 'reg_token', the class "
                     "token takes its positional embedding); 'mask_token' dropped",
                     entries=('teacher', 'state_dict', 'model'),
                     prefixes=('module.backbone.', 'backbone.', 'module.'),
                     drop=('mask_token', 'head.', 'dino_head.', 'ibot_head.'),
                     convert=_dinov2_registers),
    'mae': KeyMap("MAE (facebookresearch/mae) and CropMAE: the 'model' entry's encoder; "
                  "decoder and 'mask_token' dropped", entries=('model', 'state_dict'),
                  prefixes=('module.',),
                  drop=('decoder', 'mask_token', 'head.', 'fc_norm.')),
}


def load_pretrained_encoder(module: nn.Module, path: str, key_map: str,
                            unused: Callable[[str], bool] = lambda name: False,
                            name: str | None = None) -> dict:
    """Fill every weight of ``module`` from ``path`` read with ``key_map``.

    Args:
        module (nn.Module): the encoder.
        path (str): checkpoint file.
        key_map (str): a name of :data:`KEY_MAPS`.
        unused (Callable[[str], bool]): encoder keys the module leaves out on
            purpose (e.g. ResNet stages after its output stage), not errors.
        name (str | None): the encoder in the error message (default: its
            class and ``arch``).

    Returns:
        dict: ``loaded`` and ``unused`` key counts.

    Raises:
        ConfigError: unknown key map.
        CheckpointError: the file is missing or unsafe, or its encoder does not
            fit ``module`` (one line: the first mismatching keys).
    """
    if key_map not in KEY_MAPS:
        raise ConfigError(f'key_map must be one of {sorted(KEY_MAPS)}, got {key_map!r}')
    fmt = KEY_MAPS[key_map]
    ckpt = load_checkpoint_file(path, extra_safe_globals=fmt.safe_globals)
    state = fmt.encoder_state(ckpt)
    own = module.state_dict()
    missing = [k for k in own if k not in state]
    shapes = [f'{k} {tuple(state[k].shape)} vs {tuple(v.shape)}' for k, v in own.items()
              if k in state and state[k].shape != v.shape]
    extra = [k for k in state if k not in own and not unused(k)]
    if missing or shapes or extra:
        parts = []
        if missing:
            parts.append(f'{len(missing)} of its {len(own)} weights unfilled '
                         f'({", ".join(missing[:3])})')
        if shapes:
            parts.append(f'{len(shapes)} of another shape ({", ".join(shapes[:2])})')
        if extra:
            parts.append(f'{len(extra)} checkpoint tensors it has no place for '
                         f'({", ".join(extra[:3])})')
        name = name or f'{type(module).__name__} {getattr(module, "arch", "")}'.rstrip()
        raise CheckpointError(
            f'checkpoint {path} does not fit {name} read as {key_map!r} ({fmt.description}): '
            f'{"; ".join(parts)}; give a checkpoint of this architecture, or the key map of '
            'its project')
    module.load_state_dict({k: state[k] for k in own}, strict=True)
    return dict(loaded=len(own), unused=sum(1 for k in state if k not in own))
