"""Loading checkpoints without running code from them.

``torch.load`` uses ``weights_only=True`` by default: only tensors, containers
and explicitly allow-listed classes are unpickled. mmengine checkpoints also
hold its ``HistoryBuffer`` (log history, numpy arrays inside) and numpy scalars;
exactly those classes are allow-listed here. Anything else in a file (for
instance a payload that would call ``os.system``) is refused.

mmengine's ``HistoryBuffer`` also pickles its table of statistics methods,
which are references to its own functions (``getattr(HistoryBuffer, 'min')``);
the four default ones are re-registered when a buffer is unpickled anyway, so
:func:`allow_mmengine_checkpoints` makes buffers pickle only custom methods
(none in corrflow). ``getattr`` itself is never allow-listed.
"""
from __future__ import annotations

import hashlib
import os
import pickle
from pathlib import Path

import numpy as np
import torch
from mmengine.logging.history_buffer import HistoryBuffer
from corrflow.errors import CheckpointError  # noqa: F401 (re-exported)

__all__ = ['SAFE_CHECKPOINT_GLOBALS', 'allow_mmengine_checkpoints', 'load_checkpoint_file',
           'CheckpointError', 'extract_state_dict', 'load_model_weights', 'file_sha256',
           'save_atomically', 'write_weights']


def _numpy_globals() -> list:
    from numpy.core.multiarray import _reconstruct, scalar  # noqa: F401 (numpy<2 names)
    names = [_reconstruct, scalar, np.ndarray, np.dtype]
    # numpy >= 1.25 pickles dtypes through their DType classes.
    dtypes = getattr(np, 'dtypes', None)
    if dtypes is not None:
        names += [dtypes.Float64DType, dtypes.Float32DType, dtypes.Int64DType,
                  dtypes.Int32DType, dtypes.UInt8DType, dtypes.BoolDType]
    return names


SAFE_CHECKPOINT_GLOBALS: tuple = (HistoryBuffer, *_numpy_globals())


_DEFAULT_STATISTICS = ('min', 'max', 'current', 'mean')


def _history_buffer_state(buffer: HistoryBuffer) -> dict:
    """Pickled state of a HistoryBuffer without its default statistics methods."""
    state = {k: v for k, v in buffer.__dict__.items() if k != 'statistics_methods'}
    custom = {k: v for k, v in buffer._statistics_methods.items() if k not in _DEFAULT_STATISTICS}
    if custom:
        state['statistics_methods'] = custom
    return state


def allow_mmengine_checkpoints() -> None:
    """Make mmengine checkpoints loadable with ``weights_only=True``.

    Allow-lists exactly the data classes they contain and makes
    ``HistoryBuffer`` pickle without references to its default methods.
    """
    torch.serialization.add_safe_globals(list(SAFE_CHECKPOINT_GLOBALS))
    HistoryBuffer.__getstate__ = _history_buffer_state


def load_checkpoint_file(path: str | Path, map_location: str | torch.device = 'cpu',
                         extra_safe_globals: tuple = ()) -> dict:
    """Load a checkpoint with ``weights_only=True``, with one clear error on failure.

    ``extra_safe_globals`` allow-lists more classes for this one load (e.g. the
    ``argparse.Namespace`` of arguments a release saved beside its weights).

    Raises:
        CheckpointError: the file is missing, not a checkpoint, holds
            objects outside the allow-list, or weights that are NaN or infinite.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f'checkpoint {path} does not exist')
    _check_container(path)
    allow_mmengine_checkpoints()
    try:
        with torch.serialization.safe_globals(list(extra_safe_globals)):
            ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        lines = str(err).strip().splitlines()
        foreign = next((line for line in lines if 'GLOBAL' in line), None)
        if foreign is None:  # not a pickle stream at all: a corrupt or foreign file
            detail = next((line for line in lines if 'Unsupported' in line),
                          lines[-1] if lines else '')
            raise CheckpointError(f'checkpoint {path} could not be read ({detail.strip()}): it is '
                                  'not a PyTorch checkpoint, or it is corrupted') from None
        raise CheckpointError(f'checkpoint {path} was refused: it contains objects that are not '
                              f'plain tensors or allow-listed classes ({foreign.strip()}); only '
                              'load checkpoints from sources you trust') from None
    except (RuntimeError, EOFError, OSError) as err:
        detail = _first_line(err)
        if 'zip archive' in detail or isinstance(err, EOFError):
            detail = 'the archive is incomplete or damaged: a truncated download or copy?'
        raise CheckpointError(f'checkpoint {path} could not be read ({detail}); is it a '
                              'complete PyTorch checkpoint file?') from None
    except Exception as err:  # a damaged pickle stream fails in many ways (KeyError, ...)
        raise CheckpointError(f'checkpoint {path} could not be read ({type(err).__name__}: '
                              f'{_first_line(err)}): it is not a PyTorch checkpoint, or it is '
                              'corrupted') from None
    if not isinstance(ckpt, dict):
        raise CheckpointError(f'checkpoint {path} holds a {type(ckpt).__name__}, expected a dict '
                              'with a state_dict')
    _check_finite(ckpt, path)
    return ckpt


_ZIP_MAGIC = b'PK\x03\x04'  # torch.save's default (zip) format
_PICKLE_PROTO = b'\x80'  # the legacy format starts with a pickle protocol opcode


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def _check_container(path: Path) -> None:
    """Refuse, by its first bytes, a file that is no PyTorch checkpoint at all."""
    with open(path, 'rb') as f:
        head = f.read(256)
    if head.startswith(_ZIP_MAGIC) or head.startswith(_PICKLE_PROTO):
        return
    if not head:
        what = 'an empty file (an interrupted download or copy?)'
    elif head.startswith(b'version https://git-lfs'):
        what = ('a Git LFS pointer, not the weights: fetch them with `git lfs pull`, or '
                'download the file itself')
    elif head.lstrip().lower().startswith((b'<!doctype', b'<html', b'<?xml', b'<')):
        what = ('an HTML/XML page, not weights (a download link that returned a web page?); '
                'download the file itself')
    elif _is_text(head):
        what = f'a text file (it starts with "{_preview(head)}")'
    else:
        what = f'neither a zip nor a pickle (it starts with bytes {head[:8].hex(" ")})'
    raise CheckpointError(f'checkpoint {path} is {what}; expected a PyTorch checkpoint '
                          '(torch.save)')


def _is_text(head: bytes) -> bool:
    try:
        text = head.decode('utf-8')
    except UnicodeDecodeError:
        # the read may have cut a multi-byte character at the end
        try:
            text = head[:-3].decode('utf-8')
        except UnicodeDecodeError:
            return False
    return all(ch.isprintable() or ch in '\r\n\t' for ch in text)


def _preview(head: bytes) -> str:
    line = head.decode('utf-8', errors='replace').strip().splitlines()[0] if head.strip() else ''
    return line[:40] + ('...' if len(line) > 40 else '')


def _check_finite(ckpt: dict, path: Path) -> None:
    """Refuse weights that hold NaN or infinity (a diverged or damaged run)."""
    state = ckpt.get('state_dict', ckpt)
    if not isinstance(state, dict):
        return
    bad = [(k, v) for k, v in state.items() if isinstance(v, torch.Tensor)
           and v.is_floating_point() and not bool(torch.isfinite(v).all())]
    if bad:
        name, tensor = bad[0]
        count = int((~torch.isfinite(tensor)).sum())
        raise CheckpointError(
            f'checkpoint {path} holds weights that are not finite: {len(bad)} tensors (e.g. '
            f'{name}, {count} of its {tensor.numel()} values are NaN or infinite); the run that '
            'wrote it diverged or the file is damaged: use an earlier checkpoint')


def extract_state_dict(ckpt: dict) -> dict:
    """The parameter dict of a checkpoint: ``state_dict`` or the dict itself, no ``module.``."""
    state = ckpt.get('state_dict', ckpt)
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError('it holds no state_dict of tensors (is it an optimizer, a '
                              'results file or another object saved with torch.save?)')
    return {k[len('module.'):] if k.startswith('module.') else k: v for k, v in state.items()}


def load_model_weights(model: torch.nn.Module, path: str | Path) -> dict:
    """Load a checkpoint's weights into ``model``, refusing architecture mismatches.

    Every parameter and buffer of ``model`` must be present in the checkpoint
    with the same shape; checkpoint entries the model does not have (e.g. a
    training-only head, optimizer-free extras) are ignored and reported.

    Returns:
        dict: ``unused`` (checkpoint keys not loaded) and ``meta`` of the file.

    Raises:
        CheckpointError: the file is unsafe/unreadable, or does not fit ``model``.
    """
    ckpt = load_checkpoint_file(path)
    try:
        state = extract_state_dict(ckpt)
    except CheckpointError as err:
        raise CheckpointError(f'checkpoint {path}: {err}') from None
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    wrong = [f'{k} {tuple(state[k].shape)} vs {tuple(v.shape)}' for k, v in own.items()
             if k in state and state[k].shape != v.shape]
    if missing or wrong:
        detail = (f'{len(missing)} missing (e.g. {missing[0]})' if missing else '') + \
            ('; ' if missing and wrong else '') + \
            (f'{len(wrong)} with another shape (e.g. {wrong[0]})' if wrong else '')
        theirs = next((k for k in state if k not in own), None)
        holds = f', and it holds e.g. {theirs}' if theirs else ''
        raise CheckpointError(f'checkpoint {path} does not fit {type(model).__name__}: '
                              f'{detail}{holds}; is it a checkpoint of this architecture?')
    model.load_state_dict({k: state[k].to(v.dtype) for k, v in own.items()}, strict=True)
    return dict(unused=sorted(k for k in state if k not in own), meta=ckpt.get('meta', {}))


def file_sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file."""
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()


def save_atomically(obj: dict, dst: str | Path) -> None:
    """``torch.save`` to a temporary file beside ``dst``, then rename it over ``dst``: a
    failed or interrupted save never leaves a partial file at ``dst``."""
    os.makedirs(os.path.dirname(os.path.abspath(dst)), exist_ok=True)
    tmp = f'{dst}.tmp{os.getpid()}'
    try:
        torch.save(obj, tmp)
        os.replace(tmp, dst)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def write_weights(obj: dict, dst: str | Path, model: torch.nn.Module,
                  weights: dict[str, torch.Tensor]) -> None:
    """Save ``obj`` to ``dst`` atomically, then check it reads back into ``model``.

    The file is loaded through :func:`load_model_weights` (``weights_only``)
    and every tensor of ``weights`` must come back unchanged.

    Raises:
        CheckpointError: the written file does not load or differs.
    """
    save_atomically(obj, dst)
    load_model_weights(model, dst)
    loaded = model.state_dict()
    changed = [k for k, v in weights.items() if not torch.equal(loaded[k].to(v.dtype), v)]
    if changed:
        raise CheckpointError(f'{dst} was written but {len(changed)} tensors read back '
                              f'differently (e.g. {changed[0]})')
