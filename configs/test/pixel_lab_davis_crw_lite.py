# Pixel baseline (mean Lab colour per stride-4 cell, no weights: checkpoint `none`)
# under corrflow_davis_crw_lite.py (CRW's rules, reduced cost).
_base_ = ['./corrflow_davis_crw_lite.py']
model = dict(
    backbone=dict(_delete_=True, type='PixelColourEncoder', stride=4, colour_space='lab'),
    neck=None)
