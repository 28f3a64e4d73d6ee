from .base import BaseClipAlgorithm, build_module
from .crw import CRW
from .propagation_mixin import PropagationMixin
from .recursive_flow import RecursiveFlow, colour_cross_entropy
from .spa_then_temp import SpaThenTemp
from .time_cycle import TimeCycle
from .train_progress import ReconstructionRecordMixin, TrainProgressMixin

__all__ = ['BaseClipAlgorithm', 'CRW', 'build_module', 'PropagationMixin', 'RecursiveFlow',
           'SpaThenTemp', 'TimeCycle', 'colour_cross_entropy', 'TrainProgressMixin',
           'ReconstructionRecordMixin']
