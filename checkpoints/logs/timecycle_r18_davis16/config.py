amp = None
auto_scale_lr = dict(base_batch_size=4, enable=False)
custom_hooks = [
    dict(type='VideoProgressHook'),
]
default_hooks = dict(
    checkpoint=dict(
        by_epoch=False, interval=250, max_keep_ckpts=2, type='CheckpointHook'),
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
    affinity_scale=22.627416997969522,
    backbone=dict(
        depth=18,
        out_stage=3,
        strides=(
            1,
            2,
            1,
            1,
        ),
        type='TorchvisionResNet'),
    data_preprocessor=dict(type='ClipDataPreprocessor'),
    frozen_encoder_iters=200,
    grid_size=20,
    long_weight=0.02,
    neck=dict(
        bias=False,
        in_channels=256,
        kernel_size=1,
        out_channels=512,
        relu=True,
        type='EmbeddingProjection'),
    patch_pixels=80,
    propagation=dict(
        input_size=(
            320,
            320,
        ),
        propagation=dict(num_context=7, topk=5, type='TimeCyclePropagation')),
    sim_weight=1.0,
    skip_weight=0.1,
    tracker=dict(
        num_positions=900,
        patch_size=10,
        scale=0.3333333333333333,
        type='TransformRegressor'),
    translation_factor=1.0,
    type='TimeCycle')
optim_wrapper = dict(
    clip_grad=dict(max_norm=10.0),
    optimizer=dict(
        betas=(
            0.5,
            0.999,
        ), lr=0.0002, type='Adam', weight_decay=0.0),
    type='OptimWrapper')
param_scheduler = []
randomness = dict(deterministic=False, seed=0)
resume = False
timecycle_pipeline = [
    dict(type='LoadClipFrames'),
    dict(short_side=256, type='RescaleClip'),
    dict(size=(
        240,
        240,
    ), type='RandomCropClip'),
    dict(prob=0.5, type='RandomFlipClip'),
    dict(
        grid=7,
        max_rotation=45.0,
        num_candidates=10,
        scale=0.3333333333333333,
        type='TimeCyclePatch'),
    dict(type='PackClipInputs'),
]
train_cfg = dict(max_iters=1000, type='ResumableIterBasedTrainLoop')
train_dataloader = dict(
    batch_size=4,
    collate_fn=dict(type='corrflow.sample_list_collate'),
    dataset=dict(
        datasets=[
            dict(
                data_prefix=dict(img='davis2016-train-256/JPEGImages'),
                data_root='../shared/data',
                frames_fps=24.0,
                pipeline=[
                    dict(type='LoadClipFrames'),
                    dict(short_side=256, type='RescaleClip'),
                    dict(size=(
                        240,
                        240,
                    ), type='RandomCropClip'),
                    dict(prob=0.5, type='RandomFlipClip'),
                    dict(
                        grid=7,
                        max_rotation=45.0,
                        num_candidates=10,
                        scale=0.3333333333333333,
                        type='TimeCyclePatch'),
                    dict(type='PackClipInputs'),
                ],
                target_fps=12.0,
                type='TimeCycleVideoFolder'),
            dict(
                data_prefix=dict(img='raw-videos'),
                data_root='../shared/data',
                pipeline=[
                    dict(type='LoadClipFrames'),
                    dict(short_side=256, type='RescaleClip'),
                    dict(size=(
                        240,
                        240,
                    ), type='RandomCropClip'),
                    dict(prob=0.5, type='RandomFlipClip'),
                    dict(
                        grid=7,
                        max_rotation=45.0,
                        num_candidates=10,
                        scale=0.3333333333333333,
                        type='TimeCyclePatch'),
                    dict(type='PackClipInputs'),
                ],
                target_fps=12.0,
                type='TimeCycleVideoFolder'),
        ],
        type='ConcatDataset'),
    num_workers=1,
    persistent_workers=True,
    sampler=dict(shuffle=True, type='ResumableInfiniteSampler'))
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
work_dir = 'work_dirs/runs/timecycle'
