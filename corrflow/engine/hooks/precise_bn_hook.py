"""Re-estimates the encoder's batch-norm statistics on clean training clips."""
from __future__ import annotations

from mmengine.hooks import Hook

from corrflow.engine.bn_recalibration import (calibration_batches, check_calibratable,
                                              recalibrate_bn)
from corrflow.engine.random_state import PositionSeededDataset, random_state_preserved
from corrflow.registry import HOOKS
from corrflow.errors import ConfigError


@HOOKS.register_module()
class PreciseBNHook(Hook):
    """Replace the running statistics by their estimate over clean training clips.

    At the last training iteration (before that iteration's checkpoint is
    written, so the saved weights carry the new statistics) and, with
    ``before_val``, before every validation, the encoder runs over
    ``num_batches`` batches of the training dataset as the test sees them:
    no bottleneck (colour dropout, jitter, dropped Lab channel), in the
    encoder passes the algorithm states (``clean_encoder_passes``). The
    statistics become the mean over the passes of each pass's mean and
    unbiased variance (``torch.optim.swa_utils.update_bn``), averaged over
    the ranks of a distributed run. The clips are the same in every run with
    the same ``seed``, and the training's random generators are left alone,
    so a resumed run stays bit-exact.

    ``num_batches=0`` turns the hook off: the checkpoint keeps the running
    statistics of training (the original recipes' behaviour).

    Args:
        num_batches (int): batches to estimate from (per rank); 0: off.
        batch_size (int | None): clips per batch; None takes the training
            dataloader's (the batch the statistics were meant for).
        seed (int): draws the clips and their random crops.
        before_val (bool): also re-estimate before every validation.
    """

    priority = 'NORMAL'  # before CheckpointHook (VERY_LOW) saves the last iteration

    def __init__(self, num_batches: int = 40, batch_size: int | None = None, seed: int = 0,
                 before_val: bool = False) -> None:
        if num_batches < 0:
            raise ConfigError(f'PreciseBNHook: num_batches must be >= 0 (0 turns it off), got '
                              f'{num_batches}')
        self.num_batches = num_batches
        self.batch_size = batch_size
        self.seed = seed
        self.every_validation = before_val

    def before_train(self, runner) -> None:
        if self.num_batches:
            check_calibratable(runner.model)  # fail at the start, not after the run

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if self.num_batches and self.is_last_train_iter(runner):
            self.recalibrate(runner)

    def before_val(self, runner) -> None:
        if self.num_batches and self.every_validation:
            self.recalibrate(runner)

    def recalibrate(self, runner) -> None:
        """Re-estimate now, from the training dataloader's dataset."""
        loader = runner.train_dataloader
        dataset = loader.dataset
        if isinstance(dataset, PositionSeededDataset):  # seeded here by position already
            dataset = dataset.inner
        batch_size = self.batch_size or loader.batch_size
        with random_state_preserved():
            batches = calibration_batches(dataset, loader.collate_fn, batch_size,
                                          self.num_batches, self.seed)
            used = recalibrate_bn(runner.model, batches)
        runner.logger.info(f'batch-norm statistics re-estimated on {used} batches of '
                           f'{batch_size} clean training clips (seed {self.seed})')
