"""Mixed precision: which dtype a run computes in, decided once per device.

One switch (``--amp`` on the tools, ``amp`` in a config) asks for mixed
precision; :func:`resolve_precision` turns the request into a
:class:`Precision` for the device at hand:

==============  ===========================================  ==========================
request         CUDA GPU                                     CPU
==============  ===========================================  ==========================
``None``        fp32                                         fp32
``'auto'``      bf16 where the GPU supports it, else fp16    bf16 where the CPU has bf16
                with loss scaling                            matrix units, else fp32
                                                             with one warning
``'bf16'``      bf16 (error on a GPU without it)             bf16 (a warning where it is
                                                             emulated: slower than fp32)
``'fp16'``      fp16 with loss scaling                       error: no fp16 autocast on
                                                             CPUs
==============  ===========================================  ==========================

A CPU has bf16 matrix units when ``/proc/cpuinfo`` lists ``amx_bf16`` (Intel
AMX) or ``avx512_bf16`` (bf16 dot products of AVX-512). Elsewhere oneDNN emulates
bf16 and a bf16 product is several times slower than fp32, so ``'auto'`` stays in
fp32. The environment variable ``CORRFLOW_CPU_BF16`` (``1``/``0``) overrides the
detection, e.g. on a CPU whose flags a hypervisor hides.

What runs in the low-precision dtype (the parts that are safe in it for this
model): convolutions, the attention's affinity and aggregation products (both
with fp32 accumulation). Softmax, logarithms, cross-entropy, the
scheduled-sampling mix, label read-out and metrics stay in fp32.
"""
from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from functools import lru_cache

import torch
from corrflow.errors import PrecisionError  # noqa: F401 (re-exported)

__all__ = ['Precision', 'PrecisionError', 'cpu_bf16_units', 'resolve_precision',
           'AMP_CHOICES', 'autocast_dtype', 'autocast_off', 'full_precision', 'apply_precision',
           'cpu_description']

#: Values of ``--amp`` / the config's ``amp``.
AMP_CHOICES = ('auto', 'bf16', 'fp16', 'fp32')
_DTYPES = {'fp32': torch.float32, 'bf16': torch.bfloat16, 'fp16': torch.float16}
_NAMES = {v: k for k, v in _DTYPES.items()}
_CPU_FLAGS = ('amx_bf16', 'avx512_bf16')


@dataclass(frozen=True)
class Precision:
    """The dtype a run computes in on one device type.

    Attributes:
        device_type (str): ``'cpu'`` or ``'cuda'``.
        dtype (torch.dtype): float32, bfloat16 or float16.
        reason (str): why, in words (logged beside every figure of the run).
        warning (str | None): one line to show the user, when the request was
            not met as asked or will be slow.
    """

    device_type: str
    dtype: torch.dtype
    reason: str
    warning: str | None = None

    @property
    def name(self) -> str:
        """``'fp32'``, ``'bf16'`` or ``'fp16'``."""
        return _NAMES[self.dtype]

    @property
    def enabled(self) -> bool:
        """Whether autocast is on (any dtype but fp32)."""
        return self.dtype != torch.float32

    @property
    def loss_scaling(self) -> bool:
        """fp16 gradients underflow without a loss scaler; bf16 ones do not."""
        return self.dtype == torch.float16

    def autocast(self):
        """A ``torch.autocast`` context for this precision (a no-op in fp32)."""
        if not self.enabled:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device_type, dtype=self.dtype)

    def describe(self) -> str:
        return f'{self.name} ({self.reason})'


@lru_cache(maxsize=1)
def _cpuinfo() -> dict[str, str]:
    """The first processor's fields of ``/proc/cpuinfo`` (empty where there is none)."""
    fields: dict[str, str] = {}
    try:
        with open('/proc/cpuinfo', encoding='utf-8', errors='replace') as f:
            for line in f:
                if not line.strip():
                    if fields:
                        break
                    continue
                key, _, value = line.partition(':')
                fields.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    return fields


def _cpuinfo_flags() -> frozenset[str] | None:
    flags = _cpuinfo().get('flags')
    return None if flags is None else frozenset(flags.split())


def cpu_description() -> str:
    """The CPU in words, for every speed figure: model, cores, bf16 and AVX-512 flags."""
    import platform

    info = _cpuinfo()
    model = info.get('model name') or platform.processor() or platform.machine()
    flags = _cpuinfo_flags() or frozenset()
    wanted = ('avx2', 'avx512f', 'avx512_vnni', 'avx512_bf16', 'amx_tile', 'amx_bf16',
              'amx_int8')
    shown = [f for f in wanted if f in flags]
    units = cpu_bf16_units()
    return (f'CPU {model}, {os.cpu_count()} logical cores, torch threads '
            f'{torch.get_num_threads()}, flags: {" ".join(shown) or "none of interest"}; '
            f'bf16 matrix units: {units or "none"}')


def cpu_bf16_units() -> str | None:
    """The CPU's bf16 matrix feature (``'amx_bf16'``, ``'avx512_bf16'``) or None.

    ``CORRFLOW_CPU_BF16=1`` reports ``'CORRFLOW_CPU_BF16=1'``, ``CORRFLOW_CPU_BF16=0`` None.
    """
    forced = os.environ.get('CORRFLOW_CPU_BF16', '').strip()
    if forced in ('0', '1'):
        return 'CORRFLOW_CPU_BF16=1' if forced == '1' else None
    if forced:
        raise PrecisionError(f'CORRFLOW_CPU_BF16 must be 0 or 1, got {forced!r}')
    flags = _cpuinfo_flags()
    if not flags:
        return None
    for flag in _CPU_FLAGS:
        if flag in flags:
            return flag
    return None


def _cuda_bf16_native(device: torch.device) -> tuple[bool, str]:
    """Whether the GPU ``device`` computes bf16 natively (Ampere and later), and its name.

    Emulated bf16 (older GPUs) is slower than fp16 with a loss scaler, so it does not count.
    """
    with torch.cuda.device(device):
        return (torch.cuda.is_bf16_supported(including_emulation=False),
                torch.cuda.get_device_name())


def _normalise_request(request) -> str:
    if request is None or request is False:
        return 'fp32'
    if request is True:
        return 'auto'
    text = str(request).strip().lower()
    aliases = {'float32': 'fp32', 'bfloat16': 'bf16', 'float16': 'fp16', 'none': 'fp32',
               'off': 'fp32', 'on': 'auto', 'true': 'auto', 'false': 'fp32'}
    text = aliases.get(text, text)
    if text not in AMP_CHOICES:
        raise PrecisionError(f'amp must be one of {", ".join(AMP_CHOICES)} (or None), '
                             f'got {request!r}')
    return text


def resolve_precision(request, device: torch.device | str | None = None) -> Precision:
    """Decide the precision of a run (see the module doc for the rules).

    Args:
        request: ``None``/``False``/``'fp32'``, ``True``/``'auto'``, ``'bf16'``
            or ``'fp16'``.
        device: where the model runs (default: CUDA when available, else CPU).

    Returns:
        Precision: with ``warning`` set when the user should be told something.

    Raises:
        PrecisionError: for a combination the device cannot run.
    """
    if device is None:
        device = 'cuda' if torch.cuda.is_available() else 'cpu'
    device_type = torch.device(device).type
    mode = _normalise_request(request)
    if mode == 'fp32':
        return Precision(device_type, torch.float32, 'mixed precision off')
    if device_type == 'cuda':
        bf16_ok, name = _cuda_bf16_native(torch.device(device))
        if mode == 'auto':
            if bf16_ok:
                return Precision('cuda', torch.bfloat16, f'GPU {name} supports bf16')
            return Precision('cuda', torch.float16,
                             f'GPU {name} has no bf16: fp16 with loss scaling')
        if mode == 'bf16' and not bf16_ok:
            raise PrecisionError(f'amp bf16 requested, but GPU {name} does not support bf16; '
                                 'use --amp fp16 (or --amp for the automatic choice)')
        return Precision('cuda', _DTYPES[mode], f'requested on GPU {name}')
    if device_type != 'cpu':
        raise PrecisionError(f'mixed precision is supported on CPU and CUDA devices, not on '
                             f'{device_type}')
    if mode == 'fp16':
        raise PrecisionError('amp fp16 requested on a CPU: fp16 autocast needs a CUDA GPU; '
                             'on a CPU use --amp (bf16 where the CPU has bf16 matrix units)')
    units = cpu_bf16_units()
    if mode == 'auto':
        if units:
            return Precision('cpu', torch.bfloat16, f'CPU bf16 matrix units: {units}')
        return Precision('cpu', torch.float32, 'CPU without bf16 matrix units',
                         warning='--amp: this CPU has no bf16 matrix units (no amx_bf16 or '
                                 'avx512_bf16 in /proc/cpuinfo); running in fp32, which is '
                                 'faster here than emulated bf16')
    if units:
        return Precision('cpu', torch.bfloat16, f'requested; CPU bf16 matrix units: {units}')
    return Precision('cpu', torch.bfloat16, 'requested; CPU without bf16 matrix units (emulated)',
                     warning='amp bf16 requested on a CPU without bf16 matrix units: bf16 is '
                             'emulated and several times slower than fp32 here')


def autocast_dtype(device_type: str) -> torch.dtype | None:
    """The dtype autocast casts to on ``device_type`` right now, or None when it is off."""
    if torch.is_autocast_enabled(device_type):
        return torch.get_autocast_dtype(device_type)
    return None


def autocast_off(device_type: str):
    """A context in which autocast is disabled on ``device_type``."""
    if device_type not in ('cpu', 'cuda') or not torch.is_autocast_enabled(device_type):
        return contextlib.nullcontext()
    return torch.autocast(device_type=device_type, enabled=False)


def full_precision(dtype: torch.dtype) -> torch.dtype:
    """The dtype that losses, softmax and label maps use next to tensors of ``dtype``:
    float64 stays float64, everything else (fp32, bf16, fp16) is float32."""
    return torch.float64 if dtype == torch.float64 else torch.float32


def apply_precision(cfg) -> Precision:
    """Resolve a training config's ``amp`` for this machine and set its optimiser wrapper.

    Mixed precision on a GPU uses mmengine's ``AmpOptimWrapper`` (bf16, or
    fp16 with a dynamic loss scaler); on a CPU, corrflow's
    ``CPUAutocastOptimWrapper`` (bf16, no scaler). In fp32 the wrapper is left
    as the config has it.

    Raises:
        PrecisionError: an impossible request (fp16 on a CPU, bf16 on a GPU
            without it) or an optimiser wrapper type that cannot autocast.
    """
    precision = resolve_precision(cfg.get('amp'))
    wrapper = cfg.optim_wrapper
    if not precision.enabled:
        return precision
    kind = wrapper.get('type', 'OptimWrapper')
    if kind not in ('OptimWrapper', 'AmpOptimWrapper', 'CPUAutocastOptimWrapper'):
        raise PrecisionError(f'amp: the optimiser wrapper {kind} of this config cannot be '
                             'switched to mixed precision; use OptimWrapper')
    if precision.device_type == 'cuda':
        wrapper.type = 'AmpOptimWrapper'
        wrapper.dtype = 'bfloat16' if precision.dtype == torch.bfloat16 else 'float16'
        wrapper.setdefault('loss_scale', 'dynamic')
    else:
        wrapper.type = 'CPUAutocastOptimWrapper'
        wrapper.dtype = 'bfloat16'
        wrapper.pop('loss_scale', None)
    return precision
