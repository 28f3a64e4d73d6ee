# Ablation of corrflow_r18_davis16.py "w/o colour dropout": the input frames keep
# all three colour channels (the colour jitter stays). Everything else, the
# budget included, is the full recipe's.
_base_ = ['../corrflow_r18_davis16.py']
model = dict(bottleneck=dict(keep_prob=1.0))
