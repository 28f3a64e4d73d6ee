"""Feeds the run's progress to models with a progress-dependent schedule."""
from __future__ import annotations

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from corrflow.registry import HOOKS


@HOOKS.register_module()
class ScheduledSamplingHook(Hook):
    """Set ``model.set_train_progress(iter / max_iters)`` before every training iteration.

    The recursive model anneals its scheduled-sampling probability with this
    progress, so a resumed run continues with exactly the probability it had
    (the progress comes from the restored iteration counter).
    """

    priority = 'HIGH'

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        if hasattr(model, 'set_train_progress'):
            model.set_train_progress(runner.iter / max(runner.max_iters, 1))
