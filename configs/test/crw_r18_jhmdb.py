# CRW's ResNet-18 on JHMDB split-1 test (pose keypoints): protocol B's JHMDB settings
# at CRW's temperature (its README: the training temperature is the test's): 320x320,
# +-5 cells at stride 8, frame 0 + 20 preceding frames, top-10, temperature 0.05;
# Gaussian seeds of sigma 4 px at the original resolution, soft-argmax read-out over
# the top-5 cells; PCK skips frame 0. Published: PCK@0.1 59.3, @0.2 84.9.
_base_ = [
    '../_base_/datasets/jhmdb_test.py',
    '../_base_/default_runtime.py',
]
model = dict(
    type='LabelPropagator',
    backbone=dict(type='TorchvisionResNet', depth=18, strides=(1, 2, 1, 1), out_stage=3,
                  padding_mode='reflect'),
    neck=None,
    mean=(0.485, 0.456, 0.406),
    std=(0.229, 0.224, 0.225),
    propagation=dict(type='TopKMemoryPropagation', preset='crw', radius=5, num_context=20,
                     topk=10, temperature=0.05),
    input_size=(320, 320),
    size_divisor=8,
    keypoint_sigma=4.0,
    keypoint_topk=5,
)
