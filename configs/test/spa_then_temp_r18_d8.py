# Spa-then-Temp ResNet-18 "d8" on DAVIS-2017 val under protocol B, as the reference
# tests it: layer3 at stride 8 (strides (1, 2, 2, 1), no max-pool: the training
# strides up to layer3); normalised Lab input without channel dropout; L2-normalised
# features, temperature 0.07, top-10 over frame 0 + 20 preceding frames, radius 12
# cells (+-96 px); short side 480. A trained student (or a release converted by
# tools/convert_spa_then_temp_checkpoint.py) loads as it is; its layer4 is unused.
_base_ = [
    '../_base_/datasets/davis_test.py',
    '../_base_/default_runtime.py',
]
model = dict(
    type='LabelPropagator',
    backbone=dict(type='TorchvisionResNet', depth=18, strides=(1, 2, 2, 1), out_stage=3,
                  stem_pool='none'),
    neck=None,
    colour_space='lab',
    mean=(50.0, 0.0, 0.0),
    std=(50.0, 127.0, 127.0),
    propagation=dict(type='TopKMemoryPropagation', radius=12, num_context=20, topk=10,
                     temperature=0.07, preset='spa_then_temp'),
    input_size=480,
    size_divisor=8,
)
