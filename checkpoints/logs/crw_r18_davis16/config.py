amp = None
auto_scale_lr = dict(base_batch_size=2, enable=False)
crw_pipeline = [
    dict(type='LoadClipFrames'),
    dict(short_side=256, type='RescaleClip'),
    dict(
        per_frame=True,
        ratio=(
            0.7,
            1.3,
        ),
        scale=(
            0.8,
            0.95,
        ),
        size=(
            256,
            256,
        ),
        type='RandomResizedCropClip'),
    dict(scale=(
        0.7,
        0.9,
    ), size=64, stride=32, type='PatchGrid'),
    dict(type='PackClipInputs'),
]
custom_hooks = [
    dict(type='VideoProgressHook'),
    dict(num_batches=40, type='PreciseBNHook'),
]
default_hooks = dict(
    checkpoint=dict(
        by_epoch=False, interval=200, max_keep_ckpts=2, type='CheckpointHook'),
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
        depth=18,
        out_stage=3,
        padding_mode='reflect',
        strides=(
            1,
            2,
            1,
            1,
        ),
        type='TorchvisionResNet'),
    data_preprocessor=dict(type='ClipDataPreprocessor'),
    feature_dropout=0.0,
    head=dict(
        depth=0, in_channels=256, out_channels=128, type='NodeProjection'),
    loss=dict(
        edge_dropout=0.1,
        temperature=0.05,
        type='CycleWalkLoss',
        walk_lengths=None),
    propagation=dict(
        input_size=480,
        propagation=dict(
            num_context=20,
            preset='crw',
            radius=12,
            temperature=0.05,
            topk=10,
            type='TopKMemoryPropagation')),
    propagation_stage=3,
    type='CRW')
optim_wrapper = dict(
    optimizer=dict(
        betas=(
            0.9,
            0.999,
        ), lr=0.0003, type='Adam', weight_decay=0.0),
    type='OptimWrapper')
param_scheduler = [
    dict(
        by_epoch=False, gamma=0.5, milestones=[
            600,
            800,
        ], type='MultiStepLR'),
]
randomness = dict(deterministic=False, seed=0)
resume = False
runner_type = 'CorrflowRunner'
test_config = 'configs/test/crw_r18_davis.py'
train_cfg = dict(max_iters=1000, type='ResumableIterBasedTrainLoop')
train_dataloader = dict(
    batch_size=2,
    collate_fn=dict(type='corrflow.sample_list_collate'),
    dataset=dict(
        datasets=[
            dict(
                clip_length=4,
                data_prefix=dict(img='davis2016-train-256/JPEGImages'),
                data_root='../shared/data',
                frames_fps=24.0,
                pipeline=[
                    dict(type='LoadClipFrames'),
                    dict(short_side=256, type='RescaleClip'),
                    dict(
                        per_frame=True,
                        ratio=(
                            0.7,
                            1.3,
                        ),
                        scale=(
                            0.8,
                            0.95,
                        ),
                        size=(
                            256,
                            256,
                        ),
                        type='RandomResizedCropClip'),
                    dict(
                        scale=(
                            0.7,
                            0.9,
                        ),
                        size=64,
                        stride=32,
                        type='PatchGrid'),
                    dict(type='PackClipInputs'),
                ],
                target_fps=8.0,
                type='VideoFolder'),
            dict(
                clip_length=4,
                data_prefix=dict(img='raw-videos'),
                data_root='../shared/data',
                pipeline=[
                    dict(type='LoadClipFrames'),
                    dict(short_side=256, type='RescaleClip'),
                    dict(
                        per_frame=True,
                        ratio=(
                            0.7,
                            1.3,
                        ),
                        scale=(
                            0.8,
                            0.95,
                        ),
                        size=(
                            256,
                            256,
                        ),
                        type='RandomResizedCropClip'),
                    dict(
                        scale=(
                            0.7,
                            0.9,
                        ),
                        size=64,
                        stride=32,
                        type='PatchGrid'),
                    dict(type='PackClipInputs'),
                ],
                target_fps=8.0,
                type='VideoFolder'),
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
work_dir = 'work_dirs/runs/crw'
