# Pixel baseline, protocol A: the feature of a stride-4 cell is its mean Lab
# colour (no learned weights; pass `none` as the checkpoint). Propagation exactly
# as corrflow_davis.py: previous frame, hard labels, raw dot products, R=6.
_base_ = ['./corrflow_davis.py']
model = dict(
    backbone=dict(_delete_=True, type='PixelColourEncoder', stride=4, colour_space='lab'),
    neck=None)
