"""CorrFlow training steps on a CUDA GPU through mmengine's AmpOptimWrapper (bf16, fp16)."""
import copy

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import OptimWrapper

from helpers import build_training_model

from corrflow.registry import OPTIM_WRAPPERS
from corrflow.utils.precision import apply_precision, resolve_precision

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(),
                       reason='needs a CUDA GPU (torch.cuda.is_available() is False)'),
]


def test_apply_precision_picks_amp_optim_wrapper_on_cuda():
    bf16 = torch.cuda.is_bf16_supported()
    cfg = Config(dict(amp='auto', optim_wrapper=dict(
        type='OptimWrapper', optimizer=dict(type='Adam', lr=1e-3))))
    precision = apply_precision(cfg)
    assert precision.device_type == 'cuda'
    assert precision.dtype == (torch.bfloat16 if bf16 else torch.float16)
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper'
    assert cfg.optim_wrapper.dtype == ('bfloat16' if bf16 else 'float16')
    assert cfg.optim_wrapper.loss_scale == 'dynamic'
    assert resolve_precision('fp16', 'cuda').loss_scaling
    assert not resolve_precision('fp32', 'cuda').enabled


@pytest.mark.parametrize('dtype', ['bfloat16', 'float16'])
def test_two_amp_training_steps_on_cuda_follow_fp32(quantised_batch, dtype):
    if dtype == 'bfloat16' and not torch.cuda.is_bf16_supported():
        pytest.skip(f'GPU {torch.cuda.get_device_name()} does not support bf16')
    low_dtype = getattr(torch, dtype)
    torch.manual_seed(0)
    model = build_training_model().cuda()
    ref_model = copy.deepcopy(model)
    # the configuration apply_precision gives a GPU run: a dynamic loss scaler in both dtypes
    wrapper = OPTIM_WRAPPERS.build(dict(
        type='AmpOptimWrapper', dtype=dtype, loss_scale='dynamic',
        optimizer=torch.optim.Adam(model.parameters(), lr=1e-3)))
    ref_wrapper = OptimWrapper(optimizer=torch.optim.Adam(ref_model.parameters(), lr=1e-3))
    with torch.no_grad(), wrapper.optim_context(model):  # convolutions run in the low dtype
        assert model.embed(torch.rand(1, 3, 32, 32, device='cuda')).dtype == low_dtype
    scale_before = wrapper.loss_scaler.get_scale()
    before = [p.detach().clone() for p in model.parameters()]
    batches = [quantised_batch(B=2, T=3, H=64, W=64, seed=s) for s in range(2)]
    for step, data in enumerate(batches):
        seed = 100 + step  # the same bottleneck and scheduled-sampling draws in both runs
        torch.manual_seed(seed)
        low = model.train_step(data, wrapper)
        torch.manual_seed(seed)
        ref = ref_model.train_step(data, ref_wrapper)
        for key in ('loss_short', 'loss_cycle'):  # the losses come out fp32 and finite
            assert low[key].dtype == torch.float32 and torch.isfinite(low[key]), (key, low[key])
            assert torch.isfinite(ref[key])
        if step == 0:
            # same weights, same data: within 5 % of the fp32 CUDA losses (the bound of
            # tests/engine/test_amp_training.py; after one Adam step the runs part)
            for key in ('loss_short', 'loss_cycle'):
                assert low[key].item() == pytest.approx(ref[key].item(), rel=0.05), key
    # parameters and optimiser state stay fp32 and finite
    assert all(p.dtype == torch.float32 and torch.isfinite(p).all() for p in model.parameters())
    state = wrapper.optimizer.state_dict()['state']
    assert all(s['exp_avg'].dtype == torch.float32 for s in state.values())
    moved = sum(not torch.equal(a, p) for a, p in zip(before, model.parameters()))
    scale_after = wrapper.loss_scaler.get_scale()
    if dtype == 'bfloat16':
        assert moved > len(before) // 2  # bf16 has the range of fp32: no step is skipped
    else:
        # the scaler skips a step whose scaled fp16 gradients overflowed, and halves its scale
        assert moved > len(before) // 2 or scale_after < scale_before, (moved, scale_after)
        assert 0 < scale_after < float('inf')
