# Pixel baseline (mean Lab colour per stride-4 cell, no weights: checkpoint
# `none`) with the reduced-cost protocol B of corrflow_davis_topk_lite.py ('centred'
# rules; CRW's: pixel_lab_davis_crw_lite.py).
_base_ = ['./corrflow_davis_topk_lite.py']
model = dict(
    backbone=dict(_delete_=True, type='PixelColourEncoder', stride=4, colour_space='lab'),
    neck=None)
