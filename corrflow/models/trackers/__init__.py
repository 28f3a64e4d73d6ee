from .label_propagator import LabelPropagator
from .protocols import CorrFlowPropagation, TopKMemoryPropagation

__all__ = ['LabelPropagator', 'CorrFlowPropagation', 'TopKMemoryPropagation']
