"""Which precision a run gets on which hardware, and the impossible combinations."""
import pytest
import torch
from mmengine.config import Config

from corrflow.utils import precision as P


@pytest.fixture
def cpu_flags(monkeypatch):
    """Pretend the CPU lists the given /proc/cpuinfo flags."""
    monkeypatch.delenv('CORRFLOW_CPU_BF16', raising=False)

    def set_flags(*flags):
        info = {'model name': 'Test CPU', 'flags': ' '.join(('fpu', 'avx2') + flags)}
        monkeypatch.setattr(P, '_cpuinfo', lambda: info)
    return set_flags


@pytest.mark.parametrize('flags, units', [(('amx_tile', 'amx_bf16'), 'amx_bf16'),
                                          (('avx512f', 'avx512_bf16'), 'avx512_bf16'),
                                          (('avx512f', 'avx512_vnni'), None)])
def test_cpu_bf16_units_from_cpuinfo_flags(cpu_flags, flags, units):
    cpu_flags(*flags)
    assert P.cpu_bf16_units() == units
    assert f'bf16 matrix units: {units or "none"}' in P.cpu_description()


def test_auto_on_cpu_is_bf16_with_matrix_units_else_fp32_with_one_warning(cpu_flags):
    cpu_flags('amx_bf16')
    got = P.resolve_precision('auto', 'cpu')
    assert (got.dtype, got.warning, got.enabled, got.loss_scaling) == (
        torch.bfloat16, None, True, False)
    assert 'amx_bf16' in got.describe()
    cpu_flags('avx512f')
    got = P.resolve_precision(True, 'cpu')
    assert got.dtype == torch.float32 and not got.enabled
    assert got.warning and '\n' not in got.warning and 'fp32' in got.warning


def test_explicit_bf16_on_cpu_without_units_runs_but_warns(cpu_flags):
    cpu_flags()
    got = P.resolve_precision('bf16', 'cpu')
    assert got.dtype == torch.bfloat16
    assert 'emulated' in got.warning


def test_environment_overrides_detection(cpu_flags, monkeypatch):
    cpu_flags('amx_bf16')
    monkeypatch.setenv('CORRFLOW_CPU_BF16', '0')
    assert P.resolve_precision('auto', 'cpu').dtype == torch.float32
    monkeypatch.setenv('CORRFLOW_CPU_BF16', '1')
    assert P.resolve_precision('auto', 'cpu').dtype == torch.bfloat16
    monkeypatch.setenv('CORRFLOW_CPU_BF16', 'yes')
    with pytest.raises(P.PrecisionError, match='CORRFLOW_CPU_BF16 must be 0 or 1'):
        P.resolve_precision('auto', 'cpu')


@pytest.mark.parametrize('request_', [None, False, 'fp32', 'off', 'float32'])
def test_off_is_fp32_everywhere(request_):
    got = P.resolve_precision(request_, 'cpu')
    assert got.dtype == torch.float32 and got.warning is None
    with got.autocast():
        assert not torch.is_autocast_enabled('cpu')


def test_impossible_and_unknown_requests_give_one_clear_error():
    with pytest.raises(P.PrecisionError, match='fp16 autocast needs a CUDA GPU'):
        P.resolve_precision('fp16', 'cpu')
    with pytest.raises(P.PrecisionError, match='amp must be one of auto, bf16, fp16, fp32'):
        P.resolve_precision('int8', 'cpu')


def test_gpu_rules(monkeypatch):
    monkeypatch.setattr(P, '_cuda_bf16_native', lambda device: (True, 'Test GPU'))
    got = P.resolve_precision('auto', 'cuda')
    assert got.dtype == torch.bfloat16 and not got.loss_scaling and 'Test GPU' in got.reason
    assert P.resolve_precision('fp16', 'cuda').loss_scaling
    monkeypatch.setattr(P, '_cuda_bf16_native', lambda device: (False, 'Test GPU'))
    got = P.resolve_precision('auto', 'cuda')
    assert got.dtype == torch.float16 and got.loss_scaling and 'loss scaling' in got.reason
    with pytest.raises(P.PrecisionError, match='does not support bf16'):
        P.resolve_precision('bf16', 'cuda')


def test_apply_precision_picks_the_optimiser_wrapper(cpu_flags, monkeypatch):
    def config(amp, **wrapper):
        return Config(dict(amp=amp, optim_wrapper=dict(type='OptimWrapper', **wrapper,
                                                        optimizer=dict(type='Adam', lr=1e-3))))
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    cpu_flags('amx_bf16')
    cfg = config('auto')
    assert P.apply_precision(cfg).dtype == torch.bfloat16
    assert (cfg.optim_wrapper.type, cfg.optim_wrapper.dtype) == ('CPUAutocastOptimWrapper',
                                                                 'bfloat16')
    cfg = config(None)
    assert P.apply_precision(cfg).dtype == torch.float32
    assert cfg.optim_wrapper.type == 'OptimWrapper'
    cpu_flags()
    cfg = config('auto')
    assert P.apply_precision(cfg).warning and cfg.optim_wrapper.type == 'OptimWrapper'
    cfg = Config(dict(amp='auto', optim_wrapper=dict(type='DeepSpeedOptimWrapper')))
    cpu_flags('amx_bf16')
    with pytest.raises(P.PrecisionError, match='cannot be switched'):
        P.apply_precision(cfg)
    # on a GPU: mmengine's AmpOptimWrapper, fp16 with a dynamic loss scaler
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    monkeypatch.setattr(P, '_cuda_bf16_native', lambda device: (False, 'Test GPU'))
    cfg = config('auto')
    assert P.apply_precision(cfg).dtype == torch.float16
    assert (cfg.optim_wrapper.type, cfg.optim_wrapper.dtype, cfg.optim_wrapper.loss_scale) == (
        'AmpOptimWrapper', 'float16', 'dynamic')


def test_full_precision_keeps_float64():
    assert P.full_precision(torch.float64) == torch.float64
    for dtype in (torch.float32, torch.bfloat16, torch.float16):
        assert P.full_precision(dtype) == torch.float32
