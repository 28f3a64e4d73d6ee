# CorrFlow (Lai & Xie, BMVC 2019): ResNet-18 variant at stride 4, 64-d embedding,
# restricted attention R=6, colour-dropout/jitter bottleneck, recursive loss.
model = dict(
    type='RecursiveFlow',
    data_preprocessor=dict(type='ClipDataPreprocessor'),
    backbone=dict(type='CorrFlowResNet', channels=(64, 128, 256, 256), strides=(1, 2, 1, 1)),
    neck=dict(type='EmbeddingProjection', in_channels=256, out_channels=64, kernel_size=3),
    head=dict(type='RestrictedAttentionHead', radius=6, stride=4, label_downsample='strided'),
    bottleneck=dict(
        type='ColourBottleneck', keep_prob=0.3, drop_counts=(1, 2), draw='iteration',
        jitter_prob=0.1, brightness=0.1, contrast=0.1, saturation=0.1, hue=0.1),
    num_classes=None,  # the number of centroids of the pipeline's QuantiseColour (16 built in)
    cycle_weight=0.1,
    sampling_start=0.9,
    sampling_end=0.6,
    sampling_draw='iteration',
)
