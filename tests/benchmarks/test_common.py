"""The precision and GEMM-rate helpers every benchmark shares (benchmarks/common.py)."""
from __future__ import annotations

import pytest
import torch

from benchmarks.common import (bf16_support, gemm_line, gemm_rates, machine_info, machine_line,
                               resolve_precisions)
from corrflow.utils.precision import PrecisionError


def test_resolve_precisions_orders_fp32_first_and_drops_repeats():
    precisions = resolve_precisions(['bf16', 'fp32', 'bf16'], 'cpu')
    assert list(precisions) == ['fp32', 'bf16']
    assert precisions['fp32'].dtype == torch.float32
    assert precisions['bf16'].dtype == torch.bfloat16
    assert list(resolve_precisions(None, 'cpu')) == ['fp32', 'bf16']  # the CPU default


def test_fp16_is_refused_on_a_cpu():
    with pytest.raises(PrecisionError, match='fp16'):
        resolve_precisions(['fp32', 'fp16'], 'cpu')


@pytest.mark.parametrize('flag, word', [('1', 'native'), ('0', 'emulated')])
def test_bf16_support_follows_the_cpu_detection(monkeypatch, flag, word):
    monkeypatch.setenv('CORRFLOW_CPU_BF16', flag)
    assert bf16_support('cpu').startswith(word)
    info = machine_info('cpu')
    assert info['bf16'].startswith(word) and 'flags:' in info['cpu']
    assert f'bf16 on cpu: {word}' in machine_line(info)


def test_gemm_rates_in_both_dtypes():
    rates = gemm_rates(['fp32', 'bf16'], size=64, repeat=1, warmup=0)
    assert list(rates) == ['fp32', 'bf16']
    assert all(r['gflops'] > 0 and r['size'] == 64 for r in rates.values())
    line = gemm_line(rates, threads=1)
    assert line.startswith('GEMM 64x64 torch.mm (1 thread): fp32 ') and 'x fp32' in line
