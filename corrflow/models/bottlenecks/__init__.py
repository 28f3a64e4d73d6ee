from .colour_bottleneck import ColourBottleneck

__all__ = ['ColourBottleneck']
