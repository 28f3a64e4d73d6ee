from .recursive_flow import RecursiveFlow, colour_cross_entropy

__all__ = ['RecursiveFlow', 'colour_cross_entropy']
