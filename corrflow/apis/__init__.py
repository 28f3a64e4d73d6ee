from .inference import init_model, load_test_config, propagate, read_first_labels, read_video

__all__ = ['init_model', 'load_test_config', 'propagate', 'read_first_labels', 'read_video']
