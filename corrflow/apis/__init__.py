from .inference import init_model, propagate, read_first_labels, read_video

__all__ = ['init_model', 'propagate', 'read_first_labels', 'read_video']
