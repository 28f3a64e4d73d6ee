"""Helpers of the command-line tools: distributed set-up on CPU, threads, one-line errors.

Library code never imports this module; the config checks it re-exports live in
:mod:`corrflow.utils.config_check`, the error types in :mod:`corrflow.errors`.
"""
from __future__ import annotations

import argparse
import gc
import os
import subprocess
import sys

import torch
import torch.distributed as dist
from mmengine.config import Config, ConfigDict

from corrflow.errors import CheckpointError, ConfigError  # noqa: F401 (re-exported)
from corrflow.utils.config_check import (  # noqa: F401 (re-exported for the tools)
    check_cfg_options, check_config_components, set_dataset_root)
from corrflow.utils.release_conversion import ReleaseFormat, convert_release

__all__ = ['ConfigError', 'available_cores', 'choose_threads', 'setup_cpu_distributed',
           'teardown_distributed', 'check_cfg_options', 'check_config_components',
           'set_dataset_root', 'user_error_message', 'setup_test_distributed',
           'run_with_one_line_errors', 'run_converter']


def setup_cpu_distributed(cfg: Config, launcher: str) -> None:
    """Start a gloo process group for a launcher when no GPU is present.

    mmengine's own initialisation calls ``torch.cuda.set_device`` and gives
    ``device_ids`` to DDP, both of which fail without a GPU. The group is
    initialised here (mmengine then leaves it alone) and DDP is configured
    with ``device_ids=None``.
    """
    if launcher == 'none' or torch.cuda.is_available():
        return
    if launcher == 'slurm':
        _slurm_env_to_torch_env()
    for key in ('RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT'):
        if key not in os.environ:
            raise ConfigError(f'--launcher {launcher} needs the environment variable {key}; '
                              'start the tool through tools/dist_train.sh (torchrun) or srun')
    if not dist.is_initialized():
        dist.init_process_group(backend='gloo')
    cfg.env_cfg = cfg.get('env_cfg', ConfigDict())
    cfg.env_cfg.dist_cfg = dict(backend='gloo')
    wrapper = cfg.get('model_wrapper_cfg') or ConfigDict(type='MMDistributedDataParallel')
    wrapper['device_ids'] = None
    cfg.model_wrapper_cfg = wrapper


def _slurm_env_to_torch_env() -> None:
    os.environ.setdefault('RANK', os.environ.get('SLURM_PROCID', '0'))
    os.environ.setdefault('WORLD_SIZE', os.environ.get('SLURM_NTASKS', '1'))
    os.environ.setdefault('LOCAL_RANK', os.environ.get('SLURM_LOCALID', '0'))
    os.environ.setdefault('MASTER_PORT', os.environ.get('PORT', '29500'))
    if 'MASTER_ADDR' not in os.environ and 'SLURM_NODELIST' in os.environ:
        first = subprocess.getoutput(
            f"scontrol show hostname {os.environ['SLURM_NODELIST']} | head -n1").strip()
        os.environ['MASTER_ADDR'] = first or '127.0.0.1'


def teardown_distributed(barrier: bool = True) -> None:
    """Leave the process group cleanly (avoids aborts of ranks at exit).

    Args:
        barrier (bool): wait for the other ranks first (skip it after an error,
            when they may never arrive).
    """
    gc.collect()
    if dist.is_available() and dist.is_initialized():
        if barrier:
            dist.barrier()
        dist.destroy_process_group()


def user_error_message(err: BaseException) -> str | None:
    """One-line message for errors caused by the user's input, else None.

    Input errors are recognised by their type: corrflow's data, config,
    checkpoint and precision errors, missing files and mmengine's config
    parsing errors (config contents are checked up front by
    :func:`check_config_components`, so that a wrong type or argument is a
    :class:`ConfigError`). Errors re-raised by a DataLoader worker carry the
    worker's traceback in their text; only its last line (the original
    message) is kept.
    """
    import pickle

    from mmengine.config.utils import ConfigParsingError

    from corrflow.errors import CheckpointError, DataError, PrecisionError

    user_types = (DataError, CheckpointError, ConfigError, PrecisionError, FileNotFoundError,
                  NotADirectoryError, ConfigParsingError)
    if isinstance(err, pickle.UnpicklingError):
        return ('a checkpoint was refused: it contains objects that are not plain tensors or '
                'allow-listed classes; only load checkpoints from sources you trust')
    if not isinstance(err, user_types):
        return None
    lines = [line.strip() for line in str(err).strip().splitlines() if line.strip()]
    if not lines:
        return type(err).__name__
    if lines[0].startswith('Caught '):  # re-raised from a DataLoader worker
        return lines[-1].split(': ', 1)[-1] if ': ' in lines[-1] else lines[-1]
    return ' '.join(lines)


def run_with_one_line_errors(func, user_errors: tuple = ()) -> int:
    """Call ``func()`` for a command-line tool; return its exit code.

    ``user_errors`` (the tool's own error types) and the input errors that
    :func:`user_error_message` recognises are printed as one ``error: ...``
    line on stderr and give exit code 1; anything else is a bug and keeps
    its traceback.
    """
    try:
        func()
    except user_errors as err:
        message = ' '.join(str(err).split()) or type(err).__name__
    except Exception as err:
        message = user_error_message(err)
        if message is None:
            raise
    else:
        return 0
    print(f'error: {message}', file=sys.stderr)
    return 1


def setup_test_distributed(launcher: str) -> None:
    """Start a process group for sharded evaluation (gloo on CPU, nccl on GPU).

    Evaluation needs no DDP wrapper: the group only serves to shard videos
    across ranks and gather the results on rank 0.
    """
    if launcher == 'none':
        return
    if launcher == 'slurm':
        _slurm_env_to_torch_env()
    for key in ('RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT'):
        if key not in os.environ:
            raise ConfigError(f'--launcher {launcher} needs the environment variable {key}; '
                              'start the tool through tools/dist_test.sh (torchrun) or srun')
    if torch.cuda.is_available():
        torch.cuda.set_device(int(os.environ.get('LOCAL_RANK', 0)) % torch.cuda.device_count())
    if not dist.is_initialized():
        dist.init_process_group(backend='nccl' if torch.cuda.is_available() else 'gloo')


THREAD_VARIABLES = ('OMP_NUM_THREADS', 'MKL_NUM_THREADS')


def available_cores() -> int:
    """CPU cores this process may run on (its affinity mask, else the machine's count)."""
    if hasattr(os, 'sched_getaffinity'):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def choose_threads(num_workers: int = 0) -> str:
    """Set torch's intra-op threads so that a run does not oversubscribe the CPU.

    Unless the user set ``OMP_NUM_THREADS`` (or ``MKL_NUM_THREADS``), torch gets the
    cores available to this process less those other processes keep busy (the one-minute
    load average), shared among the ranks a launcher started on this machine
    (``LOCAL_WORLD_SIZE``), and at least one. Torch's own default (every core) is slower on
    a loaded machine. The data-loader workers are named in the log but not subtracted: they
    mostly wait on a full queue (on an idle 2-core machine the demo ran 2.2-2.3 s per
    iteration with 2 threads beside its worker, 3.6-3.7 s with 1).

    Returns:
        str: the choice and why, for the log.
    """
    user = next((k for k in THREAD_VARIABLES if os.environ.get(k)), None)
    if user is not None:
        return f'torch threads {torch.get_num_threads()} ({user}={os.environ[user]})'
    cores = available_cores()
    ranks = max(1, int(os.environ.get('LOCAL_WORLD_SIZE', '1') or 1))
    busy = min(cores, int(os.getloadavg()[0] + 0.5)) if hasattr(os, 'getloadavg') else 0
    threads = max(1, (cores - busy) // ranks)
    torch.set_num_threads(threads)
    parts = [f'{cores} cores available']
    if busy:
        parts.append(f'about {busy} busy with other work (load average)')
    if ranks > 1:
        parts.append(f'{ranks} ranks on this machine')
    if num_workers:
        parts.append(f'{num_workers} data-loader worker{"s" if num_workers > 1 else ""}, '
                     'not counted')
    return (f'torch threads {threads} ({", ".join(parts)}; set OMP_NUM_THREADS to choose '
            'another number)')



def run_converter(fmt: ReleaseFormat, description: str, argv: list[str] | None = None) -> int:
    """The command line ``SRC DST [--fp16]`` of the ``tools/convert_*.py`` scripts.

    The problems and warnings that :func:`convert_release` returns or raises go to
    stderr, the summary to stdout. Returns the exit code.
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument('src', help='the release checkpoint')
    parser.add_argument('dst', help='the corrflow checkpoint to write')
    parser.add_argument('--fp16', action='store_true',
                        help='store floating-point tensors as float16 (half the size)')
    args = parser.parse_args(argv)
    try:
        meta = convert_release(args.src, args.dst, fmt, args.fp16)
    except (CheckpointError, OSError) as err:
        for line in getattr(err, 'problems', ()):
            print(line, file=sys.stderr)
        message = ' '.join(str(err).split()) or type(err).__name__
        print(f'error: {message}', file=sys.stderr)
        return 1
    for key in meta['unmatched_keys']:
        print(f'warning: release key without a corrflow name, not converted: {key}',
              file=sys.stderr)
    num = len(meta['converted_keys'])
    print(f'converted {num} tensors ({fmt.architecture}'
          f'{", float16" if args.fp16 else ""}) from {args.src}')
    if meta['filled_defaults']:
        print(f'{len(meta["filled_defaults"])} entries the release lacks were filled with '
              f'defaults (e.g. {meta["filled_defaults"][0]})')
    if meta['unmatched_keys']:
        print(f'{len(meta["unmatched_keys"])} release keys not converted (listed above)')
    if meta['dropped_entries']:
        print(f'dropped: {", ".join(meta["dropped_entries"])}')
    print(f'wrote {args.dst}; load it with tools/test.py CONFIG TASK {args.dst}')
    return 0
