clip_pipeline = [
    dict(type='LoadClipFrames'),
    dict(short_side=256, type='RescaleClip'),
    dict(size=(
        128,
        128,
    ), type='RandomCropClip'),
    dict(centroids=None, type='QuantiseColour'),
    dict(type='PackClipInputs'),
]
custom_hooks = [
    dict(type='ScheduledSamplingHook'),
    dict(interval=500, type='ReconstructionVisualizationHook'),
]
default_hooks = dict(
    checkpoint=dict(
        by_epoch=False,
        interval=500,
        max_keep_ckpts=3,
        rule='greater',
        save_best='davis/J&F-Mean',
        type='CheckpointHook'),
    logger=dict(interval=50, type='LoggerHook'),
    param_scheduler=dict(type='ParamSchedulerHook'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    timer=dict(type='IterTimerHook'))
default_scope = 'corrflow'
env_cfg = dict(
    cudnn_benchmark=False,
    dist_cfg=dict(backend='nccl'),
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0))
launcher = 'none'
load_from = None
log_level = 'INFO'
log_processor = dict(by_epoch=False, type='LogProcessor', window_size=20)
max_iters = 4000
model = dict(
    backbone=dict(
        channels=(
            64,
            128,
            256,
            256,
        ),
        strides=(
            1,
            2,
            1,
            1,
        ),
        type='CorrFlowResNet'),
    bottleneck=dict(
        brightness=0.1,
        contrast=0.1,
        draw='iteration',
        drop_counts=(
            1,
            2,
        ),
        hue=0.1,
        jitter_prob=0.1,
        keep_prob=0.3,
        saturation=0.1,
        type='ColourBottleneck'),
    cycle_weight=0.1,
    data_preprocessor=dict(type='ClipDataPreprocessor'),
    head=dict(
        label_downsample='strided',
        radius=6,
        stride=4,
        type='RestrictedAttentionHead'),
    neck=dict(
        in_channels=256,
        kernel_size=3,
        out_channels=64,
        type='EmbeddingProjection'),
    num_classes=16,
    sampling_draw='iteration',
    sampling_end=0.6,
    sampling_start=0.9,
    type='RecursiveFlow')
optim_wrapper = dict(
    optimizer=dict(
        betas=(
            0.9,
            0.999,
        ), lr=0.0005, type='Adam', weight_decay=0.0),
    type='OptimWrapper')
param_scheduler = [
    dict(
        by_epoch=False,
        gamma=0.5,
        milestones=[
            2000,
            3000,
        ],
        type='MultiStepLR'),
]
randomness = dict(deterministic=False, seed=0)
resume = False
train_cfg = dict(
    max_iters=4000, type='ResumableIterBasedTrainLoop', val_interval=1000)
train_dataloader = dict(
    batch_size=6,
    collate_fn=dict(type='corrflow.sample_list_collate'),
    dataset=dict(
        datasets=[
            dict(
                clip_length=3,
                data_prefix=dict(img='davis2016-train-256/JPEGImages'),
                data_root='../shared/data',
                frames_fps=24.0,
                pipeline=[
                    dict(type='LoadClipFrames'),
                    dict(short_side=256, type='RescaleClip'),
                    dict(size=(
                        128,
                        128,
                    ), type='RandomCropClip'),
                    dict(centroids=None, type='QuantiseColour'),
                    dict(type='PackClipInputs'),
                ],
                target_fps=6.0,
                type='VideoFolder'),
            dict(
                clip_length=3,
                data_prefix=dict(img='raw-videos'),
                data_root='../shared/data',
                pipeline=[
                    dict(type='LoadClipFrames'),
                    dict(short_side=256, type='RescaleClip'),
                    dict(size=(
                        128,
                        128,
                    ), type='RandomCropClip'),
                    dict(centroids=None, type='QuantiseColour'),
                    dict(type='PackClipInputs'),
                ],
                target_fps=6.0,
                type='VideoFolder'),
        ],
        type='ConcatDataset'),
    num_workers=1,
    persistent_workers=True,
    sampler=dict(shuffle=True, type='ResumableInfiniteSampler'))
val_cfg = dict(type='ValLoop')
val_dataloader = dict(
    batch_size=1,
    collate_fn=dict(type='corrflow.sample_list_collate'),
    dataset=dict(
        ann_file='ImageSets/2017/val.txt',
        data_root='../shared/data/davis2016-val-subset',
        pipeline=[
            dict(type='LoadVideoFrames'),
            dict(type='LoadFirstFrameMask'),
            dict(type='PackVideoInputs'),
        ],
        sequences=[
            'blackswan',
            'car-shadow',
            'dog',
        ],
        type='DAVISVideos'),
    num_workers=1,
    persistent_workers=False,
    sampler=dict(shuffle=False, type='DefaultSampler'))
val_evaluator = dict(out_dir=None, type='DAVISMetric')
vis_backends = [
    dict(type='LocalVisBackend'),
    dict(type='TensorboardVisBackend'),
]
visualizer = dict(
    name='visualizer',
    type='Visualizer',
    vis_backends=[
        dict(type='LocalVisBackend'),
        dict(type='TensorboardVisBackend'),
    ])
work_dir = 'work_dirs/corrflow_r18_davis16'
