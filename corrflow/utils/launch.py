"""Helpers of the command-line tools: distributed set-up on CPU, config checks."""
from __future__ import annotations

import difflib
import gc
import os
import subprocess
import sys
from typing import Any, Iterable

import torch
import torch.distributed as dist
from mmengine.config import Config, ConfigDict

__all__ = ['ConfigError', 'available_cores', 'choose_threads', 'setup_cpu_distributed',
           'teardown_distributed', 'check_cfg_options', 'check_config_components',
           'set_dataset_root', 'user_error_message', 'setup_test_distributed',
           'run_with_one_line_errors']


class ConfigError(ValueError):
    """A config or a command-line override is invalid."""


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


def _lookup(node: Any, parts: list[str]) -> tuple[bool, list[str]]:
    """Whether the dotted path exists; on failure, the keys available at the break."""
    for part in parts:
        if isinstance(node, dict):
            if part not in node:
                return False, [str(k) for k in node.keys()]
            node = node[part]
        elif isinstance(node, (list, tuple)) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return False, []
    return True, []


# Top-level keys the Runner reads besides its constructor arguments.
_RUNNER_EXTRA_KEYS = ('sync_bn', 'find_unused_parameters', 'model_wrapper_cfg', 'compile',
                      'auto_scale_lr', 'strategy', 'task', 'data_root')


def _component_params(type_name: Any) -> tuple[set[str], bool] | None:
    """Constructor parameters of a registered type (and whether it takes **kwargs).

    Follows ``**kwargs`` into base classes. None when the type is not found.
    """
    import inspect


    cls = type_name if not isinstance(type_name, str) else _registered(type_name)
    if cls is None:
        return None
    params: set[str] = set()
    targets = cls.__mro__ if inspect.isclass(cls) else (cls,)
    for target in targets:
        init = target.__init__ if inspect.isclass(target) else target
        try:
            sig = inspect.signature(init)
        except (TypeError, ValueError):
            return params, True
        params.update(n for n, p in sig.parameters.items()
                      if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL) and n != 'self')
        if not any(p.kind == p.VAR_KEYWORD for p in sig.parameters.values()):
            return params, False
        if target is object:
            break
    return params, True


_REGISTRY_NAMES = ('MODELS', 'DATASETS', 'TRANSFORMS', 'METRICS', 'HOOKS', 'TASK_UTILS', 'LOOPS',
                   'DATA_SAMPLERS', 'PARAM_SCHEDULERS', 'OPTIMIZERS', 'OPTIM_WRAPPERS',
                   'OPTIM_WRAPPER_CONSTRUCTORS', 'VISUALIZERS', 'VISBACKENDS', 'LOG_PROCESSORS',
                   'FUNCTIONS', 'EVALUATOR', 'WEIGHT_INITIALIZERS', 'MODEL_WRAPPERS', 'RUNNERS',
                   'RUNNER_CONSTRUCTORS', 'STRATEGIES', 'INFERENCERS')
_CONFIG_KEYS = ('type', '_scope_', '_delete_')


def _registered(type_name: str):
    """The class or function registered as ``type_name`` in any corrflow registry, or None."""
    from corrflow import registry

    for name in _REGISTRY_NAMES:
        try:
            found = getattr(registry, name).get(type_name)
        except (KeyError, AttributeError, ImportError):
            found = None
        if found is not None:
            return found
    return None


def _all_registered_names() -> list[str]:
    from corrflow import registry

    names: set[str] = set()
    for name in _REGISTRY_NAMES:
        reg = getattr(registry, name, None)
        while reg is not None:
            names.update(reg.module_dict)
            reg = reg.parent
    return sorted(names)


def check_config_components(node: Any, where: str = 'the config') -> None:
    """Refuse unknown component types and arguments a component does not take.

    Walks a config (or one of its parts): every dict with a string ``type``
    must name a registered component, and, when its constructor takes no
    ``**kwargs``, every other key must be one of its arguments. Run before
    anything is built, so that a typo is one :class:`ConfigError` naming the
    key, instead of an error raised deep inside the build.

    Raises:
        ConfigError: an unknown type, or an argument the component does not take.
    """
    def walk(item: Any, path: str) -> None:
        if isinstance(item, dict):
            kind = item.get('type')
            if isinstance(kind, str):
                _check_component(item, kind, path)
            for key, value in item.items():
                walk(value, f'{path}.{key}' if path else str(key))
        elif isinstance(item, (list, tuple)):
            for i, value in enumerate(item):
                walk(value, f'{path}.{i}')

    def _check_component(item: dict, kind: str, path: str) -> None:
        label = path or where
        if _registered(kind) is None:
            close = difflib.get_close_matches(kind.split('.')[-1], _all_registered_names(), n=3)
            hint = f' (did you mean {", ".join(close)}?)' if close else ''
            raise ConfigError(f'{label}.type: "{kind}" is not a registered component{hint}; '
                              'a component of your own needs its module in custom_imports')
        found = _component_params(kind)
        if found is None or found[1]:
            return  # takes **kwargs: its arguments cannot be checked here
        params = found[0]
        for key in item:
            if key in _CONFIG_KEYS or key in params:
                continue
            close = difflib.get_close_matches(str(key), sorted(params), n=3)
            hint = f'; did you mean {", ".join(close)}?' if close else ''
            raise ConfigError(f'{label}: {kind} takes no argument "{key}"{hint}')

    config = node._cfg_dict if isinstance(node, Config) else node
    walk(config, '')


def check_cfg_options(cfg: Config, options: dict | None) -> None:
    """Refuse ``--cfg-options`` keys that neither exist nor are accepted.

    A key that is not in the config is accepted only when its parent is a
    component (a dict with ``type``) whose constructor takes that argument, or
    when it is a top-level key the Runner reads. A typo such as
    ``train_cfg.max_iter=10`` would otherwise be added and silently ignored.
    """
    if not options:
        return
    from mmengine.runner import Runner

    for key in options:
        parts = key.split('.')
        ok, siblings = _lookup(cfg._cfg_dict, parts)
        if ok:
            continue
        parent_ok, _ = _lookup(cfg._cfg_dict, parts[:-1])
        leaf = parts[-1]
        candidates = list(siblings)
        if len(parts) == 1:
            runner_keys = _component_params(Runner)[0] | set(_RUNNER_EXTRA_KEYS)
            if leaf in runner_keys:
                continue
            candidates += sorted(runner_keys)
        elif parent_ok:
            node = cfg._cfg_dict
            for part in parts[:-1]:
                node = node[int(part)] if isinstance(node, (list, tuple)) else node[part]
            if isinstance(node, dict) and 'type' in node:
                found = _component_params(node['type'])
                if found is None or found[1] and not found[0] or leaf in found[0]:
                    continue  # unknown type, or an accepted argument
                candidates += sorted(found[0])
        close = difflib.get_close_matches(leaf, sorted(set(candidates)), n=3)
        hint = f'; did you mean {", ".join(".".join(parts[:-1] + [c]) for c in close)}?' \
            if close else ''
        raise ConfigError(f'--cfg-options: key "{key}" does not exist in the config{hint}')


def set_dataset_root(dataset_cfg: dict, root: str) -> int:
    """Set ``data_root`` of a dataset config and of all datasets it wraps.

    Returns:
        int: number of dataset configs that received the root.
    """
    count = 0
    if 'data_root' in dataset_cfg:
        dataset_cfg['data_root'] = root
        count += 1
    children: Iterable = dataset_cfg.get('datasets', []) or []
    if 'dataset' in dataset_cfg and isinstance(dataset_cfg['dataset'], dict):
        children = [*children, dataset_cfg['dataset']]
    for child in children:
        count += set_dataset_root(child, root)
    return count


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

    from corrflow.datasets.video_io import DataError
    from corrflow.utils.checkpoint import CheckpointError
    from corrflow.utils.precision import PrecisionError

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

    Unless the user set ``OMP_NUM_THREADS`` (or ``MKL_NUM_THREADS``), torch gets
    the cores available to this process, shared among the ranks a launcher
    started on this machine (``LOCAL_WORLD_SIZE``), less the data-loader
    workers and less the cores other processes keep busy (the one-minute load
    average), and at least one. Torch's own default (every core) is slower on
    a loaded machine: its threads wait for each other at every operation.

    Returns:
        str: the choice and why, for the log.
    """
    user = next((k for k in THREAD_VARIABLES if os.environ.get(k)), None)
    if user is not None:
        return f'torch threads {torch.get_num_threads()} ({user}={os.environ[user]})'
    cores = available_cores()
    ranks = max(1, int(os.environ.get('LOCAL_WORLD_SIZE', '1') or 1))
    per_rank = max(1, cores // ranks)
    busy = min(cores, int(os.getloadavg()[0] + 0.5)) if hasattr(os, 'getloadavg') else 0
    threads = max(1, (cores - busy) // ranks - num_workers)
    torch.set_num_threads(threads)
    parts = [f'{cores} cores available']
    if ranks > 1:
        parts.append(f'{per_rank} per rank')
    if busy:
        parts.append(f'about {busy} busy with other work (load average)')
    if num_workers:
        parts.append(f'{num_workers} data-loader worker{"s" if num_workers > 1 else ""}')
    return (f'torch threads {threads} ({", ".join(parts)}; set OMP_NUM_THREADS to choose '
            'another number)')
