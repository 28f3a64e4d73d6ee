# TimeCycle (Wang, Jabri & Efros, CVPR 2019): a ResNet-50 to layer3 with layer3 at
# stride 1 (output stride 8, no dilation), then a 1x1 conv to 512 and a ReLU (the
# features are L2-normalised where they are compared), and the transformation
# regressor on the affinity of a 10x10 patch against a 30x30 frame map (240x240
# frames, 80x80 patches at scale 1/3). Trained from scratch.
model = dict(
    type='TimeCycle',
    data_preprocessor=dict(type='ClipDataPreprocessor'),
    backbone=dict(type='TorchvisionResNet', depth=50, strides=(1, 2, 1, 1), out_stage=3),
    neck=dict(type='EmbeddingProjection', in_channels=1024, out_channels=512, kernel_size=1,
              bias=False, relu=True),
    tracker=dict(type='TransformRegressor', num_positions=900, patch_size=10, scale=1 / 3),
    patch_pixels=80,
    affinity_scale=512 ** 0.5,
    # 1: crops and inlier mass in the convention of the pixel patch and the grid loss;
    # the original scales the translation of its feature crops by 227/210
    # (corrflow.models.layers.affine.TIMECYCLE_TRANSLATION_FACTOR)
    translation_factor=1.0,
    long_weight=0.02,
    skip_weight=0.1,
    sim_weight=1.0,
    grid_size=20,
    frozen_encoder_iters=0,
    # validation by TimeCycle's own protocol (configs/test/timecycle_davis.py)
    propagation=dict(propagation=dict(type='TimeCyclePropagation', num_context=7, topk=5),
                     input_size=(320, 320)),
)
