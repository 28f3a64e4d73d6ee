"""Validation and testing of training algorithms by label propagation."""
from __future__ import annotations

from corrflow.models.trackers.label_propagator import LabelPropagator

__all__ = ['PropagationMixin']


class PropagationMixin:
    """Gives a training algorithm with ``backbone``, ``neck`` and ``propagation``
    (keyword arguments of :class:`LabelPropagator` other than the encoder) the
    mmengine ``predict`` / ``val_step`` / ``test_step`` of label propagation."""

    def as_propagator(self) -> LabelPropagator:
        """The :class:`LabelPropagator` sharing this model's backbone and neck.

        Built on first use and kept for the rest of the run (every validation
        batch reuses it). It is held outside the module tree, so it adds no
        entries to the state dict and follows the shared modules' weights and
        device.
        """
        propagator = self.__dict__.get('_propagator')
        if propagator is None:
            backbone, neck = self.propagation_encoder()
            propagator = LabelPropagator(backbone=backbone, neck=neck,
                                         data_preprocessor=dict(type='VideoDataPreprocessor'),
                                         **self.propagation)
            self.__dict__['_propagator'] = propagator  # not a submodule: no second copy
        propagator.train(self.training)
        return propagator

    def propagation_encoder(self):
        """(backbone, neck) that propagation embeds frames with (default: the model's own)."""
        return self.backbone, self.neck

    def predict(self, inputs, data_samples) -> list[dict]:
        """Propagate first-frame labels through whole videos (see ``LabelPropagator``)."""
        return self.as_propagator().predict(inputs, data_samples)

    def val_step(self, data: dict) -> list[dict]:
        """Validation on whole videos: no clip batching, frames stay on the CPU."""
        data = self.as_propagator().data_preprocessor(data, False)
        return self.predict(data['inputs'], data['data_samples'])

    def test_step(self, data: dict) -> list[dict]:
        return self.val_step(data)
