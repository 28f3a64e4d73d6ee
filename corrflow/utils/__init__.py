from .checkpoint import (SAFE_CHECKPOINT_GLOBALS, CheckpointError, allow_mmengine_checkpoints,
                         load_checkpoint_file)

__all__ = ['SAFE_CHECKPOINT_GLOBALS', 'CheckpointError', 'allow_mmengine_checkpoints',
           'load_checkpoint_file']
