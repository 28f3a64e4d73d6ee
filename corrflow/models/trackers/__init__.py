from .label_propagator import LabelPropagator
from .protocols import (CorrFlowPropagation, PropagationProtocol, TimeCyclePropagation,
                        TopKMemoryPropagation)

__all__ = ['LabelPropagator', 'PropagationProtocol', 'CorrFlowPropagation',
           'TopKMemoryPropagation', 'TimeCyclePropagation']
