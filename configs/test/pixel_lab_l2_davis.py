# Pixel baseline with L2-normalised Lab and a temperature, protocol A: the mean Lab colour
# of each stride-4 cell scaled to unit length, affinities (cosine similarities) divided by
# T = 1e-5, otherwise propagated exactly as corrflow_davis.py (CorrFlow's rules: previous
# frame, hard labels, R=6). No learned weights: pass `none` as the checkpoint.
#
# How T was chosen, without the scores it is reported with: a sweep at short side 240 on
# the DAVIS subset (15 DAVIS-2017 val sequences with their DAVIS-2016 single-object
# annotations; T = 1e-6 ... 3e-3, benchmarks/results/davis16_zoo/pixel_l2_corrflow/),
# scored leave-one-sequence-out by tools/analysis/select_temperature.py: every held-out
# sequence gets the T that is best on the other 14. All 15 folds chose 1e-5, so the
# cross-validated J&F (0.4495) is the score of this config at 240, and 1e-5 is the T for
# other data. (Under the earlier centred rules the same sweep chose 3e-4.)
_base_ = ['./corrflow_davis.py']
model = dict(
    backbone=dict(_delete_=True, type='PixelColourEncoder', stride=4, colour_space='lab',
                  normalise=True),
    neck=None,
    propagation=dict(temperature=1e-5))
