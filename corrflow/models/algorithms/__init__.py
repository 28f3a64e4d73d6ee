from .propagation_mixin import PropagationMixin
from .recursive_flow import RecursiveFlow, colour_cross_entropy
from .spa_then_temp import SpaThenTemp
from .time_cycle import TimeCycle

__all__ = ['PropagationMixin', 'RecursiveFlow', 'SpaThenTemp', 'TimeCycle',
           'colour_cross_entropy']
