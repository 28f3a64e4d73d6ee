from .propagation_mixin import PropagationMixin
from .recursive_flow import RecursiveFlow, colour_cross_entropy
from .time_cycle import TimeCycle

__all__ = ['PropagationMixin', 'RecursiveFlow', 'TimeCycle', 'colour_cross_entropy']
