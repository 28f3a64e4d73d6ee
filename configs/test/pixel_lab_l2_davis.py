# Pixel baseline with L2-normalised Lab and a temperature, protocol A: the
# mean Lab colour of each stride-4 cell scaled to unit length, affinities (cosine
# similarities) divided by T = 0.0003, otherwise propagated exactly as
# corrflow_davis.py: previous frame, hard labels, R=6. No learned weights: pass
# `none` as the checkpoint.
# T is the best of a sweep on the DAVIS subset itself (15 DAVIS-2017 val sequences
# with their DAVIS-2016 single-object annotations) at short side 240: J&F 0.066,
# 0.138, 0.206, 0.279, 0.419, 0.483, 0.485 for T = 0.2, 0.07, 0.03, 0.01, 0.003,
# 0.001, 0.0003 (benchmarks/results/pixel_l2_sweep/). Chosen on the evaluation
# data, so it flatters the baseline, never the trained encoders it is compared with.
_base_ = ['./corrflow_davis.py']
model = dict(
    backbone=dict(_delete_=True, type='PixelColourEncoder', stride=4, colour_space='lab',
                  normalise=True),
    neck=None,
    propagation=dict(temperature=0.0003))
