"""Collation that keeps every data sample a plain dict."""
from __future__ import annotations

from typing import Sequence

from corrflow.registry import FUNCTIONS

__all__ = ['sample_list_collate']


@FUNCTIONS.register_module()
def sample_list_collate(batch: Sequence[dict]) -> dict:
    """Gather ``inputs`` and ``data_samples`` of a batch into two lists.

    mmengine's ``pseudo_collate`` merges dict samples field by field and
    transposes nested sequences (frame indices, shapes); corrflow's data
    preprocessors take a list of per-sample dicts instead, and stack the
    inputs themselves.
    """
    return dict(inputs=[item['inputs'] for item in batch],
                data_samples=[item['data_samples'] for item in batch])
