# Ablation of corrflow_r18_davis16.py "w/o cycle consistency": the short-term
# reconstruction loss alone (cycle weight 0; the cycle terms are not computed).
# Everything else is the full recipe's.
_base_ = ['../corrflow_r18_davis16.py']
model = dict(cycle_weight=0.0)
