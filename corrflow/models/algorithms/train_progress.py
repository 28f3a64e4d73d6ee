"""How a model learns where its training run is, and how it hands out what it reconstructed.

One mechanism for both: a model declares the capability by its base class, and the hook
that serves it checks that class. The run's position reaches a model only through
:class:`~corrflow.engine.TrainProgressHook`, which sets it before every training iteration
from the runner's counter (restored on resume, so a resumed run continues exactly); no
model reads a global message hub.
"""
from __future__ import annotations

__all__ = ['TrainProgressMixin', 'ReconstructionRecordMixin']


class TrainProgressMixin:
    """A model whose training depends on how far the run is.

    ``train_iteration`` counts the iterations done before the current one and
    ``max_train_iters`` is the run's length; :attr:`train_progress` is their ratio in
    [0, 1]. Before the hook sets them (a model used outside a run), the run is at its start.
    """

    train_iteration: int = 0
    max_train_iters: int = 1

    def set_train_iteration(self, iteration: int, max_iters: int) -> None:
        """Set the iterations done and the run's length (at least 1)."""
        self.train_iteration = max(int(iteration), 0)
        self.max_train_iters = max(int(max_iters), 1)

    @property
    def train_progress(self) -> float:
        """The fraction of training done, in [0, 1]."""
        return min(self.train_iteration / self.max_train_iters, 1.0)


class ReconstructionRecordMixin:
    """A model that can keep what one training step reconstructed, for a visualisation hook.

    The hook calls :meth:`record_next_loss`; the model's next loss computation stores a dict
    with :meth:`keep_record` (only if asked), and the hook takes it with :meth:`pop_record`.
    """

    _record_next: bool = False
    _record: dict | None = None

    def record_next_loss(self) -> None:
        """Keep the inputs, targets and predictions of the next loss call."""
        self._record_next = True

    def wants_record(self) -> bool:
        """Whether the current loss call should keep a record."""
        return self._record_next

    def keep_record(self, record: dict) -> None:
        """Store the record of this loss call (called by the model, once asked)."""
        self._record, self._record_next = record, False

    def pop_record(self) -> dict | None:
        """Return and forget the kept record (None if there is none)."""
        record, self._record = self._record, None
        return record
