"""The Runner of corrflow's tools: mmengine's, with a console that starts at the work.

mmengine's Runner logs its set-up while it is built: the system and runtime
environment (~35 lines), the whole config (100-300 lines) and the order of the
hooks (~90 lines). They belong in the log file, where a run is audited later;
on the console they push the first iteration, and any early message, hundreds
of lines down. :class:`CorrflowRunner` writes them to the log file only and
puts one line on the console that says where they are. Everything else is
logged as by mmengine.
"""
from __future__ import annotations

import logging

from mmengine.runner import Runner

from corrflow.registry import RUNNERS
from corrflow.utils.checkpoint import allow_mmengine_checkpoints

__all__ = ['CorrflowRunner', 'SetupDumpFilter']

# How each of the Runner's set-up dumps starts (mmengine 0.10: Runner._log_env and
# Runner.__init__).
SETUP_DUMPS = {
    'System environment:': 'environment',
    'Config:\n': 'config',
    'Hooks will be executed in the following order:': 'hook order',
}


class SetupDumpFilter(logging.Filter):
    """A console-handler filter that holds back the Runner's set-up dumps.

    The records still reach the other handlers (the log file). ``held`` names
    what was held back, in order.
    """

    def __init__(self) -> None:
        super().__init__()
        self.held: list[str] = []

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.INFO:
            return True
        message = record.getMessage().lstrip('\n-')
        for start, name in SETUP_DUMPS.items():
            if message.startswith(start):
                self.held.append(name)
                return False
        return True


def _console_handlers(logger: logging.Logger) -> list[logging.Handler]:
    return [h for h in logger.handlers
            if isinstance(h, logging.StreamHandler) and not isinstance(h, logging.FileHandler)]


@RUNNERS.register_module()
class CorrflowRunner(Runner):
    """mmengine's Runner with its set-up dumps kept to the log file, writing checkpoints
    that load with ``torch.load(weights_only=True)``.

    ``configs/_base_/default_runtime.py`` selects it (``runner_type``), so mmengine-style
    launchers build it too; corrflow's tools always use it.
    """

    def build_logger(self, log_level: int | str = 'INFO', log_file: str | None = None,
                     **kwargs):
        logger = super().build_logger(log_level=log_level, log_file=log_file, **kwargs)
        self._setup_filter = SetupDumpFilter()
        for handler in _console_handlers(logger):
            handler.addFilter(self._setup_filter)
        return logger

    def __init__(self, *args, **kwargs) -> None:
        # The checkpoints this run writes and resumes from must load with
        # torch.load(weights_only=True): allow-list the classes mmengine puts in them
        # (corrflow.utils.checkpoint explains which, and why no others).
        allow_mmengine_checkpoints()
        super().__init__(*args, **kwargs)
        held = self._setup_filter.held
        files = [h.baseFilename for h in self.logger.handlers
                 if isinstance(h, logging.FileHandler)]
        if held and files:
            self.logger.info(f'{", ".join(dict.fromkeys(held))}: in {files[0]}')
