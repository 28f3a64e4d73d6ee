# Pixel baseline with L2-normalised Lab and a temperature, protocol A: the
# mean Lab colour of each stride-4 cell scaled to unit length, affinities (cosine
# similarities) divided by T = 0.07 (protocol B's temperature, fixed in advance),
# otherwise propagated exactly as corrflow_davis.py: previous frame, hard labels,
# R=6. No learned weights: pass `none` as the checkpoint.
_base_ = ['./corrflow_davis.py']
model = dict(
    backbone=dict(_delete_=True, type='PixelColourEncoder', stride=4, colour_space='lab',
                  normalise=True),
    neck=None,
    propagation=dict(temperature=0.07))
