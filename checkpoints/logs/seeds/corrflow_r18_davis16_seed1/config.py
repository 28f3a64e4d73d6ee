amp = None
auto_scale_lr = dict(base_batch_size=6, enable=False)
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
    dict(interval=250, type='ReconstructionVisualizationHook'),
    dict(type='VideoProgressHook'),
]
default_hooks = dict(
    checkpoint=dict(
        by_epoch=False,
        interval=250,
        max_keep_ckpts=2,
        rule='greater',
        save_best=None,
        type='CheckpointHook'),
    logger=dict(interval=10, type='LoggerHook'),
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
max_iters = 1000
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
    bn_stats='clean',
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
    num_classes=None,
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
        by_epoch=False, gamma=0.5, milestones=[
            500,
            750,
        ], type='MultiStepLR'),
]
randomness = dict(deterministic=False, seed=1)
resume = False
train_cfg = dict(
    max_iters=1000, type='ResumableIterBasedTrainLoop', val_interval=1000)
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
val_cfg = None
val_dataloader = None
val_evaluator = None
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
work_dir = 'work_dirs/runs/corrflow_seed1'
