# The reduced-cost TimeCycle encoder of configs/train/timecycle_r18_davis16.py
# (ResNet-18 to layer3 at stride 8, 1x1 conv to 512) under TimeCycle's own protocol.
_base_ = ['./timecycle_davis.py']
model = dict(backbone=dict(depth=18), neck=dict(in_channels=256))
