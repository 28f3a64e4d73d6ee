from .checkpoint import (SAFE_CHECKPOINT_GLOBALS, CheckpointError, allow_mmengine_checkpoints,
                         extract_state_dict, file_sha256, load_checkpoint_file,
                         load_model_weights, write_weights)

__all__ = ['SAFE_CHECKPOINT_GLOBALS', 'CheckpointError', 'allow_mmengine_checkpoints',
           'extract_state_dict', 'file_sha256', 'load_checkpoint_file', 'load_model_weights',
           'write_weights']
