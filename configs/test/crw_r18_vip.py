# CRW's ResNet-18 on VIP val (body parts): protocol B's VIP settings at CRW's
# temperature (its README: the training temperature is the test's): 560x560 input,
# +-16 cells at stride 8, frame 0 + 20 preceding frames, top-10, temperature 0.05.
# Published mIoU 38.6.
_base_ = [
    '../_base_/datasets/vip_test.py',
    '../_base_/default_runtime.py',
]
model = dict(
    type='LabelPropagator',
    backbone=dict(type='TorchvisionResNet', depth=18, strides=(1, 2, 1, 1), out_stage=3,
                  padding_mode='reflect'),
    neck=None,
    mean=(0.485, 0.456, 0.406),
    std=(0.229, 0.224, 0.225),
    propagation=dict(type='TopKMemoryPropagation', preset='crw', radius=16, num_context=20,
                     topk=10, temperature=0.05),
    input_size=(560, 560),
    size_divisor=8,
)
