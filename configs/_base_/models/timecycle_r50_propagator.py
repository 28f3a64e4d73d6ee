# The TimeCycle encoder (ResNet-50 to layer3 at stride 8, 1x1 conv to 512, ReLU) wrapped
# for label propagation with ImageNet input normalisation, under TimeCycle's own
# protocol: frames resized to a 320x320 square, front-padded with copies of frame 0,
# frame 0 + 7 preceding frames, top-5 per context frame, mean over the frames, soft
# labels fed back min-max normalised.
_base_ = ['./timecycle_r50.py']
model = dict(
    _delete_=True,
    type='LabelPropagator',
    backbone={{_base_.model.backbone}},
    neck={{_base_.model.neck}},
    mean=(0.485, 0.456, 0.406),
    std=(0.229, 0.224, 0.225),
    propagation=dict(type='TimeCyclePropagation', num_context=7, topk=5, scale=512 ** 0.5),
    input_size=(320, 320),  # (W, H): a square, as the original (also 400 and 480)
    size_divisor=8,
)
