"""Writes the files an evaluation server takes, once a test run has ended."""
from __future__ import annotations

from mmengine.dist import is_main_process
from mmengine.hooks import Hook

from corrflow.evaluation.metrics.ytvos_metric import write_submission_zip
from corrflow.registry import HOOKS


@HOOKS.register_module()
class SubmissionZipHook(Hook):
    """After the test loop, zip the masks that each metric with a ``submission``
    (``(out_dir, entries, zip_name)``, e.g. :class:`~corrflow.evaluation.YouTubeVOSMetric`)
    wrote, on the main process. Metrics without one are left alone, so the hook sits in
    every config's runtime."""

    priority = 'LOW'

    def after_test_epoch(self, runner, metrics=None) -> None:
        if not is_main_process():
            return
        for metric in getattr(runner.test_evaluator, 'metrics', []):
            submission = getattr(metric, 'submission', None)
            if submission is None:
                continue
            path = write_submission_zip(*submission)
            runner.logger.info(f'submission: {len(submission[1])} files zipped in {path}')
