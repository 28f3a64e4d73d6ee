# CRW's ResNet-18 on DAVIS-2017 val under CRW's published protocol, as its README runs
# it (test.py --topk 10 --videoLen 20 --radius 12 --temperature 0.05 --cropSize -1):
# native 480p, layer3 at stride 8 (layer4 dropped), ImageNet normalisation, reflect
# padding, L2-normalised features, frame 0 + 20 preceding frames, top-10, radius 12
# cells (a disc), temperature 0.05 (the training temperature, as the README says), and
# the rules of its test code (preset 'crw': frame 0 unrestricted, the video front-padded
# with 20 copies of frame 0, bilinear seed, bilinear-then-nearest read-out).
# Loads a CRW training checkpoint, a release converted by
# tools/convert_crw_checkpoint.py, or the model zoo's file; layer4 and the head, which
# only training uses, are left out.
_base_ = [
    '../_base_/datasets/davis_test.py',
    '../_base_/default_runtime.py',
]
model = dict(
    type='LabelPropagator',
    backbone=dict(type='TorchvisionResNet', depth=18, strides=(1, 2, 1, 1), out_stage=3,
                  padding_mode='reflect'),
    neck=None,
    mean=(0.485, 0.456, 0.406),
    std=(0.229, 0.224, 0.225),
    propagation=dict(type='TopKMemoryPropagation', preset='crw', radius=12, num_context=20,
                     topk=10, temperature=0.05),
    input_size=480,
    size_divisor=8,
)
