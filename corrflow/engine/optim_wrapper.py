"""Optimiser wrapper for mixed precision on CPUs (bf16 autocast)."""
from __future__ import annotations

from contextlib import contextmanager

import torch
import torch.nn as nn
from mmengine.optim import OptimWrapper

from corrflow.registry import OPTIM_WRAPPERS
from corrflow.errors import ConfigError


@OPTIM_WRAPPERS.register_module()
class CPUAutocastOptimWrapper(OptimWrapper):
    """Runs the forward pass and the loss under ``torch.autocast('cpu', bf16)``.

    mmengine's ``AmpOptimWrapper`` serves GPUs (bf16, or fp16 with a loss
    scaler); this is its CPU counterpart. bf16 has fp32's exponent range, so
    gradients need no loss scaling; parameters, gradients and the optimiser
    state stay fp32. What autocast lowers to bf16 on a CPU: convolutions and
    matrix products (the model keeps softmax, losses and label maps in fp32).

    Args:
        dtype (str | torch.dtype): the autocast dtype; only bfloat16 (CPUs have
            no fp16 autocast worth using).
        **kwargs: the arguments of ``OptimWrapper``.
    """

    def __init__(self, dtype: str | torch.dtype = 'bfloat16', **kwargs) -> None:
        super().__init__(**kwargs)
        if isinstance(dtype, str):
            dtype = getattr(torch, dtype, None)
        if dtype != torch.bfloat16:
            raise ConfigError(f'CPUAutocastOptimWrapper runs bfloat16 autocast only, got {dtype}; '
                             'fp16 mixed precision needs a CUDA GPU (AmpOptimWrapper)')
        self.cast_dtype = dtype

    @contextmanager
    def optim_context(self, model: nn.Module):
        with super().optim_context(model), torch.autocast(device_type='cpu',
                                                          dtype=self.cast_dtype):
            yield
