# The reduced-cost TimeCycle encoder under protocol B-lite (timecycle_davis_topk_lite.py).
_base_ = ['./timecycle_davis_topk_lite.py']
model = dict(backbone=dict(depth=18), neck=dict(in_channels=256))
