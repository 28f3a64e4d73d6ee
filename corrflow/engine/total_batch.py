"""The training schedule is set by the total batch (processes x clips per process).

A recipe states its learning-rate milestones in training samples seen over all
processes. :class:`SampleMultiStepLR` turns them into iterations of the total
batch, which :func:`apply_total_batch` computes from the number of processes
and ``train_dataloader.batch_size`` and writes into the config before the
Runner is built (``tools/train.py`` does this). Rounding rule, everywhere:
``iteration = samples // total_batch`` (floor), the last iteration boundary
that does not pass the sample count.
"""
from __future__ import annotations

import os
from typing import Any, Mapping, Sequence

from mmengine.config import Config
from mmengine.optim.scheduler import MultiStepLR
from mmengine.optim.scheduler.param_scheduler import INF

from corrflow.registry import PARAM_SCHEDULERS
from corrflow.errors import ConfigError

__all__ = ['SampleMultiStepLR', 'samples_to_iters', 'launcher_world_size', 'apply_total_batch']


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def samples_to_iters(milestones: Sequence[int], total_batch_size: int) -> list[int]:
    """Milestones in samples -> iterations of the total batch (floor).

    Args:
        milestones (Sequence[int]): samples seen over all processes; increasing
            positive integers.
        total_batch_size (int): samples per iteration over all processes.

    Returns:
        list[int]: ``[s // total_batch_size for s in milestones]``.
    """
    if not _is_int(total_batch_size) or total_batch_size <= 0:
        raise ConfigError(f'the total batch must be a positive integer (processes x '
                          f'train_dataloader.batch_size), got {total_batch_size!r}')
    if isinstance(milestones, (str, bytes)) or not isinstance(milestones, Sequence):
        raise ConfigError(f'lr milestones in samples must be a list of whole numbers, got '
                          f'{milestones!r}')
    for s in milestones:
        if not _is_int(s) or s <= 0:
            raise ConfigError(f'lr milestone {s!r} is not a positive whole number of samples; '
                              'write sample counts as integers, e.g. 400_000')
    if any(b <= a for a, b in zip(milestones, milestones[1:])):
        raise ConfigError(f'lr milestones in samples must increase, got {list(milestones)}')
    return [s // total_batch_size for s in milestones]


@PARAM_SCHEDULERS.register_module()
class SampleMultiStepLR(MultiStepLR):
    """Multiply the learning rate by ``gamma`` once ``milestones`` samples are seen.

    :class:`mmengine.optim.MultiStepLR` whose milestones are counted in training
    samples over all processes and stepped by iteration: the milestone ``s``
    falls at iteration ``s // total_batch_size``.

    Args:
        optimizer (OptimWrapper | Optimizer): the wrapped optimiser.
        milestones (Sequence[int]): samples seen at which the lr is multiplied by
            ``gamma``; increasing positive integers.
        total_batch_size (int, optional): samples per iteration over all
            processes (processes x ``train_dataloader.batch_size``). Filled in by
            :func:`apply_total_batch`; building without it is an error.
        gamma (float): multiplicative factor of the lr. Defaults to 0.1.
        begin (int): iteration at which the scheduler starts. Defaults to 0.
        end (int): iteration at which it stops (the Runner sets the run's
            length). Defaults to INF.
        last_step (int): index of the last step. Defaults to -1.
        by_epoch (bool): must be False: sample counts map to iterations.
        verbose (bool): print the lr at each update. Defaults to False.
    """

    def __init__(self, optimizer, milestones: Sequence[int], total_batch_size: int | None = None,
                 gamma: float = 0.1, begin: int = 0, end: int = INF, last_step: int = -1,
                 by_epoch: bool = False, verbose: bool = False) -> None:
        if by_epoch:
            raise ConfigError('SampleMultiStepLR counts samples and steps by iteration; '
                              'remove by_epoch=True (use MultiStepLR for epochs)')
        if total_batch_size is None:
            raise ConfigError(
                'SampleMultiStepLR needs total_batch_size (processes x '
                'train_dataloader.batch_size): tools/train.py sets it; elsewhere call '
                'corrflow.engine.apply_total_batch(cfg, world_size) before Runner.from_cfg')
        iters = samples_to_iters(milestones, total_batch_size)
        self.sample_milestones = list(milestones)
        self.total_batch_size = total_batch_size
        super().__init__(optimizer, milestones=iters, gamma=gamma, begin=begin, end=end,
                         last_step=last_step, by_epoch=False, verbose=verbose)

    def load_state_dict(self, state_dict: dict) -> None:
        """Resume; refuses a checkpoint trained at another total batch.

        Its milestones (and iteration counter) are iterations of the old total
        batch: resuming on another number of processes would move them.
        """
        saved = state_dict.get('total_batch_size', self.total_batch_size)
        if saved != self.total_batch_size:
            raise ConfigError(
                f'the checkpoint was trained at a total batch of {saved}, this run has '
                f'{self.total_batch_size} (processes x train_dataloader.batch_size); resume '
                'with the same total batch')
        super().load_state_dict(state_dict)


def launcher_world_size(launcher: str, environ: Mapping[str, str] | None = None) -> int:
    """Number of training processes a launcher starts, from its environment.

    Read before the Runner exists (on GPUs mmengine starts the process group
    inside the Runner): ``torchrun`` sets ``WORLD_SIZE``, ``srun`` sets
    ``SLURM_NTASKS``; launcher ``none`` is one process.

    Args:
        launcher (str): ``'none'``, ``'pytorch'`` or ``'slurm'``.
        environ (Mapping[str, str], optional): the environment; ``os.environ``
            when None.
    """
    environ = os.environ if environ is None else environ
    keys = {'none': (), 'pytorch': ('WORLD_SIZE',), 'slurm': ('SLURM_NTASKS', 'WORLD_SIZE')}
    if launcher not in keys:
        raise ConfigError(f'unknown launcher {launcher!r}; use none, pytorch or slurm')
    if launcher == 'none':
        return 1
    key = next((k for k in keys[launcher] if k in environ), None)
    if key is None:
        raise ConfigError(f'--launcher {launcher} needs the environment variable '
                          f'{keys[launcher][0]}; start the tool through tools/dist_train.sh '
                          '(torchrun) or srun')
    value = environ[key]
    if not value.isdigit() or int(value) <= 0:
        raise ConfigError(f'the environment variable {key}={value!r} is not a positive number '
                          'of processes')
    return int(value)


def _schedulers(param_scheduler: Any) -> list:
    """Scheduler configs of ``cfg.param_scheduler`` (a dict, a list, or one per optimiser)."""
    if param_scheduler is None:
        return []
    if isinstance(param_scheduler, dict):
        if 'type' in param_scheduler:
            return [param_scheduler]
        return [s for value in param_scheduler.values() for s in _schedulers(value)]
    return [s for s in param_scheduler if isinstance(s, dict)]


def _type_name(scheduler: dict) -> str:
    kind = scheduler.get('type')
    return kind if isinstance(kind, str) else getattr(kind, '__name__', str(kind))


def apply_total_batch(cfg: Config, world_size: int) -> list[str]:
    """Set the total batch of a training config; describe the resulting schedule.

    Writes ``total_batch_size = world_size x train_dataloader.batch_size`` into
    every :class:`SampleMultiStepLR` of ``cfg.param_scheduler`` and checks its
    milestones and ``auto_scale_lr``, so that a bad value is reported before
    anything is built.

    Args:
        cfg (Config): the training config, after command-line overrides; edited
            in place.
        world_size (int): number of training processes
            (:func:`launcher_world_size`).

    Returns:
        list[str]: lines for the training log: the total batch, the lr
        milestones in iterations (and samples) and the lr with or without
        ``auto_scale_lr``.
    """
    loader = cfg.get('train_dataloader') or {}
    batch = loader.get('batch_size')
    if not _is_int(batch) or batch <= 0:
        raise ConfigError(f'train_dataloader.batch_size must be a positive integer (clips per '
                          f'process), got {batch!r}')
    if not _is_int(world_size) or world_size <= 0:
        raise ConfigError(f'the number of processes must be a positive integer, got '
                          f'{world_size!r}')
    total = world_size * batch
    lines = [f'total batch {total} = {world_size} process{"es" if world_size > 1 else ""} x '
             f'{batch} clips (train_dataloader.batch_size)']

    for scheduler in _schedulers(cfg.get('param_scheduler')):
        name = _type_name(scheduler)
        gamma = scheduler.get('gamma', 0.1)
        if name == 'SampleMultiStepLR':
            samples = scheduler.get('milestones')
            iters = samples_to_iters(samples, total)
            if scheduler.get('by_epoch', False):
                raise ConfigError('SampleMultiStepLR counts samples and steps by iteration; '
                                  'remove by_epoch=True (use MultiStepLR for epochs)')
            scheduler['total_batch_size'] = total
            # the Runner reads it to give the scheduler the run's length in iterations
            scheduler['by_epoch'] = False
            lines.append(f'lr x{gamma} at iterations {", ".join(map(str, iters))} = '
                         f'{", ".join(map(str, samples))} samples // total batch {total} '
                         f'({name})')
        elif 'milestones' in scheduler:
            steps = list(scheduler['milestones'])
            if scheduler.get('by_epoch', True):
                lines.append(f'lr x{gamma} at epochs {", ".join(map(str, steps))} ({name})')
            else:
                seen = ', '.join(str(s * total) for s in steps)
                lines.append(f'lr x{gamma} at iterations {", ".join(map(str, steps))} = '
                             f'{seen} samples at total batch {total} ({name})')

    if len(lines) == 1:
        lines.append('lr milestones: none')

    lr = (cfg.get('optim_wrapper') or {}).get('optimizer', {}).get('lr')
    lr = lr if isinstance(lr, (int, float)) else None
    auto = cfg.get('auto_scale_lr') or {}
    base = auto.get('base_batch_size')
    if auto.get('enable', False):
        if not _is_int(base) or base <= 0:
            raise ConfigError(f'auto_scale_lr.base_batch_size must be a positive integer (the '
                              f'total batch the lr is set for), got {base!r}')
        scaled = f'lr {lr * total / base:.4g} = {lr:g}' if lr is not None else 'the lr'
        lines.append(f'auto_scale_lr on: {scaled} x total batch {total} / base batch {base}')
    else:
        hint = f'; --auto-scale-lr scales it by total batch / {base}' if base else ''
        lines.append(f'auto_scale_lr off: lr {lr:g}{hint}' if lr is not None
                     else f'auto_scale_lr off{hint}')
    return lines
