"""corrflow: self-supervised video correspondence, training and label propagation."""
from .version import __version__

__all__ = ['__version__']
