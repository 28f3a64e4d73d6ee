"""Feeds the run's progress to the models whose training depends on it."""
from __future__ import annotations

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from corrflow.models.algorithms.train_progress import TrainProgressMixin
from corrflow.registry import HOOKS


@HOOKS.register_module()
class TrainProgressHook(Hook):
    """Before every training iteration, ``model.set_train_iteration(iter, max_iters)``.

    Serves every :class:`TrainProgressMixin` model: CorrFlow's ``RecursiveFlow`` anneals its
    scheduled-sampling probability with the progress, TimeCycle ends its frozen-encoder
    phase by the iteration. The counter is the runner's, restored on resume, so a resumed
    run continues exactly where it stopped. Other models are left alone.
    """

    priority = 'HIGH'

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        if isinstance(model, TrainProgressMixin):
            model.set_train_iteration(runner.iter, runner.max_iters)


@HOOKS.register_module()
class ScheduledSamplingHook(TrainProgressHook):
    """The earlier name of :class:`TrainProgressHook`, kept so that older configs build."""
