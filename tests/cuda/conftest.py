"""Shared set-up of the CUDA tests (``pytest -m cuda``; they skip where no GPU is visible)."""
import pytest
import torch


@pytest.fixture(autouse=True)
def ieee_fp32():
    """fp32 means IEEE fp32 in these tests: no TF32 in matrix products or cuDNN convolutions.

    PyTorch lets cuDNN convolutions use TF32 (10-bit mantissa) on Ampere and newer GPUs by
    default, which would make a "CUDA fp32 vs CPU fp32" comparison one of TF32 against fp32.
    """
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    yield
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved
