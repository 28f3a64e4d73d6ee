# Pixel baseline with raw Lab dot products, protocol A: the feature of a stride-4
# cell is its mean Lab colour (no learned weights; pass `none` as the
# checkpoint), propagated exactly as corrflow_davis.py: previous frame, hard
# labels, raw dot products, R=6, no temperature. Raw dot products of Lab colour
# favour bright keys (L up to 100), so this is a weak baseline; see
# pixel_lab_l2_davis.py for the fair one.
_base_ = ['./corrflow_davis.py']
model = dict(
    backbone=dict(_delete_=True, type='PixelColourEncoder', stride=4, colour_space='lab'),
    neck=None)
