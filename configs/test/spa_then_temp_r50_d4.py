# Spa-then-Temp ResNet-50 "d4" on DAVIS-2017 val under protocol B, as the reference
# tests it: layer3 at stride 4 (strides (1, 1, 1, 1), the stem pool a 3x3 stride-2
# average pool); normalised Lab input without channel dropout; L2-normalised
# features, temperature 0.07, top-10 over frame 0 + 20 preceding frames, radius 35
# cells (+-140 px); short side 480. The same checkpoints load (the pool has no weights).
_base_ = [
    '../_base_/datasets/davis_test.py',
    '../_base_/default_runtime.py',
]
model = dict(
    type='LabelPropagator',
    backbone=dict(type='TorchvisionResNet', depth=50, strides=(1, 1, 1, 1), out_stage=3,
                  stem_pool='mean'),
    neck=None,
    colour_space='lab',
    mean=(50.0, 0.0, 0.0),
    std=(50.0, 127.0, 127.0),
    propagation=dict(type='TopKMemoryPropagation', radius=35, num_context=20, topk=10,
                     temperature=0.07, preset='spa_then_temp'),
    input_size=480,
    size_divisor=8,
)
