# Ablation of corrflow_r18_davis16.py "w/o scheduled sampling": teacher forcing,
# every step copies from the previous frame's ground-truth colours (sampling
# probability 1 throughout). The cycle-consistency terms still run on the model's
# own predictions. Everything else is the full recipe's.
_base_ = ['../corrflow_r18_davis16.py']
model = dict(sampling_start=1.0, sampling_end=1.0)
