from .reconstruction_visualization_hook import ReconstructionVisualizationHook
from .scheduled_sampling_hook import ScheduledSamplingHook

__all__ = ['ReconstructionVisualizationHook', 'ScheduledSamplingHook']
