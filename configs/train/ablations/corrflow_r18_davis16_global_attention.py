# Ablation of corrflow_r18_davis16.py "w/o restricted attention": every target
# cell attends to all cells of the reference crop (32x32 at stride 4 for the
# 128x128 crops) instead of a 13x13 window. Everything else is the full recipe's.
_base_ = ['../corrflow_r18_davis16.py']
model = dict(head=dict(_delete_=True, type='GlobalAttentionHead', stride=4,
                       label_downsample='strided'))
